import type { Logger } from 'pino';
import {
  ExpressionistError,
  type AgentHello,
  type AgentTrust,
  type Settings,
} from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { Agent, AgentChannel } from './agent.js';
import { AgentRegistry } from './agent-registry.js';
import type { StrikePolicy } from './actor.js';
import type { Lease, LeaseTable } from './lease-table.js';

/** What the agent lifecycle needs from the write path. */
export interface LifecycleHooks {
  settings(): Settings;
  /** Hands a lease back to the ready queue (`avoid`: the retry should go to another agent). */
  requeue(lease: Lease, reason: string, counts: boolean, avoid?: string): void;
  dispatchSoon(): void;
  /** Who can take work changed: expressions waiting for an agent may show it. */
  capacityChanged(): void;
  agentChanged(id: string): void;
  agentRemoved(id: string): void;
}

/**
 * Agents one guest actor (an address) may have listed at once, connected or lost: a classroom
 * behind one NAT fits, a swarm of fresh ids does not grow the list (see `makeRoom`).
 */
export const GUEST_AGENTS_PER_ACTOR = 64;

/**
 * Who an agent is, as the gate that admitted it worked out: how far it is trusted, the identity
 * quarantine sticks to (null: a guest, which has none it could not shed), and a hard cap on its
 * tasks in flight (guests).
 */
export interface AgentStanding {
  trust: AgentTrust;
  identity: string | null;
  maxInFlight?: number;
  /**
   * Who answers for it (see actor.ts): the identity, or for a guest `guest@<address or /64>`.
   * Default: the identity.
   */
  actor?: string;
}

/** The actor key of an agent `agentId` with `standing` (open mode: none, its own id). */
export function actorOf(agentId: string, standing: AgentStanding | undefined): string {
  if (!standing) return agentId;
  return standing.actor ?? standing.identity ?? agentId;
}

/**
 * Agents joining, draining, leaving, being lost or quarantined: every change of an agent's
 * membership goes through here, which hands the work of a departing agent back at once.
 */
