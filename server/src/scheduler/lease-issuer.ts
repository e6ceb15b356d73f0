/**
 * The lease issuer: leases an operation to an agent — its opaque task id, deadline and overdue
 * time — and makes the task the agent is sent.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { durationOf, type Settings, type Task } from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { Agent } from './agent.js';
import type { ExpressionRun } from './expression-run.js';
import type { ExpressionWriter } from './expression-writer.js';
import type { CourseTicket, Lease, LeaseTable } from './lease-table.js';

/**
 * A loan is overdue this long (or half its operation's time, if more) after the operation's time:
 * a margin for the round trip of an agent on a slow network before its loan may go elsewhere.
 */
const LOAN_MARGIN_MS = 500;
/**
 * The same margin for a course agent's first leases (probes): a little wider, since judging one
 * overdue switches its task-id type.
 */
const PROBE_MARGIN_MS = 1000;

/** What the lease issuer works with. */
export interface IssuerParts {
  leases: LeaseTable;
  metrics: Metrics;
  expressionWriter: ExpressionWriter;
  leaseGraceMs: number;
  settings(): Settings;
  expressionChanged(id: string): void;
  operationsChanged(expressionId: string, opIds: readonly number[]): void;
}

/** Starts attempts: each one a lease in the lease table and a task for its agent. */
export class LeaseIssuer {
  /** Keys task ids (see `taskIdOf`). */
  private readonly taskKey = randomBytes(32);

  constructor(private readonly p: IssuerParts) {}

  /**
   * Leases `opId` to `agent` (socket push, or a course pull under `course`); `loan`: beyond its
   * window, because nobody could take it within theirs.
   */
  assign(
    run: ExpressionRun,
    opId: number,
    agent: Agent,
    now: number,
    course: CourseTicket | null,
    loan = false,
  ): { lease: Lease; task: Task } {
    const op = run.op(opId);
    const durationMs = durationOf(op.op, this.p.settings());
    const { attempt, started } = run.startAttempt(opId, agent.id, now);
    const lease: Lease = {
      taskId: this.taskIdOf(run.id, opId),
      run,
      opId,
      attempt,
      agent,
      deadline: now + durationMs + this.p.leaseGraceMs,
      dispatchedAt: now,
      durationMs,
      course,
      loan,
      probe: course !== null && !agent.proven,
      overdueAt:
        now +
        durationMs +
        Math.max(
          course !== null && !agent.proven ? PROBE_MARGIN_MS : LOAN_MARGIN_MS,
          durationMs / 2,
        ),
    };
    this.p.leases.add(lease);
    this.p.metrics.opsDispatched.inc({ kind: agent.kind });
    if (started) this.p.expressionWriter.write(run.id, { status: 'in_progress', startedAt: now });
    this.p.expressionChanged(run.id);
    this.p.operationsChanged(run.id, [opId]);
    return { lease, task: this.taskOf(lease) };
  }

  /** The task `lease` sends its agent (again, after a reconnection: see reconnect-grace.ts). */
  taskOf(lease: Lease): Task {
    const { run, opId } = lease;
    const op = run.op(opId);
    return {
      taskId: lease.taskId,
      attempt: lease.attempt,
      op: op.op,
      a: run.valueOf(op.a)!,
      b: run.valueOf(op.b)!,
      durationMs: lease.durationMs,
    };
  }

  /**
   * The id agents know a task by: opaque, the same for every attempt of one operation. An
   * expression id names its owner and their idempotency key (`<user>.<client id>`), which are not
   * an agent's business; an HMAC under a key of this process hides them and cannot be forged.
   */
  private taskIdOf(expressionId: string, opId: number): string {
    return createHmac('sha256', this.taskKey)
      .update(`${expressionId}:${opId}`)
      .digest('base64url')
      .slice(0, 22);
  }
}
