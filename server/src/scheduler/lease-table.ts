/**
 * Leases: every attempt in flight, its holder and deadline, fencing of results, the stalled checker.
 */
import type { Agent } from './agent-registry.js';
import type { ExpressionRun } from './expression-run.js';
import { NO_STALLS, type RunningClock } from './stall-monitor.js';

/**
 * How a pulling (course HTTP) agent knows its task: the id it was sent. How the id was spelled is
 * the protocol's own business (course/id-types.ts).
 */
export interface CourseTicket {
  id: number;
}

/** A leased attempt of one operation: who holds it, until when, and which attempt it is. */
export interface Lease {
  readonly taskId: string;
  readonly run: ExpressionRun;
  readonly opId: number;
  readonly attempt: number;
  readonly agent: Agent;
  readonly deadline: number;
  readonly dispatchedAt: number;
  /** The operation's modelled time the task was sent with (sent again with the same). */
  readonly durationMs: number;
  /** How a course HTTP agent knows the task (null for socket agents). */
  readonly course: CourseTicket | null;
  /**
   * Lent beyond the holder's window because nobody could take it within theirs: taken back once
   * it is `overdueAt` and another agent is free (see `Scheduler.reclaimOverdue`).
   */
  readonly loan: boolean;
  /**
   * A course agent's lease while it has never posted a result: once overdue, the protocol may
   * judge early that the agent cannot decode its id (see `CoursePort.excused`).
   */
  readonly probe: boolean;
  /** When an honest holder would have answered by: the operation's time plus a margin. */
  readonly overdueAt: number;
}

/**
 * Every attempt in flight. A result counts only when it names the current attempt of a lease its
 * sender holds (fencing); a periodic stalled checker hands expired leases back (BullMQ's
 * lock + stalled-jobs checker, in memory: leases die with the process, and recovery re-queues
 * whatever was in flight).
 */
export class LeaseTable {
  private readonly byTask = new Map<string, Lease>();
  private readonly byCourseId = new Map<number, Lease>();
  private timer: NodeJS.Timeout | undefined;

  /** `clock`: the orchestrator's own stalls, which no lease is charged for (see stall-monitor.ts). */
  constructor(private readonly clock: RunningClock = NO_STALLS) {}

  get size(): number {
    return this.byTask.size;
  }

  add(lease: Lease): void {
    this.byTask.set(lease.taskId, lease);
    if (lease.course) this.byCourseId.set(lease.course.id, lease);
    lease.agent.hold(lease.taskId);
  }

  get(taskId: string): Lease | undefined {
    return this.byTask.get(taskId);
  }

  /** The lease a course HTTP agent knows by `courseId`, if still in flight. */
  byCourse(courseId: number): Lease | undefined {
    return this.byCourseId.get(courseId);
  }

  /**
   * The lease `taskId` when `agent` holds its attempt `attempt`; undefined for a late answer of
   * an attempt that was taken back, a duplicate, or a sender that never held it.
   */
  current(taskId: string, agent: Agent, attempt: number): Lease | undefined {
    const lease = this.byTask.get(taskId);
    return lease && lease.agent === agent && lease.attempt === attempt ? lease : undefined;
  }

  /** Ends a lease (with or without a result). */
  release(lease: Lease): void {
    if (this.byTask.get(lease.taskId) !== lease) return;
    this.byTask.delete(lease.taskId);
    if (lease.course) this.byCourseId.delete(lease.course.id);
    lease.agent.drop(lease.taskId);
  }

  /** Leases of one expression. */
  ofRun(run: ExpressionRun): Lease[] {
    const found: Lease[] = [];
    for (const lease of this.byTask.values()) if (lease.run === run) found.push(lease);
    return found;
  }

  /** Leases one agent holds. */
  ofAgent(agent: Agent): Lease[] {
    return agent.heldTasks().flatMap((id) => this.byTask.get(id) ?? []);
  }

  /**
   * Starts the stalled checker: every `everyMs`, expired leases go to `onExpired`, and loans and
   * probes past their `overdueAt` (not yet expired) to `onOverdue`. Deadlines count only the time
   * the orchestrator was running: each is pushed back by the stalls since its dispatch, and the
   * verdict waits until the loop caught up, so a result that arrived during a stall is read first.
   */
  startChecker(
    everyMs: number,
    onExpired: (expired: Lease[], now: number) => void,
    onOverdue: (loans: Lease[], now: number) => void = () => undefined,
  ): void {
    this.stopChecker();
    this.timer = setInterval(() => {
      const due = this.due(Date.now());
      if (due.expired.length === 0 && due.overdue.length === 0) return;
      this.clock.afterCatchUp(() => {
        const now = Date.now();
        const expired = due.expired.filter((lease) => this.lapsed(lease, lease.deadline, now));
        const overdue = due.overdue.filter((lease) => this.lapsed(lease, lease.overdueAt, now));
        if (expired.length > 0) onExpired(expired, now);
        if (overdue.length > 0) onOverdue(overdue, now);
      });
    }, everyMs);
    this.timer.unref();
  }

  /** Leases whose deadline (or `overdueAt`) passed by the wall clock: candidates, not verdicts. */
  private due(now: number): { expired: Lease[]; overdue: Lease[] } {
    const expired: Lease[] = [];
    const overdue: Lease[] = [];
    for (const lease of this.byTask.values()) {
      if (lease.deadline <= now) expired.push(lease);
      else if ((lease.loan || lease.probe) && lease.overdueAt <= now) overdue.push(lease);
    }
    return { expired, overdue };
  }

  /** Whether `lease`, still in flight, is past `at` counting only the orchestrator's running time. */
  private lapsed(lease: Lease, at: number, now: number): boolean {
    if (this.byTask.get(lease.taskId) !== lease) return false;
    return at + this.clock.stalledSince(lease.dispatchedAt, now) <= now;
  }

  stopChecker(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
