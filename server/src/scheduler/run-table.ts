/**
 * The run table: unfinished expressions held in memory by id, counted per owner (for the
 * per-user limits), and the recently finished ones live views still show.
 */
import type { ExpressionRun } from './expression-run.js';

/** Finished runs kept briefly so live detail views can show their last state. */
export const RECENT_RUNS = 200;

/** Runs by id, with each owner's unfinished expressions and operations counted. */
export class RunTable {
  private readonly runs = new Map<string, ExpressionRun>();
  private readonly unfinished = new Map<string, number>();
  /** Operations of each owner's unfinished expressions, in all. */
  private readonly unfinishedOps = new Map<string, number>();
  /** Finished runs kept briefly so live detail views can show their last state. */
  private readonly recent = new Map<string, ExpressionRun>();

  /** The unfinished run `id`. */
  get(id: string): ExpressionRun | undefined {
    return this.runs.get(id);
  }

  /** Whether `id` is unfinished (in memory). */
  has(id: string): boolean {
    return this.runs.has(id);
  }

  /** The unfinished runs. */
  values(): IterableIterator<ExpressionRun> {
    return this.runs.values();
  }

  /** A live or recently finished run. */
  runOf(id: string): ExpressionRun | undefined {
    return this.runs.get(id) ?? this.recent.get(id);
  }

  /** Holds a run in memory until it finishes (counted per owner). */
  track(run: ExpressionRun): void {
    this.runs.set(run.id, run);
    const owner = run.stored.owner;
    if (owner === null) return;
    this.unfinished.set(owner, (this.unfinished.get(owner) ?? 0) + 1);
    this.unfinishedOps.set(owner, (this.unfinishedOps.get(owner) ?? 0) + run.total);
  }

  /** A run finished: no longer counted, kept a while among the recent ones. */
  retire(run: ExpressionRun): void {
    this.runs.delete(run.id);
    const owner = run.stored.owner;
    if (owner !== null) {
      const left = (this.unfinished.get(owner) ?? 1) - 1;
      if (left > 0) this.unfinished.set(owner, left);
      else this.unfinished.delete(owner);
      const ops = (this.unfinishedOps.get(owner) ?? run.total) - run.total;
      if (ops > 0 && left > 0) this.unfinishedOps.set(owner, ops);
      else this.unfinishedOps.delete(owner);
    }
    this.recent.set(run.id, run);
    if (this.recent.size > RECENT_RUNS) this.recent.delete(this.recent.keys().next().value!);
  }

  /** A finished expression was deleted: its last state is no longer shown. */
  forget(id: string): void {
    this.recent.delete(id);
  }

  /** Unfinished expressions of `owner` (for the per-user limit). */
  unfinishedOf(owner: string): number {
    return this.unfinished.get(owner) ?? 0;
  }

  /** Operations of `owner`'s unfinished expressions, in all (for the per-user limit). */
  unfinishedOpsOf(owner: string): number {
    return this.unfinishedOps.get(owner) ?? 0;
  }
}
