/**
 * The V8 heap-growth flag the orchestrator sets for HEAP_GROWING_PERCENT.
 */
import v8 from 'node:v8';

/** V8's option, spelled as node accepts it (dashes and underscores are the same to V8). */
const FLAG = /--heap[-_]growing[-_]percent\b/;

/**
 * The V8 flag the orchestrator sets for `HEAP_GROWING_PERCENT`, or null when it sets none: `0`
 * keeps V8's own growth, and a `--heap-growing-percent` given on the command line or in
 * `NODE_OPTIONS` wins over the variable.
 *
 * Why: under load V8 lets the old generation grow to several times its live data before a full
 * collection (bench 4: 190–220 MiB of heap over 60–80 MiB live), and that slack is most of the
 * orchestrator's RSS. A fixed growth factor bounds it without a heap cap, so nothing can die of
 * "heap out of memory" that would not have anyway; it costs more frequent full collections. Unlike
 * `--max-old-space-size` it is read at every collection, so the entry point can still set it.
 */
export function heapGrowingFlag(
  percent: number,
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string | null {
  if (percent === 0) return null;
  if (execArgv.some((a) => FLAG.test(a)) || FLAG.test(nodeOptions ?? '')) return null;
  return `--heap-growing-percent=${percent}`;
}

/** Applies `heapGrowingFlag` to this process; returns the flag it set, if any. */
export function applyHeapGrowing(percent: number): string | null {
  const flag = heapGrowingFlag(percent, process.execArgv, process.env.NODE_OPTIONS);
  if (flag !== null) v8.setFlagsFromString(flag);
  return flag;
}
