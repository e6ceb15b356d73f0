import type { Logger } from 'pino';
import { ExpressionistError, execute } from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { LeaseTable, Lease } from './lease-table.js';
import type { ResultWriter } from './result-writer.js';

/** What the orchestrator's own recomputation of an attempt gives. */
export type Recomputed = { value: string } | { error: ExpressionistError };

export type Verdict = 'accepted' | 'wrong' | { fails: ExpressionistError };

/**
 * Results of leased attempts: each is verified by recomputing it with core's `execute` (agents
 * run the same code, so a right answer is the very same string), and a verified value is stored
 * before it releases anything — an operation counts as done only once the store confirmed it.
 */
export class ResultPath {
  constructor(
    private readonly leases: LeaseTable,
    private readonly writer: ResultWriter,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Called once the verified value is durable. */
    private readonly onStored: (lease: Lease, value: string) => void,
  ) {}

  /** The attempt's right answer, or the deterministic failure it must end in. */
  recompute(lease: Lease): Recomputed {
    const { run, opId } = lease;
    const op = run.op(opId);
    try {
      return { value: execute(op.op, run.valueOf(op.a)!, run.valueOf(op.b)!) };
    } catch (err) {
      // Zero divisors never leave the orchestrator, so this is a result beyond what exact
      // arithmetic supports: no agent and no retry can ever produce it.
      if (err instanceof ExpressionistError) return { error: err };
      throw err;
    }
  }

  /**
   * Compares an answer with the recomputed value; on a match ends the lease and queues the value
   * for storage (`then` runs once it is stored).
   */
  check(lease: Lease, matches: (expected: string) => boolean, then?: () => void): Verdict {
    const expected = this.recompute(lease);
    if ('error' in expected) return { fails: expected.error };
    if (!matches(expected.value)) {
      this.metrics.opsRejected.inc({ reason: 'wrong_value' });
      this.log.warn({ taskId: lease.taskId, agent: lease.agent.name }, 'wrong result');
      return 'wrong';
    }
    this.accept(lease, expected.value, then);
    return 'accepted';
  }

  private accept(lease: Lease, value: string, then?: () => void): void {
    const now = Date.now();
    const { run, opId } = lease;
    this.leases.release(lease);
    lease.agent.credit();
    run.markStoring(opId);
    this.metrics.opLatency.observe((now - lease.dispatchedAt) / 1000);
    this.writer.add(
      {
        expressionId: run.id,
        opId,
        value,
        agentId: lease.agent.id,
        attempt: lease.attempt,
        finishedAt: now,
      },
      () => {
        this.onStored(lease, value);
        then?.();
      },
    );
  }
}
