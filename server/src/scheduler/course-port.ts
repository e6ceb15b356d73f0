/**
 * The scheduler's port for the course protocol (course/): the narrow interface pulling agents work
 * through, owned by the scheduler, and its implementation.
 */
import type { ExpressionistError, Task } from '@expressionist/core';
import type { AgentLifecycle, AgentStanding } from './agent-lifecycle.js';
import type { Agent } from './agent-registry.js';
import type { ReadyQueue } from './ready-queue.js';
import type { ExpressionRun } from './expression-run.js';
import type { CourseTicket, Lease, LeaseTable } from './lease-table.js';
import type { ResultPath } from './results.js';

/**
 * The narrow interface the course HTTP protocol (course/) works through. The scheduler owns it;
 * the protocol registers its own rules through the last three methods.
 */
export interface CourseWork {
  readonly isAccepting: boolean;
  /** Whether any operation is waiting for an agent. */
  hasReady(): boolean;
  /** Joins/refreshes a pulling agent by its key ('crowded': see `AgentLifecycle.pulled`). */
  pulled(
    key: string,
    name: string,
    now: number,
    standing: AgentStanding,
  ): Agent | 'quarantined' | 'crowded';
  /** The agent with this key, if known. */
  agent(key: string): Agent | undefined;
  /** Leases the next ready operation `agent` may take, under `ticket`. */
  leaseNext(
    agent: Agent,
    ticket: CourseTicket,
    now: number,
  ): { lease: Lease; task: Task } | undefined;
  /** Checks a posted result; resolves once an accepted one is stored. */
  settle(lease: Lease, matches: (expected: string) => boolean): Promise<'accepted' | 'wrong'>;
  lease(courseId: number): Lease | undefined;
  /**
   * A wrong result from an agent whose identity cannot be held to account (a guest): charged to
   * its actor (its address) and retried elsewhere; a stranger's lie never fails the expression.
   */
  reject(lease: Lease): void;
  /** Resolves once the quarantine is stored. */
  quarantine(agent: Agent, reason: string): Promise<void>;
  /** The agent is gone (its connections closed with nothing in flight). */
  leave(agent: Agent, reason: string): void;
  agentChanged(agent: Agent): void;
  /**
   * `excuse(lease, early)` true: the expiry was the protocol's fault, not the agent's or the
   * op's. `early`: asked when a probe lease is overdue, before its deadline.
   */
  excuseExpiries(excuse: (lease: Lease, early: boolean) => boolean): void;
  /** How to read the sizes of the protocol's own tables (`tableSizes`). */
  describeTables(sizes: () => Record<string, number>): void;
  /** `forget(key)` runs when the agent `key` is no longer listed. */
  onForgotten(forget: (key: string) => void): void;
}

/** The parts of the write path the course protocol reaches. */
export interface CourseEngine {
  isOpen(): boolean;
  queue: ReadyQueue;
  agents: AgentLifecycle;
  leases: LeaseTable;
  results: ResultPath;
  assign(
    run: ExpressionRun,
    opId: number,
    agent: Agent,
    now: number,
    ticket: CourseTicket,
    loan: boolean,
  ): { lease: Lease; task: Task };
  /** Back to the ready queue, to be retried away from `avoid`; `counts`: as a failed attempt. */
  requeue(lease: Lease, reason: string, avoid: string, counts: boolean): void;
  /** The holder's own failure: charged to its actor, retried elsewhere. */
  fault(lease: Lease, reason: 'wrong_result'): void;
  failDeterministic(lease: Lease, err: ExpressionistError): void;
  dispatchSoon(): void;
  agentChanged(agent: Agent): void;
}

/**
 * The scheduler as pulling course agents see it: lease the next operation, settle a posted
 * result. Pull and push share the ready queue, the lease table and verification; only the way a
 * task travels differs.
 */
export class CoursePort implements CourseWork {
  private excuse: ((lease: Lease, early: boolean) => boolean) | undefined;
  private sizes: (() => Record<string, number>) | undefined;
  private forgotten: ((key: string) => void) | undefined;

  constructor(private readonly e: CourseEngine) {}

  get isAccepting(): boolean {
    return this.e.isOpen();
  }

  hasReady(): boolean {
    return !this.e.queue.isEmpty;
  }

  pulled(
    key: string,
    name: string,
    now: number,
    standing: AgentStanding,
  ): Agent | 'quarantined' | 'crowded' {
    return this.e.agents.pulled(key, name, now, standing);
  }

  agent(key: string): Agent | undefined {
    return this.e.agents.registry.get(key);
  }

  leaseNext(
    agent: Agent,
    ticket: CourseTicket,
    now: number,
  ): { lease: Lease; task: Task } | undefined {
    if (!this.e.isOpen() || this.e.queue.isEmpty) return undefined;
    const registry = this.e.agents.registry;
    // Beyond its window only when no socket agent of another actor could take the work now
    // (a window never idles a slot); such a loan goes elsewhere once it is overdue.
    const loan = !agent.canPull();
    if (loan && (!agent.canPullBeyond() || registry.otherCanTake(agent.actor))) return undefined;
    const next = this.e.queue.takeFor(agent.actor.key, (avoid) => registry.someoneElse(avoid));
    return next && this.e.assign(next.run, next.opId, agent, now, ticket, loan);
  }

  lease(courseId: number): Lease | undefined {
    return this.e.leases.byCourse(courseId);
  }

  settle(lease: Lease, matches: (expected: string) => boolean): Promise<'accepted' | 'wrong'> {
    return new Promise((resolve) => {
      const verdict = this.e.results.check(lease, matches, () => resolve('accepted'));
      if (verdict === 'wrong') {
        resolve('wrong');
        return;
      }
      if (verdict !== 'accepted') {
        this.e.failDeterministic(lease, verdict.fails);
        resolve('accepted');
      }
      this.e.agentChanged(lease.agent);
      this.e.dispatchSoon();
    });
  }

  reject(lease: Lease): void {
    this.e.fault(lease, 'wrong_result');
  }

  quarantine(agent: Agent, reason: string): Promise<void> {
    return this.e.agents.quarantine(agent, reason);
  }

  leave(agent: Agent, reason: string): void {
    this.e.agents.leave(agent, reason);
  }

  agentChanged(agent: Agent): void {
    this.e.agentChanged(agent);
  }

  excuseExpiries(excuse: (lease: Lease, early: boolean) => boolean): void {
    this.excuse = excuse;
  }

  describeTables(sizes: () => Record<string, number>): void {
    this.sizes = sizes;
  }

  onForgotten(forget: (key: string) => void): void {
    this.forgotten = forget;
  }

  /** The agent `key` is no longer listed: the protocol forgets what it knew of it. */
  forget(key: string): void {
    this.forgotten?.(key);
  }

  /** Sizes of the course protocol's tables (each must stay bounded whatever agents send). */
  tableSizes(): Record<string, number> {
    return this.sizes?.() ?? {};
  }

  /** Whether the course protocol excuses this expiry (see `excuseExpiries`). */
  excused(lease: Lease, early = false): boolean {
    return this.excuse?.(lease, early) ?? false;
  }
}
