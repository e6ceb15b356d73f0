/**
 * The result path: verify an agent's result by recomputing it, store it, then release its lease.
 */
import type { Logger } from 'pino';
import { ExpressionistError, decimalEquals, execute, type TaskResult } from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { Agent } from './agent.js';
import type { LeaseTable, Lease } from './lease-table.js';
import type { ResultWriter } from './result-writer.js';

/** What the orchestrator's own recomputation of an attempt gives. */
export type Recomputed = { value: string } | { error: ExpressionistError };

export type Verdict = 'accepted' | 'wrong' | { fails: ExpressionistError };

/** What the write path does with the outcomes. */
export interface ResultHooks {
  /** The verified value is durable. */
  onStored(lease: Lease, value: string): void;
  /** No agent and no retry can ever produce this result (the orchestrator's own verdict). */
  failDeterministic(lease: Lease, err: ExpressionistError): void;
  quarantine(agent: Agent, reason: string): void;
  /**
   * The holder failed the attempt in a way the orchestrator cannot reproduce: an error report
   * for an operation that computes fine here (a crashed worker and a liar look the same), or a
   * guest's wrong value (a guest can shed its identity, so it is not quarantined). Charged to
   * its actor; the task goes to another. Never fails the expression.
   */
  fault(lease: Lease, reason: 'agent_error' | 'wrong_result'): void;
}

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
    private readonly hooks: ResultHooks,
  ) {}

  /**
   * A batch of results from a socket agent. Only the current attempt of a lease the agent holds
   * counts (fencing). An error report is judged by recomputing the operation: a failure the
   * orchestrator reproduces ends the expression with the orchestrator's own error; anything
   * else is the agent's fault (`ResultHooks.fault`) and its words reach nobody. A wrong value
   * quarantines the agent's identity and ends the batch (a guest's is a fault instead).
   */
  acceptBatch(agent: Agent, results: readonly TaskResult[]): void {
    agent.seen(Date.now());
    for (const result of results) {
      const lease = this.leases.current(result.taskId, agent, result.attempt);
      if (!lease) {
        // A late answer of an attempt that was taken back, or a duplicate.
        this.metrics.opsRejected.inc({ reason: 'stale' });
        continue;
      }
      if ('error' in result) {
        this.metrics.opsRejected.inc({ reason: 'agent_error' });
        this.agentFailed(lease, result.error.code);
        continue;
      }
      const verdict = this.check(
        lease,
        (expected) => expected === result.value || decimalEquals(expected, result.value),
      );
      if (verdict === 'wrong') {
        if (agent.identity === null) {
          this.hooks.fault(lease, 'wrong_result');
          continue;
        }
        this.hooks.quarantine(agent, `returned ${result.value} for task ${lease.taskId}`);
        return;
      }
      if (verdict !== 'accepted') this.hooks.failDeterministic(lease, verdict.fails);
    }
  }

  /**
   * An agent reported an error (`code` is only logged: an agent's words never reach a user). The
   * orchestrator computes the operation itself: a failure it confirms ends the expression at once
   * with its own error, whoever reported it; an unconfirmed report is the agent's fault.
   */
  private agentFailed(lease: Lease, code: string): void {
    const recomputed = this.recompute(lease);
    if ('error' in recomputed) {
      this.hooks.failDeterministic(lease, recomputed.error);
      return;
    }
    this.log.info(
      { taskId: lease.taskId, agent: lease.agent.name, code },
      'an agent reported an error the orchestrator does not reproduce; charged to the agent',
    );
    this.hooks.fault(lease, 'agent_error');
  }

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
        this.hooks.onStored(lease, value);
        then?.();
      },
    );
  }
}
