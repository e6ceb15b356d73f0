/**
 * Ideal list schedules of a plan (the makespan no scheduler can beat), the benches' yardstick.
 */
import { durationOf, type OperatorDurations, type Plan } from '@expressionist/core';

/** Which ready operation a free slot takes. */
export type Policy =
  /** Longest path to the root first (Hu's "highest level first"). */
  | 'hlf'
  /** First ready, first served — the orchestrator's order within one expression. */
  | 'fifo';

/**
 * Makespan of a zero-overhead list schedule of `plan` on `slots` workers: whenever a slot is free
 * it takes a ready operation chosen by `policy`. A plan is an in-tree (every result feeds exactly
 * one operation), and for in-trees with equal operation times "highest level first" is optimal
 * (Hu, 1961) — so with all four durations equal, `'hlf'` is the best any scheduler can do, which
 * `makespanLowerBound` (max of critical path and work / P) does not always reach: a 16-term sum
 * on 4 slots needs 5 rounds, not 4. `'fifo'` models the orchestrator's own order, so measured ÷
 * fifo is the system's overhead and fifo ÷ hlf what the ready order costs.
 */
export function listScheduleMakespan(
  plan: Plan,
  durations: OperatorDurations,
  slots: number,
  policy: Policy,
): number {
  const n = plan.ops.length;
  if (n === 0) return 0;
  const duration = plan.ops.map((op) => durationOf(op.op, durations));
  const consumer = new Int32Array(n).fill(-1);
  const pending = new Int32Array(n);
  for (const op of plan.ops) {
    for (const input of [op.a, op.b]) {
      if (input.kind === 'op') {
        consumer[input.id] = op.id;
        pending[op.id]! += 1;
      }
    }
  }
  // Ids are topological (inputs before consumers), so walk backwards for the path to the root.
  const tail = new Float64Array(n);
  for (let id = n - 1; id >= 0; id -= 1)
    tail[id] = duration[id]! + (consumer[id]! >= 0 ? tail[consumer[id]!]! : 0);
  const ready: number[] = [];
  for (let id = 0; id < n; id += 1) if (pending[id] === 0) ready.push(id);
  // Running operations in start order; completions at the same instant release in that order.
  const running: { id: number; end: number }[] = [];
  let now = 0;
  let finished = 0;
  while (finished < n) {
    if (policy === 'hlf') ready.sort((x, y) => tail[y]! - tail[x]! || x - y);
    while (running.length < slots && ready.length > 0) {
      const id = ready.shift()!;
      running.push({ id, end: now + duration[id]! });
    }
    now = Math.min(...running.map((r) => r.end));
    const still: { id: number; end: number }[] = [];
    for (const r of running) {
      if (r.end !== now) {
        still.push(r);
        continue;
      }
      finished += 1;
      const next = consumer[r.id]!;
      if (next >= 0) {
        pending[next]! -= 1;
        if (pending[next] === 0) ready.push(next);
      }
    }
    running.splice(0, running.length, ...still);
  }
  return now;
}
