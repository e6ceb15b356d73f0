/**
 * The agent lifecycle: agents joining, draining, leaving and being lost — every change of an
 * agent's membership, with the work of a departing agent handed back at once.
 */
import type { Logger } from 'pino';
import {
  ExpressionistError,
  type AgentHello,
  type AgentTrust,
  type Settings,
  type Task,
} from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { Agent, AgentChannel } from './agent.js';
import { AgentRegistry } from './agent-registry.js';
import { AgentSanctions } from './agent-sanctions.js';
import { GUEST_AGENTS_PER_ACTOR, GuestRoom } from './guest-room.js';
import type { StrikePolicy } from './actor.js';
import type { Lease, LeaseTable } from './lease-table.js';
import { NO_STALLS, type RunningClock } from './stall-monitor.js';
import { ReconnectGrace } from './reconnect-grace.js';

/** What the agent lifecycle needs from the write path. */
export interface LifecycleHooks {
  settings(): Settings;
  /** The task a lease sends its agent (sent again after a reconnection). */
  taskOf(lease: Lease): Task;
  /** Hands a lease back to the ready queue (`avoid`: the retry should go to another agent). */
  requeue(lease: Lease, reason: string, counts: boolean, avoid?: string): void;
  dispatchSoon(): void;
  /** Who can take work changed: expressions waiting for an agent may show it. */
  capacityChanged(): void;
  agentChanged(id: string): void;
  agentRemoved(id: string): void;
}

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
  private readonly sanctions: AgentSanctions;
  private readonly guests: GuestRoom;
  private readonly grace: ReconnectGrace;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly leases: LeaseTable,
    private readonly hooks: LifecycleHooks,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly httpAgentTimeoutMs: number,
    policy: StrikePolicy,
    private readonly store: Store,
    private readonly clock: RunningClock = NO_STALLS,
    reconnectGraceMs = 0,
  ) {
    this.grace = new ReconnectGrace({
      graceMs: reconnectGraceMs,
      log,
      settings: () => hooks.settings(),
      leasesOf: (agent) => leases.ofAgent(agent),
      taskOf: (lease) => hooks.taskOf(lease),
      resent: (count) => metrics.tasksResent.inc(count),
      expire: (agent) => this.lose(agent, 'lost', `no reconnection within ${reconnectGraceMs} ms`),
      changed: (agent) => this.changed(agent, true),
      dispatchSoon: () => hooks.dispatchSoon(),
      capacityChanged: () => hooks.capacityChanged(),
    });
    this.sanctions = new AgentSanctions({
      registry: this.registry,
      leases,
      store,
      log,
      metrics,
      policy,
      hooks,
      lose: (agent, status, reason) => this.lose(agent, status, reason),
      changed: (agent, membership) => this.changed(agent, membership),
    });
    this.guests = new GuestRoom({
      registry: this.registry,
      lose: (agent, status, reason) => this.lose(agent, status, reason),
      agentRemoved: (id) => hooks.agentRemoved(id),
    });
  }

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
    this.grace.clear();
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
    if (identity === null && !this.guests.makeRoom(actor, existing))
      throw ExpressionistError.of('RATE_LIMITED', {
        what: `guest agents of ${actor} (at most ${GUEST_AGENTS_PER_ACTOR} listed)`,
        seconds: 60,
      });
    const slots = Math.min(hello.concurrency, standing?.maxInFlight ?? hello.concurrency);
    if (existing && this.grace.resume(existing, hello, slots, channel)) return existing;
    if (existing && existing.status !== 'lost') {
      // Its earlier connection is cut off: from now on only this socket speaks for the id. Its
      // leases go with the registration when the agent says what it holds, else are requeued.
      const old = existing.channel;
      const kept = old !== channel && this.grace.takeOver(existing, hello, slots, channel);
      if (!kept) this.lose(existing, 'lost', 'replaced by a new connection');
      if (old !== channel) old?.close('replaced by a new connection');
      if (kept) return existing;
    }
    const agent = this.registry.join({
      id: hello.agentId,
      name: hello.name,
      kind: hello.kind,
      concurrency: slots,
      channel,
      now,
      identity,
      actor,
      ...(standing ? { trust: standing.trust } : {}),
      ...(standing?.maxInFlight === undefined ? {} : { maxInFlight: standing.maxInFlight }),
    });
    channel.sendSettings(this.hooks.settings());
    // Whatever it still runs from an earlier registration (lost, or on a restarted orchestrator)
    // nobody waits for: its slots go to new work.
    if (hello.holding !== undefined && hello.holding.length > 0)
      channel.revoke([...new Set(hello.holding.map((h) => h.taskId))]);
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
    // An agent away within its reconnect grace is taken back by its own actor only, as a lost one.
    if (existing.status === 'lost' || this.grace.has(existing))
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
   * which could be forgotten (see `GuestRoom.makeRoom`).
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
      if (standing.identity === null && !this.guests.makeRoom(actorOf(key, standing), agent))
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
   * The socket of `channel` closed. Ignored when the agent has since reconnected elsewhere.
   * `dropped`: the connection broke (not told to go, not silent past its heartbeat), so it may be
   * back at once: an agent holding leases keeps them for the reconnect grace (reconnect-grace.ts).
   */
  disconnect(agentId: string, channel: AgentChannel, reason: string, dropped = false): void {
    const agent = this.holder(agentId, channel);
    if (!agent) return;
    if (!(dropped && this.grace.hold(agent, reason))) this.lose(agent, 'lost', reason);
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

  /** Cuts off every agent of `agent`'s identity for a wrong result (see `AgentSanctions`). */
  quarantine(agent: Agent, reason: string): Promise<void> {
    return this.sanctions.quarantine(agent, reason);
  }

  /** Lifts a quarantine; false if there was none (see `AgentSanctions`). */
  release(agentId: string): Promise<boolean> {
    return this.sanctions.release(agentId);
  }

  /** An admin kicks a connected agent; false when it is not connected (see `AgentSanctions`). */
  kick(agentId: string): boolean {
    return this.sanctions.kick(agentId);
  }

  /** Cuts off the agents of a revoked credential; returns how many (see `AgentSanctions`). */
  revoke(identity: string, reason: string): number {
    return this.sanctions.revoke(identity, reason);
  }

  /** Charges strikes for tasks failed or expired at one moment (see `AgentSanctions`). */
  strike(agent: Agent, now: number, sentAt: readonly number[]): void {
    this.sanctions.strike(agent, now, sentAt);
  }

  /** Shortens the retention of gone agents after a settings change. */
  retime(retentionMs: number): void {
    this.registry.retime(Date.now(), retentionMs);
  }

  private lose(agent: Agent, status: 'lost' | 'quarantined', reason: string): void {
    this.grace.end(agent);
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
    if (event === 'agent lost') this.metrics.agentsLost.inc({ kind: agent.kind });
    this.log.info({ agent: agent.id, name: agent.name, reason, requeued: leases.length }, event);
    this.changed(agent, true);
    this.hooks.capacityChanged();
  }

  private sweep(): void {
    const now = Date.now();
    const silent = [...this.registry.all()].filter((agent) => this.silent(agent, now));
    // Judged once the loop caught up: a request that waited out a stall in a socket is read first.
    if (silent.length > 0)
      this.clock.afterCatchUp(() => {
        const at = Date.now();
        for (const agent of silent)
          if (this.silent(agent, at))
            this.lose(agent, 'lost', 'no request within the HTTP agent timeout');
      });
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

  /** An active HTTP agent silent past its timeout, counting only the orchestrator's running time. */
  private silent(agent: Agent, now: number): boolean {
    if (agent.kind !== 'http' || agent.status !== 'active') return false;
    const since = agent.lastSeenAt;
    return now - since - this.clock.stalledSince(since, now) > this.httpAgentTimeoutMs;
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