export class AgentLifecycle {
  readonly registry = new AgentRegistry();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly leases: LeaseTable,
    private readonly hooks: LifecycleHooks,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly httpAgentTimeoutMs: number,
    private readonly policy: StrikePolicy,
    private readonly store: Store,
  ) {}

  /**
   * Lists the quarantines recorded before this start (they stay refused) and starts the
   * once-a-second sweep: silent HTTP agents are lost, cool-downs end, expired entries go.
   */
  async start(): Promise<void> {
    for (const q of await this.store.listQuarantines()) this.registry.restoreQuarantine(q);
    this.timer = setInterval(() => this.sweep(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Registers a socket agent (new, reconnecting, or replacing a connection not yet seen dead).
   * Without `standing` (open mode) its identity is its self-chosen id, as before accounts. It is
   * refused while its identity is quarantined, and when its id is held by another identity: an
   * agent may replace only its own earlier connection, never someone else's.
   */
  connect(hello: AgentHello, channel: AgentChannel, standing?: AgentStanding): Agent {
    const now = Date.now();
    const identity = standing ? standing.identity : hello.agentId;
    const actor = actorOf(hello.agentId, standing);
    const refusal = this.refusal(hello.agentId, identity, actor);
    if (refusal) throw refusal;
    const existing = this.registry.get(hello.agentId);
    if (identity === null && !this.makeRoom(actor, existing))
      throw ExpressionistError.of('RATE_LIMITED', {
        what: `guest agents of ${actor} (at most ${GUEST_AGENTS_PER_ACTOR} listed)`,
        seconds: 60,
      });
    if (existing && existing.status !== 'lost') {
      // Its earlier connection is cut off: from now on only this socket speaks for the id.
      const old = existing.channel;
      this.lose(existing, 'lost', 'replaced by a new connection');
      if (old !== channel) old?.close('replaced by a new connection');
    }
    const agent = this.registry.join({
      id: hello.agentId,
      name: hello.name,
      kind: hello.kind,
      concurrency: Math.min(hello.concurrency, standing?.maxInFlight ?? hello.concurrency),
      channel,
      now,
      identity,
      actor,
      ...(standing ? { trust: standing.trust } : {}),
      ...(standing?.maxInFlight === undefined ? {} : { maxInFlight: standing.maxInFlight }),
    });
    channel.sendSettings(this.hooks.settings());
    this.log.info(
      {
        agent: agent.id,
        name: agent.name,
        kind: agent.kind,
        concurrency: agent.concurrency,
        trust: agent.trust,
      },
      'agent joined',
    );
    this.changed(agent, true);
    this.hooks.dispatchSoon();
    this.hooks.capacityChanged();
    return agent;
  }

  /**
   * Why an agent `agentId` holding `identity` (answered for by `actor`) may not join now, or
   * undefined when it may: AGENT_QUARANTINED while its identity (or the agent listed under that
   * id) is quarantined; AGENT_ID_TAKEN while the id is connected under another identity or by a
   * guest (a guest cannot prove it is the same guest, so it never replaces a live connection), or
   * still listed, lost, under another actor (its owner may come back to it).
   */
  refusal(agentId: string, identity: string | null, actor: string): Error | undefined {
    const held = this.registry.quarantineOf(identity);
    if (held !== undefined) return ExpressionistError.of('AGENT_QUARANTINED', { reason: held });
    const existing = this.registry.get(agentId);
    if (!existing) return undefined;
    if (existing.status === 'quarantined')
      return ExpressionistError.of('AGENT_QUARANTINED', {
        reason: existing.reason ?? 'it returned wrong results',
      });
    if (existing.status === 'lost')
      return existing.actor.key === actor
        ? undefined
        : ExpressionistError.of('AGENT_ID_TAKEN', { id: agentId });
    if (identity === null || existing.identity !== identity)
      return ExpressionistError.of('AGENT_ID_TAKEN', { id: agentId });
    return undefined;
  }

  /**
   * A pulling course HTTP agent made a request: joins it when new or lost. 'crowded' when it is
   * a new guest and its actor (its address) already has `GUEST_AGENTS_PER_ACTOR` agents none of
   * which could be forgotten (see `makeRoom`).
   */
  pulled(
    key: string,
    name: string,
    now: number,
    standing: AgentStanding,
  ): Agent | 'quarantined' | 'crowded' {
    if (this.registry.quarantineOf(standing.identity) !== undefined) return 'quarantined';
    let agent = this.registry.get(key);
    if (agent?.status === 'quarantined') return 'quarantined';
    if (!agent || agent.status === 'lost') {
      if (standing.identity === null && !this.makeRoom(actorOf(key, standing), agent))
        return 'crowded';
      agent = this.registry.join({
        actor: actorOf(key, standing),
        id: key,
        name,
        kind: 'http',
        concurrency: 1,
        channel: null,
        now,
        trust: standing.trust,
        identity: standing.identity,
        ...(standing.maxInFlight === undefined ? {} : { maxInFlight: standing.maxInFlight }),
      });
      this.log.info({ agent: agent.id, name, kind: 'http', trust: agent.trust }, 'agent joined');
      this.changed(agent, true);
      this.hooks.capacityChanged();
    }
    agent.seen(now);
    return agent;
  }

  /**
   * The agent registered as `agentId` over `channel`, or undefined when that channel does not hold
   * the registration (a replaced or refused socket, or one speaking for an id it does not hold):
   * a message counts only from the socket that holds the registration.
   */
  holder(agentId: string, channel: AgentChannel): Agent | undefined {
    const agent = this.registry.get(agentId);
    return agent && agent.channel === channel ? agent : undefined;
  }

  /**
   * Makes room for one more agent of the guest actor `key` (`reviving`: the entry about to be
   * replaced, which does not count): past GUEST_AGENTS_PER_ACTOR listed agents it forgets the
   * actor's lost ones, oldest first, then idle pulling ones, least recently seen first. False
   * when every one of them holds work. A swarm of fresh ids from one address so leaves at most
   * that many entries, and an honest guest coming back always finds room.
   */
  makeRoom(key: string, reviving?: Agent): boolean {
    const actor = this.registry.actor(key);
    if (!actor) return true;
    const members = this.registry.ofActor(actor).filter((a) => a !== reviving);
    let excess = members.length + 1 - GUEST_AGENTS_PER_ACTOR;
    if (excess <= 0) return true;
    const rank = (a: Agent): number => (a.status === 'lost' ? 0 : 1);
    const spare = members
      .filter((a) => a.status === 'lost' || (a.kind === 'http' && a.inFlight === 0))
      .sort((x, y) => rank(x) - rank(y) || x.lastSeenAt - y.lastSeenAt);
    for (const agent of spare) {
      if (excess <= 0) break;
      if (agent.status !== 'lost') this.lose(agent, 'lost', 'replaced by a newer guest agent');
      this.registry.remove(agent.id);
      this.hooks.agentRemoved(agent.id);
      excess -= 1;
    }
    return excess <= 0;
  }

  /** The socket of `channel` closed. Ignored when the agent has since reconnected elsewhere. */
  disconnect(agentId: string, channel: AgentChannel, reason: string): void {
    const agent = this.holder(agentId, channel);
    if (agent) this.lose(agent, 'lost', reason);
  }

  /** A pulling agent is gone: its connections closed and it holds nothing. */
  leave(agent: Agent, reason: string): void {
    if (agent.status === 'lost' || agent.status === 'quarantined') return;
    this.lose(agent, 'lost', reason);
  }

  /** Any sign of life from the agent registered over `channel` (a message or a pong). */
  seen(agentId: string, channel: AgentChannel): void {
    this.holder(agentId, channel)?.seen(Date.now());
  }

  /** The agent registered over `channel` finishes what it has and takes nothing new. */
  drain(agentId: string, channel: AgentChannel): void {
    const agent = this.holder(agentId, channel);
    if (!agent?.drain()) return;
    this.log.info({ agent: agent.id, name: agent.name, running: agent.inFlight }, 'agent draining');
    this.changed(agent, false);
  }

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
      this.lose(agent, 'lost', reason);
      channel?.close(reason);
      return;
    }
    this.registry.markQuarantined(identity, reason);
    const holders = this.registry.withIdentity(identity);
    for (const holder of holders) {
      if (holder.status === 'quarantined') continue;
      const channel = holder.channel;
      this.lose(holder, 'quarantined', reason);
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
      await this.store.saveQuarantine(record);
    } catch (err) {
      this.log.warn(
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
    const named = this.registry.get(agentId);
    const identity = named?.identity ?? agentId;
    const stored = await this.store.deleteQuarantine(identity);
    const marked = this.registry.unmarkQuarantined(identity);
    const listed = this.registry.withIdentity(identity).filter((a) => a.status === 'quarantined');
    if (named?.status === 'quarantined' && !listed.includes(named)) listed.push(named);
    for (const agent of listed) {
      this.registry.remove(agent.id);
      this.hooks.agentRemoved(agent.id);
    }
    if (listed.length === 0 && !marked) return stored;
    this.log.info({ agent: agentId, identity, agents: listed.length }, 'quarantine released');
    return true;
  }

  /**
   * An admin kicks a connected agent: it is cut off and its work reassigned at once. It may
   * reconnect (to keep it out, revoke its credential or quarantine it). False when it is not
   * connected.
   */
  kick(agentId: string): boolean {
    const agent = this.registry.get(agentId);
    if (!agent || agent.status === 'lost' || agent.status === 'quarantined') return false;
    const channel = agent.channel;
    this.lose(agent, 'lost', 'kicked by an admin');
    channel?.close('kicked by an admin');
    return true;
  }

  /**
   * The credential behind `identity` was revoked: every agent holding it is cut off now and its
   * work reassigned at once. Returns how many were connected.
   */
  revoke(identity: string, reason: string): number {
    let cut = 0;
    for (const agent of this.registry.withIdentity(identity)) {
      if (agent.status === 'lost' || agent.status === 'quarantined') continue;
      const channel = agent.channel;
      this.lose(agent, 'lost', reason);
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
    this.metrics.agentStrikes.inc({ kind: agent.kind }, strikes);
    const actor = agent.actor;
    if (!actor.charge(strikes, now, this.policy)) {
      this.changed(agent, false);
      return;
    }
    let requeued = 0;
    for (const member of this.registry.ofActor(actor)) {
      if (!member.coolDown()) continue;
      const leases = this.leases.ofAgent(member);
      if (leases.length > 0) member.channel?.revoke(leases.map((l) => l.taskId));
      for (const lease of leases) this.hooks.requeue(lease, 'agent_unresponsive', false, actor.key);
      requeued += leases.length;
      this.changed(member, true);
    }
    this.log.warn(
      { agent: agent.id, name: agent.name, actor: actor.key, reason: actor.reason, requeued },
      'agent unresponsive',
    );
    this.hooks.capacityChanged();
  }

  /** Shortens the retention of gone agents after a settings change. */
  retime(retentionMs: number): void {
    this.registry.retime(Date.now(), retentionMs);
  }

  private lose(agent: Agent, status: 'lost' | 'quarantined', reason: string): void {
    const leases = this.leases.ofAgent(agent);
    const wasDraining = agent.status === 'draining';
    const expiresAt =
      status === 'quarantined' ? null : Date.now() + this.hooks.settings().lostAgentRetentionMs;
    agent.gone(status, expiresAt, reason);
    // Losing a connection is no fault of the operation: the retry does not use up an attempt.
    for (const lease of leases)
      this.hooks.requeue(lease, status === 'quarantined' ? 'quarantined' : 'agent_lost', false);
    const event =
      status === 'quarantined' ? 'agent quarantined' : wasDraining ? 'agent left' : 'agent lost';
    this.log.info({ agent: agent.id, name: agent.name, reason, requeued: leases.length }, event);
    this.changed(agent, true);
    this.hooks.capacityChanged();
  }

  private sweep(): void {
    const now = Date.now();
    for (const agent of this.registry.all()) {
      if (
        agent.kind === 'http' &&
        agent.status === 'active' &&
        now - agent.lastSeenAt > this.httpAgentTimeoutMs
      ) {
        this.lose(agent, 'lost', 'no request within the HTTP agent timeout');
      }
    }
    for (const agent of this.registry.wake(now)) {
      this.log.info(
        { agent: agent.id, name: agent.name },
        'agent back from its cool-down (probation)',
      );
      this.changed(agent, true);
      this.hooks.dispatchSoon();
      this.hooks.capacityChanged();
    }
    for (const id of this.registry.sweep(now)) this.hooks.agentRemoved(id);
  }

  private changed(agent: Agent, membership: boolean): void {
    if (membership) this.refreshGauge();
    this.hooks.agentChanged(agent.id);
  }

  private refreshGauge(): void {
    const active = this.registry.counts('active');
    const unresponsive = this.registry.counts('unresponsive');
    for (const kind of ['node', 'browser', 'http'] as const) {
      this.metrics.agentsConnected.set({ kind }, active[kind]);
      this.metrics.agentsUnresponsive.set({ kind }, unresponsive[kind]);
    }
  }
}
