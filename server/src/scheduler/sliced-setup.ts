/**
 * Sliced setup: a big run's indexes and ready operations are set up a slice per event-loop turn,
 * so nothing else waits on it for more than a slice.
 */
import type { ExpressionRun } from './expression-run.js';

/**
 * Operations per setup slice: each slice is one walk over this many ops (typed arrays only), or
 * the readying of their ready ones: 0.2–1 ms of CPU on the 2-core EPYC of BENCHMARKS.md, up to
 * ~20 ms of wall clock when that machine is loaded.
 */
export const SETUP_SLICE_OPS = 8192;

/** What the sliced setup needs from the write path. */
export interface SetupHooks {
  /** Queues a ready op without telling the listener; returns whether it was queued. */
  enqueueReady(run: ExpressionRun, opId: number): boolean;
  operationsChanged(expressionId: string, opIds: readonly number[]): void;
  expressionChanged(id: string): void;
  dispatchSoon(): void;
}

/**
 * Sets up a big run a slice per event-loop turn, so nothing else waits on it for more than a
 * slice: first its indexes (`ExpressionRun.setUp`), then its ready operations, in id order (the
 * first ones are dispatched while later slices are readied). The run is tracked from the start:
 * views show it pending with nothing done, and a cancel (or a zero divisor found while readying)
 * ends it, which stops the setup. An op that becomes ready meanwhile because its inputs were
 * computed is readied by `onStored`; the walk skips it (it is no longer Waiting).
 */
export function setUpInSlices(run: ExpressionRun, slice: number, hooks: SetupHooks): void {
  let next = 0;
  const step = (): void => {
    if (run.finished) return;
    if (!run.setUp(slice)) {
      setImmediate(step);
      return;
    }
    const to = Math.min(run.total, next + slice);
    const readied: number[] = [];
    for (; next < to && !run.finished; next += 1)
      if (run.isComputable(next) && hooks.enqueueReady(run, next)) readied.push(next);
    if (readied.length > 0) {
      hooks.operationsChanged(run.id, readied);
      hooks.dispatchSoon();
    }
    if (next < run.total && !run.finished) setImmediate(step);
    else hooks.expressionChanged(run.id);
  };
  setImmediate(step);
}
