import type {
  AgentKind,
  AgentStatus,
  AgentTrust,
  AgentView,
  Settings,
  Task,
} from '@expressionist/core';
import type { StoredQuarantine } from '../store/store.js';

/** How the scheduler talks to one connected agent (a socket, or nothing for pull-based HTTP). */
export interface AgentChannel {
  sendTasks(tasks: Task[]): void;
  revoke(taskIds: string[]): void;
  sendSettings(settings: Settings): void;
  /** Tells the agent it is quarantined, then cuts it off. */
  quarantine(reason: string): void;
  /** Cuts the agent off without a word (its credential was revoked). */
  close(reason: string): void;
}

/**
 * Slow start: an agent that has not had a result accepted yet may hold at most this many tasks,
 * however many slots it claims, so an agent that takes work and never answers holds back little
 * before its leases expire. Each accepted result widens the window by one (doubling it per round
 * trip, as in TCP's slow start) up to its concurrency, so an honest agent is at full width after
 * its first few results.
 */
const INITIAL_WINDOW = 2;
const MAX_PULL_WINDOW = 256;

/** When a silent agent counts as unresponsive, and for how long it then gets no work. */
export interface StrikePolicy {
  /** Lease expiries in a row (no accepted result between them) that make it unresponsive. */
  limit: number;
  cooldownMs: number;
}

/** What an agent is when it joins. */
export interface AgentInit {
  id: string;
  name: string;
  kind: AgentKind;
  concurrency: number;
  channel: AgentChannel | null;
  now: number;
  /** How far it is trusted; open mode trusts everyone as if it held a credential. */
  trust?: AgentTrust;
  /**
   * The identity quarantine sticks to: `cred-<id>` or `user-<id>` (accounts mode), the agent id
   * itself (open mode; the default), or null for a guest, which has none it could not shed.
   */
  identity?: string | null;
  /** Hard cap on tasks it may hold at once, whatever it claims (guests); none by default. */
  maxInFlight?: number;
}

/**
 * One agent the orchestrator knows of, connected or recently lost. Its fields change only
 * through its methods, so an agent's life (active → draining → lost/quarantined → forgotten)
 * reads here.
 */
export class Agent {
  readonly id: string;
  readonly name: string;
  readonly kind: AgentKind;
  readonly connectedAt: number;
  readonly trust: AgentTrust;
  /** What quarantine sticks to (see `AgentInit.identity`); null for a guest. */
  readonly identity: string | null;
  /** Most tasks it may hold at once (guests: GUEST_MAX_SLOTS). */
  readonly maxInFlight: number;
  private statusNow: AgentStatus = 'active';
  private slots: number;
  /**
   * Tasks it may hold at once (a congestion window): halved by each lease that expires on it,
   * widened by one per accepted result, so an agent that sits on its work costs itself, not the
   * expressions.
   */
  private window: number;
  /** Lease expiries since its last accepted result. */
  private strikesInRow = 0;
  private strikesTotal = 0;
  /** When it was last struck: leases handed out before then belong to that loss event. */
  private lastStrikeAt = -1;
  private until: number | null = null;
  private why: string | null = null;
  private link: AgentChannel | null;
  /** Task ids currently leased to this agent. */
  private readonly held = new Set<string>();
  private completedCount: number;
  private lastSeen: number;
  private expires: number | null = null;

  constructor(init: AgentInit, completed: number) {
    this.id = init.id;
    this.name = init.name;
    this.kind = init.kind;
    this.slots = init.concurrency;
    this.window =
      init.channel === null ? INITIAL_WINDOW : Math.min(init.concurrency, INITIAL_WINDOW);
    this.link = init.channel;
    this.connectedAt = init.now;
    this.trust = init.trust ?? 'credential';
    this.identity = init.identity === undefined ? init.id : init.identity;
    this.maxInFlight = init.maxInFlight ?? Number.POSITIVE_INFINITY;
    this.lastSeen = init.now;
    this.completedCount = completed;
  }

  get status(): AgentStatus {
    return this.statusNow;
  }

  get concurrency(): number {
    return this.slots;
  }

  get channel(): AgentChannel | null {
    return this.link;
  }

  get completed(): number {
    return this.completedCount;
  }

  get lastSeenAt(): number {
    return this.lastSeen;
  }

  get expiresAt(): number | null {
    return this.expires;
  }

