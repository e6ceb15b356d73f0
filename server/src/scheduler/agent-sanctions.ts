/**
 * Agent sanctions: strikes and cool-downs, quarantines and their release, an admin's kick and a
 * revoked credential — what its own failures (or an admin) cost an agent.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { StrikePolicy } from './actor.js';
import type { Agent } from './agent.js';
import type { AgentRegistry } from './agent-registry.js';
import type { Lease, LeaseTable } from './lease-table.js';

/** What sanctions work with: the agent lifecycle's registry, hooks and ways to cut an agent off. */
export interface SanctionParts {
  registry: AgentRegistry;
  leases: LeaseTable;
  store: Store;
  log: Logger;
  metrics: Metrics;
  policy: StrikePolicy;
  hooks: {
    requeue(lease: Lease, reason: string, counts: boolean, avoid?: string): void;
    capacityChanged(): void;
    agentRemoved(id: string): void;
  };
  /** Cuts an agent off: lost or quarantined, its work handed back (see `AgentLifecycle`). */
  lose(agent: Agent, status: 'lost' | 'quarantined', reason: string): void;
  /** The agent's view changed (`membership`: who is listed, for the gauges). */
  changed(agent: Agent, membership: boolean): void;
}

/** Quarantines, releases, kicks, revocations and strikes of agents. */
export class AgentSanctions {
  constructor(private readonly p: SanctionParts) {}

  /**
   * Cuts an agent off for a wrong result, and with it every agent holding the same identity (one
   * credential may run many processes): their work goes back to the queue, and the identity is
   * refused until an admin releases it. The quarantine is stored under the identity, so it holds
   * across restarts. A guest has no identity to hold to account: it is only disconnected (callers
   * refuse a guest's wrong result instead of quarantining it).
   */
  async quarantine(agent: Agent, reason: string): Promise<void> {
    if (agent.status === 'quarantined') return;
    const identity = agent.identity;
    if (identity === null) {
      const channel = agent.channel;
      this.p.lose(agent, 'lost', reason);
      channel?.close(reason);
      return;
    }
    this.p.registry.markQuarantined(identity, reason);
    const holders = this.p.registry.withIdentity(identity);
    for (const holder of holders) {
      if (holder.status === 'quarantined') continue;
      const channel = holder.channel;
      this.p.lose(holder, 'quarantined', reason);
      channel?.quarantine(reason);
    }
    const record = {
      agentId: identity,
      name: agent.name,
      kind: agent.kind,
      reason,
      at: Date.now(),
    };
    try {
      await this.p.store.saveQuarantine(record);
    } catch (err) {
      this.p.log.warn(
        { err, agent: agent.id, identity },
        'storing a quarantine failed; it holds until restart',
      );
    }
  }

  /**
   * Lifts a quarantine, named by a quarantined agent's id or by the identity itself (what a
   * restored quarantine is listed as): every agent listed under that identity is forgotten, so
   * they may join again. False if there was none.
   */
  async release(agentId: string): Promise<boolean> {
    const named = this.p.registry.get(agentId);
    const identity = named?.identity ?? agentId;
    const stored = await this.p.store.deleteQuarantine(identity);
    const marked = this.p.registry.unmarkQuarantined(identity);
    const listed = this.p.registry.withIdentity(identity).filter((a) => a.status === 'quarantined');
    if (named?.status === 'quarantined' && !listed.includes(named)) listed.push(named);
    for (const agent of listed) {
      this.p.registry.remove(agent.id);
      this.p.hooks.agentRemoved(agent.id);
    }
    if (listed.length === 0 && !marked) return stored;
    this.p.log.info({ agent: agentId, identity, agents: listed.length }, 'quarantine released');
    return true;
  }

  /**
   * An admin kicks a connected agent: it is cut off and its work reassigned at once. It may
   * reconnect (to keep it out, revoke its credential or quarantine it). False when it is not
   * connected.
   */
  kick(agentId: string): boolean {
    const agent = this.p.registry.get(agentId);
    if (!agent || agent.status === 'lost' || agent.status === 'quarantined') return false;
    const channel = agent.channel;
    this.p.lose(agent, 'lost', 'kicked by an admin');
    channel?.close('kicked by an admin');
    return true;
  }

  /**
   * The credential behind `identity` was revoked: every agent holding it is cut off now and its
   * work reassigned at once. Returns how many were connected.
   */
  revoke(identity: string, reason: string): number {
    let cut = 0;
    for (const agent of this.p.registry.withIdentity(identity)) {
      if (agent.status === 'lost' || agent.status === 'quarantined') continue;
      const channel = agent.channel;
      this.p.lose(agent, 'lost', reason);
      channel?.close(reason);
      cut += 1;
    }
    return cut;
  }

  /**
   * Tasks of `agent` expired unanswered, or it failed them (an error report the orchestrator
   * could not reproduce, a guest's wrong value), at one moment; `sentAt` says when each was
   * handed out. The strikes go to its actor; when that makes the actor unresponsive, every agent
   * of it has its work taken back at once (no strike on the operations) and gets nothing until
   * the cool-down ends.
   */
  strike(agent: Agent, now: number, sentAt: readonly number[]): void {
    const strikes = agent.strike(now, sentAt);
    if (strikes === 0) return;
    this.p.metrics.agentStrikes.inc({ kind: agent.kind }, strikes);
    const actor = agent.actor;
    if (!actor.charge(strikes, now, this.p.policy)) {
      this.p.changed(agent, false);
      return;
    }
    let requeued = 0;
    for (const member of this.p.registry.ofActor(actor)) {
      if (!member.coolDown()) continue;
      const leases = this.p.leases.ofAgent(member);
      if (leases.length > 0) member.channel?.revoke(leases.map((l) => l.taskId));
      for (const lease of leases)
        this.p.hooks.requeue(lease, 'agent_unresponsive', false, actor.key);
      requeued += leases.length;
      this.p.changed(member, true);
    }
    this.p.log.warn(
      { agent: agent.id, name: agent.name, actor: actor.key, reason: actor.reason, requeued },
      'agent unresponsive',
    );
    this.p.hooks.capacityChanged();
  }
}
