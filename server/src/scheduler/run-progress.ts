/**
 * Run progress: moves a run's operations forward — readied (unless a zero divisor ends the
 * expression), retried after a lost attempt, completed once stored (releasing their consumers).
 */
import { findZeroDivisor } from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { ExpressionRun } from './expression-run.js';
import { divZeroError } from './intake.js';
import type { Lease, LeaseTable } from './lease-table.js';
import type { ReadyQueue } from './ready-queue.js';
import type { RunFinisher } from './run-finisher.js';
import type { Throughput } from './throughput.js';

/** What run progress works with. */
export interface ProgressParts {
  queue: ReadyQueue;
  leases: LeaseTable;
  finisher: RunFinisher;
  metrics: Metrics;
  throughput: Throughput;
  /** Actors an operation's retries go around, at most. */
  maxAttempts: number;
  operationsChanged(expressionId: string, opIds: readonly number[]): void;
  expressionChanged(id: string): void;
  dispatchSoon(): void;
}

/** The transitions of operations the write path drives between intake and finish. */
export class RunProgress {
  constructor(private readonly p: ProgressParts) {}

  /** Queues an op whose inputs are known, unless a zero divisor ends the expression first. */
  makeReady(run: ExpressionRun, opId: number): void {
    if (this.enqueueReady(run, opId)) this.p.operationsChanged(run.id, [opId]);
  }

  /** `makeReady` without telling the listener; returns whether the op was queued. */
  enqueueReady(run: ExpressionRun, opId: number): boolean {
    if (run.finished) return false;
    if (run.operatorOf(opId) === '/') {
      // Regrouping can move a divisor into the numerator (`a/(b/0)` runs as `(a*0)/b`), so all
      // original divisor factors are checked, not just `b`.
      const position = findZeroDivisor(run.op(opId), (o) => run.valueOf(o) ?? '1');
      if (position !== undefined) {
        this.p.finisher.finish(run, {
          status: 'error',
          error: divZeroError(run.stored.expression, position),
          cacheable: true,
        });
        return false;
      }
    }
    run.markReady(opId);
    this.p.queue.enqueue(run);
    return true;
  }

  /**
   * Puts an attempt back in the ready queue. `counts` says whether it says something about the
   * operation (shown as a failed attempt; a lost connection does not). Nothing an agent does
   * fails an expression: only errors the orchestrator confirms itself do (`failDeterministic`).
   * `avoid` names the actor the retry should go around while another can take it.
   */
  requeue(lease: Lease, reason: string, counts: boolean, avoid?: string): void {
    this.p.leases.release(lease);
    const { run, opId } = lease;
    if (run.finished) return;
    run.retry(opId, counts, avoid, this.p.maxAttempts);
    this.p.metrics.opsRequeued.inc({ reason });
    this.makeReady(run, opId);
    this.p.dispatchSoon();
  }

  /** The verified result of `opId` is stored: the op is done, its ready consumers queued. */
  onStored(run: ExpressionRun, opId: number, value: string): void {
    this.p.throughput.count(Date.now());
    this.p.metrics.opsCompleted.inc();
    if (run.finished) return;
    const released = run.complete(opId, value, Date.now());
    this.p.operationsChanged(run.id, [opId]);
    if (run.isRoot(opId)) {
      this.p.finisher.finish(run, { status: 'done', value });
      return;
    }
    for (const consumer of released) this.makeReady(run, consumer);
    this.p.expressionChanged(run.id);
    this.p.dispatchSoon();
  }
}