  /** Number of tasks leased to it now. */
  get inFlight(): number {
    return this.held.size;
  }

  /** Task ids leased to it now. */
  heldTasks(): string[] {
    return [...this.held];
  }

  /** Why it is quarantined or unresponsive. */
  get reason(): string | null {
    return this.why;
  }

  /** Lease expiries since its last accepted result. */
  get strikes(): number {
    return this.strikesInRow;
  }

  /** True once it had a result accepted (a course agent has then shown it decodes our tasks). */
  get proven(): boolean {
    return this.completedCount > 0;
  }

  /** Whether it may take a pushed task now, with `depth` tasks in flight per slot. */
  canTake(depth: number): boolean {
    return (
      this.statusNow === 'active' &&
      this.link !== null &&
      this.held.size < Math.min(this.window * depth, this.maxInFlight)
    );
  }

  /** Whether a pulling (course HTTP) agent may lease one more task now. */
  canPull(): boolean {
    return this.statusNow === 'active' && this.held.size < Math.min(this.window, this.maxInFlight);
  }

  /**
   * Leases of it ran out unanswered at one check; `sentAt` says when each was handed out. As in
   * TCP, that is one loss event: the window halves once, and leases it held from before its last
   * strike are part of an event already counted. For an agent that has shown it works the event
   * is one strike — a burst of tasks sent together expires together — but for one that never
   * answered anything each fresh lease is a strike. After `policy.limit` strikes in a row it is
   * unresponsive for `policy.cooldownMs`. True when it just became so.
   */
  strike(now: number, policy: StrikePolicy, sentAt: readonly number[]): boolean {
    const fresh = sentAt.filter((at) => at > this.lastStrikeAt).length;
    if (fresh === 0) return false;
    const strikes = this.proven ? 1 : fresh;
    this.strikesInRow += strikes;
    this.strikesTotal += strikes;
    this.lastStrikeAt = now;
    this.window = Math.max(1, Math.floor(this.window / 2));
    if (this.statusNow !== 'active' || this.strikesInRow < policy.limit) return false;
    this.statusNow = 'unresponsive';
    this.until = now + policy.cooldownMs;
    this.why = `${this.strikesInRow} leases expired in a row without a result; no work until ${new Date(this.until).toISOString()}`;
    return true;
  }

  /** Ends the cool-down of an unresponsive agent: back on probation with one task at a time. */
  wake(now: number): boolean {
    if (this.statusNow !== 'unresponsive' || this.until === null || this.until > now) return false;
    this.statusNow = 'active';
    this.until = null;
    this.why = null;
    this.strikesInRow = 0;
    this.window = 1;
    return true;
  }

  /** Any sign of life (a message, a heartbeat pong, a request). */
  seen(now: number): void {
    this.lastSeen = now;
  }

  hold(taskId: string): void {
    this.held.add(taskId);
    // A pulling HTTP agent has as many slots as it has shown it uses at once.
    if (this.link === null && this.held.size > this.slots) this.slots = this.held.size;
  }

  drop(taskId: string): void {
    this.held.delete(taskId);
  }

  /** An accepted result: the strikes are forgiven and the window widens by one. */
  credit(): void {
    this.completedCount += 1;
    this.strikesInRow = 0;
    const ceiling = this.link === null ? MAX_PULL_WINDOW : this.slots;
    if (this.window < ceiling) this.window += 1;
  }

  /** active → draining: finishes what it holds, takes nothing new. False if it was not active. */
  drain(): boolean {
    if (this.statusNow !== 'active' && this.statusNow !== 'unresponsive') return false;
    this.statusNow = 'draining';
    return true;
  }

  /** → lost or quarantined; it stays listed until `expiresAt` (null: until released). */
  gone(status: 'lost' | 'quarantined', expiresAt: number | null, reason: string | null): void {
    this.statusNow = status;
    this.link = null;
    this.expires = expiresAt;
    this.until = null;
    this.why = status === 'quarantined' ? reason : null;
  }

  /** Shortens the retention of a gone agent (after a settings change). */
  retime(latest: number): void {
    if (this.expires !== null) this.expires = Math.min(this.expires, latest);
  }

