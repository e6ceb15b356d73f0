/**
 * Leases that went wrong: what the stalled checker does with expired and overdue leases, and an
 * agent's fault on a lease (an error or a guest's wrong value) charged to its actor.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { Actor } from './actor.js';
import type { AgentLifecycle } from './agent-lifecycle.js';
import type { Agent } from './agent.js';
import type { Lease, LeaseTable } from './lease-table.js';

/** What the lease expiry works with. */
export interface ExpiryParts {
  leases: LeaseTable;
  agents: AgentLifecycle;
  log: Logger;
  metrics: Metrics;
  /** Whether the course protocol excuses an expiry (`early`: overdue, before the deadline). */
  excused(lease: Lease, early?: boolean): boolean;
  /** Tasks in flight per worker slot (the dispatcher's prefetch depth). */
  depth(): number;
  /** Back to the ready queue (see `Scheduler.requeue`). */
  requeue(lease: Lease, reason: string, counts: boolean, avoid?: string): void;
  agentChanged(agent: Agent): void;
}

/** Takes back leases that expired, are overdue or were failed by their holder. */
export class LeaseExpiry {
  constructor(private readonly p: ExpiryParts) {}

  /**
   * The holder of `lease` failed it in a way the orchestrator cannot reproduce (an error report
   * whose operation computes fine here, a guest's wrong value): the agent's own failure, charged
   * to its actor like an expired lease, and the task goes to someone else.
   */
  fault(lease: Lease, reason: 'agent_error' | 'wrong_result'): void {
    const agent = lease.agent;
    this.p.requeue(lease, reason, true, agent.actor.key);
    this.p.agents.strike(agent, Date.now(), [lease.dispatchedAt]);
    this.p.agentChanged(agent);
  }

  /**
   * Overdue leases before their deadline. A course agent that never answered and cannot decode
   * its task's id type is told apart early (the protocol switches the type; no strike, no
   * attempt). A loan whose holder is overdue goes to an agent of another actor that is free now
   * (the holder may be slow, or silent: either way someone else can do it sooner); without one,
   * the loan stays and its lease expires as usual.
   */
  reclaimOverdue(leases: Lease[]): void {
    // Free slots per actor, counted once: at most as many loans are taken back as others can take
    // now (the dispatch that hands them out runs after this turn).
    let spare: Map<Actor, number> | undefined;
    for (const lease of leases) {
      if (this.p.leases.get(lease.taskId) !== lease) continue;
      const holder = lease.agent;
      if (lease.probe && this.p.excused(lease, true)) {
        this.p.log.info({ taskId: lease.taskId, agent: holder.name }, 'course id type switched');
        this.p.requeue(lease, 'course_id_type', false);
        this.p.agentChanged(holder);
        continue;
      }
      if (!lease.loan) continue;
      spare ??= this.p.agents.registry.spareByActor(this.p.depth());
      const taker = [...spare.keys()].find((actor) => actor !== holder.actor);
      if (taker === undefined) continue;
      const left = spare.get(taker)! - 1;
      if (left > 0) spare.set(taker, left);
      else spare.delete(taker);
      holder.channel?.revoke([lease.taskId]);
      this.p.log.debug({ taskId: lease.taskId, agent: holder.name }, 'overdue loan taken back');
      this.p.requeue(lease, 'loan_overdue', false, holder.actor.key);
      this.p.agentChanged(holder);
    }
  }

  /**
   * Stalled checker: an expired lease is revoked and retried on another actor's agent when one
   * exists. The expiry is a strike on its holder's actor. An expiry the course protocol excuses
   * (an id type the agent could not decode, or a guest whose connections all closed) is not.
   */
  onExpired(expired: Lease[], now: number): void {
    const strikes = new Map<Agent, number[]>();
    for (const lease of expired) {
      if (this.p.leases.get(lease.taskId) !== lease) continue;
      const agent = lease.agent;
      this.p.metrics.leasesExpired.inc({ kind: agent.kind });
      agent.channel?.revoke([lease.taskId]);
      const excused = this.p.excused(lease);
      this.p.log.info(
        { taskId: lease.taskId, attempt: lease.attempt, agent: agent.name, excused },
        'lease expired',
      );
      // An excused expiry says nothing against its actor: the retry need not go around it.
      this.p.requeue(lease, 'lease_expired', !excused, excused ? undefined : agent.actor.key);
      if (!excused) strikes.set(agent, [...(strikes.get(agent) ?? []), lease.dispatchedAt]);
      this.p.agentChanged(agent);
    }
    for (const [agent, sentAt] of strikes) this.p.agents.strike(agent, now, sentAt);
  }
}
