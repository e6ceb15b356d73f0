/**
 * The run finisher: ends an expression (done, failed or canceled), revokes its running attempts,
 * caches and stores the outcome and retires its run from the run table.
 */
import { ExpressionistError, errorInfo, type ExpressionView } from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { ResultCache } from '../result-cache.js';
import type { Store } from '../store/store.js';
import type { Agent } from './agent.js';
import type { ExpressionRun, RunEnd } from './expression-run.js';
import type { ExpressionWriter } from './expression-writer.js';
import { cacheableError } from './intake.js';
import type { Lease, LeaseTable } from './lease-table.js';
import type { RunTable } from './run-table.js';
import { compactRun } from './compaction.js';

/** What the run finisher works with. */
export interface FinisherParts {
  runs: RunTable;
  leases: LeaseTable;
  store: Store;
  cache: ResultCache;
  expressionWriter: ExpressionWriter;
  metrics: Metrics;
  /** The view `cancel` answers with. */
  viewOf(run: ExpressionRun): ExpressionView;
  operationsChanged(expressionId: string, opIds: readonly number[]): void;
  expressionChanged(id: string): void;
  agentChanged(agent: Agent): void;
  dispatchSoon(): void;
}

/** Ends runs: their outcome cached and stored, their leases revoked, the listener told. */
export class RunFinisher {
  constructor(private readonly p: FinisherParts) {}

  /**
   * Cancels an unfinished expression: drops its queued work and revokes running attempts.
   * `visible(owner)` false answers as if it did not exist.
   */
  async cancel(
    id: string,
    visible: (owner: string | null) => boolean = () => true,
  ): Promise<ExpressionView> {
    const run = this.p.runs.get(id);
    if (run && !visible(run.stored.owner))
      throw ExpressionistError.of('EXPRESSION_NOT_FOUND', { id });
    if (!run) {
      const stored = await this.p.store.getExpression(id);
      if (!stored || !visible(stored.owner))
        throw ExpressionistError.of('EXPRESSION_NOT_FOUND', { id });
      throw ExpressionistError.of('ALREADY_FINISHED', { id, status: stored.status });
    }
    this.finish(run, { status: 'canceled', error: errorInfo('EXPR_CANCELED', {}) });
    return this.p.viewOf(run);
  }

  /**
   * Cancels every unfinished expression of `owner` (their account was disabled or deleted);
   * returns how many.
   */
  cancelAllOf(owner: string): number {
    let canceled = 0;
    for (const run of [...this.p.runs.values()]) {
      if (run.stored.owner !== owner) continue;
      this.finish(run, { status: 'canceled', error: errorInfo('EXPR_CANCELED', {}) });
      canceled += 1;
    }
    return canceled;
  }

  /** Ends the expression of `lease` with a failure no retry can change (a result too large). */
  failDeterministic(lease: Lease, err: ExpressionistError): void {
    this.p.leases.release(lease);
    const op = lease.run.op(lease.opId);
    this.p.metrics.opsFailed.inc({ reason: err.code });
    this.finish(lease.run, {
      status: 'error',
      error: errorInfo(
        'EXPR_RESULT_TOO_LARGE',
        { op: op.op, column: op.opPos, reason: err.message },
        op.opPos,
      ),
      cacheable: true,
    });
  }

  finish(run: ExpressionRun, end: RunEnd): void {
    if (run.finished) return;
    const now = Date.now();
    const revokeByAgent = new Map<Agent, string[]>();
    for (const lease of this.p.leases.ofRun(run)) {
      this.p.leases.release(lease);
      const ids = revokeByAgent.get(lease.agent) ?? [];
      ids.push(lease.taskId);
      revokeByAgent.set(lease.agent, ids);
    }
    for (const [agent, ids] of revokeByAgent) {
      agent.channel?.revoke(ids);
      this.p.agentChanged(agent);
    }
    const changed = run.finish(end, now);
    const stored = run.stored;
    if (end.status === 'done')
      this.p.cache.set(stored.owner, stored.normalized, { value: end.value });
    else if (end.cacheable)
      this.p.cache.set(
        stored.owner,
        stored.normalized,
        cacheableError(stored.expression, end.error),
      );
    const results = compactRun(run);
    this.p.expressionWriter.write(run.id, {
      status: stored.status,
      value: stored.value,
      error: stored.error,
      startedAt: stored.startedAt,
      finishedAt: now,
      ...(results ? { results } : {}),
    });
    this.p.metrics.expressionLatency.observe((now - stored.createdAt) / 1000);
    this.p.runs.retire(run);
    if (changed.length > 0) this.p.operationsChanged(run.id, changed);
    this.p.expressionChanged(run.id);
    this.p.dispatchSoon();
  }
}