  toView(): AgentView {
    return {
      id: this.id,
      name: this.name,
      kind: this.kind,
      status: this.statusNow,
      concurrency: this.slots,
      running: [...this.held],
      completed: this.completedCount,
      window: this.window,
      strikes: this.strikesTotal,
      reason: this.why,
      trust: this.trust,
      connectedAt: new Date(this.connectedAt).toISOString(),
      lastSeenAt: new Date(this.lastSeen).toISOString(),
      expiresAt: this.expires === null ? null : new Date(this.expires).toISOString(),
    };
  }
}

/** Registry of agents: who is connected, who has free slots, who is lost and until when. */
export class AgentRegistry {
  private readonly agents = new Map<string, Agent>();
  /** Quarantined identities and why: every agent holding one is refused until released. */
  private readonly quarantines = new Map<string, string>();

  get(id: string): Agent | undefined {
    return this.agents.get(id);
  }

  all(): IterableIterator<Agent> {
    return this.agents.values();
  }

  get size(): number {
    return this.agents.size;
  }

  /** Adds or revives an agent. A previous entry with the same id must have been lost first. */
  join(init: AgentInit): Agent {
    const agent = new Agent(init, this.agents.get(init.id)?.completed ?? 0);
    this.agents.set(init.id, agent);
    return agent;
  }

  /**
   * Lists a quarantine recorded before this process started (refused until released). It is
   * stored under the identity (`cred-…`, `user-…`, or an open-mode agent id), listed by that key.
   */
  restoreQuarantine(q: StoredQuarantine): Agent {
    const agent = this.join({
      id: q.agentId,
      name: q.name,
      kind: q.kind,
      concurrency: 0,
      channel: null,
      now: q.at,
      identity: q.agentId,
    });
    agent.gone('quarantined', null, q.reason);
    this.quarantines.set(q.agentId, q.reason);
    return agent;
  }

  /** Why `identity` is quarantined, or undefined when it is not (null identities never are). */
  quarantineOf(identity: string | null): string | undefined {
    return identity === null ? undefined : this.quarantines.get(identity);
  }

  /** Records that `identity` is quarantined. */
  markQuarantined(identity: string, reason: string): void {
    this.quarantines.set(identity, reason);
  }

  /** Lifts the quarantine of `identity`; true when there was one. */
  unmarkQuarantined(identity: string): boolean {
    return this.quarantines.delete(identity);
  }

  /** Every agent listed under `identity` (several processes may share one credential). */
  withIdentity(identity: string): Agent[] {
    const found: Agent[] = [];
    for (const agent of this.agents.values()) if (agent.identity === identity) found.push(agent);
    return found;
  }

  /** Forgets an agent at once. */
  remove(id: string): boolean {
    return this.agents.delete(id);
  }

  /** Agents that can take socket-pushed work now, with `depth` tasks in flight per slot. */
  withFreeSlots(depth = 1): Agent[] {
    const free: Agent[] = [];
    for (const agent of this.agents.values()) if (agent.canTake(depth)) free.push(agent);
    return free;
  }

  /** Removes gone agents whose retention passed; returns their ids. */
  sweep(now: number): string[] {
    const removed: string[] = [];
    for (const agent of this.agents.values()) {
      if (agent.expiresAt !== null && agent.expiresAt <= now) {
        this.agents.delete(agent.id);
        removed.push(agent.id);
      }
    }
    return removed;
  }

  /** Re-times retention of agents already gone (after a settings change). */
  retime(now: number, retentionMs: number): void {
    for (const agent of this.agents.values()) agent.retime(now + retentionMs);
  }

  /** Agents in `status`, per kind. */
  counts(status: AgentStatus = 'active'): Record<AgentKind, number> {
    const counts: Record<AgentKind, number> = { node: 0, browser: 0, http: 0 };
    for (const agent of this.agents.values()) if (agent.status === status) counts[agent.kind] += 1;
    return counts;
  }

  /** Whether an active agent other than those in `avoid` exists (busy or not). */
  someoneElse(avoid: readonly string[]): boolean {
    for (const agent of this.agents.values())
      if (agent.status === 'active' && !avoid.includes(agent.id)) return true;
    return false;
  }

  /** Whether some agent could take work now or later without a cool-down ending first. */
  hasResponsive(): boolean {
    for (const agent of this.agents.values()) if (agent.status === 'active') return true;
    return false;
  }

  /** Total worker slots of active socket agents. */
  totalSlots(): number {
    let slots = 0;
    for (const agent of this.agents.values()) {
      if (agent.status === 'active' && agent.channel) slots += agent.concurrency;
    }
    return slots;
  }
}
