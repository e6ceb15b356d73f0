/**
 * What a finished run leaves in the store besides its status: its results as one compact record
 * (see store/compact-results.ts), built from memory when it finishes, so no row is read back.
 */
import { compactResults, COMPACT_MAX_OPS, type CompactResults } from '../store/compact-results.js';
import { OpState, type ExpressionRun } from './expression-run.js';

/**
 * The compact record of a finishing run's stored results (ops in `Done`: their rows are durable;
 * a result still being written is left out and its row ignored); null for a run too big to
 * compact or with no operation.
 */
export function compactRun(run: ExpressionRun): CompactResults | null {
  if (run.total === 0 || run.total > COMPACT_MAX_OPS) return null;
  const done: {
    opId: number;
    value: string;
    agentId: string;
    attempt: number;
    finishedAt: number;
  }[] = [];
  for (let opId = 0; opId < run.total; opId += 1) {
    const value = run.resultOf(opId);
    if (run.stateOf(opId) !== OpState.Done || value === undefined) continue;
    done.push({
      opId,
      value,
      agentId: run.agentOf(opId) ?? '',
      attempt: run.attemptOf(opId),
      finishedAt: run.finishedAtOf(opId),
    });
  }
  return compactResults(done, run.total);
}
