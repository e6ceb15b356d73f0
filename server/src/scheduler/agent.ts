/**
 * One agent the orchestrator knows of: its channel, its window of tasks in flight (slow start,
 * halved by strikes), its status and what it holds.
 */
import type {
  AgentKind,
  AgentStatus,
  AgentTrust,
  AgentView,
  Settings,
  Task,
} from '@expressionist/core';
import type { Actor } from './actor.js';

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
 * Slow start: while another agent could take the work, an agent that has not had a result
 * accepted yet holds at most this many tasks, however many slots it claims, so an agent that
 * takes work and never answers holds back little before its leases expire. Each accepted result
 * widens the window by one (doubling it per round trip, as in TCP's slow start) up to its
 * concurrency. The window never idles a slot: work nobody can take within their windows is lent
 * beyond them, and taken back from a holder that is overdue once someone else is free.
 */
const INITIAL_WINDOW = 2;
const MAX_PULL_WINDOW = 256;

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
  /**
   * Who answers for it (see actor.ts): strikes, cool-downs and a guest's slots are counted there.
   * Default: its identity, or its own id.
   */
  actor?: string;
}

/**
 * One agent the orchestrator knows of, connected or recently lost. Its fields change only
 * through its methods, so an agent's life (active → draining → lost/quarantined → forgotten)
 * reads here; what it owes as an identity (strikes, cool-down, a guest's slots) is its `actor`'s.
 */
export class Agent {
  readonly id: string;
  readonly name: string;
  readonly kind: AgentKind;
  readonly connectedAt: number;
  readonly trust: AgentTrust;
  /** What quarantine sticks to (see `AgentInit.identity`); null for a guest. */
  readonly identity: string | null;
  /** Who answers for it: strikes, cool-down and a guest's slots are counted there. */
  readonly actor: Actor;
  /** Most tasks it may hold at once (guests: GUEST_MAX_SLOTS). */
  readonly maxInFlight: number;
  private statusNow: AgentStatus = 'active';
  private slots: number;
  /**
   * Tasks it may hold at once while another agent could take them (a congestion window): halved
   * by each strike, widened by one per accepted result, so an agent that sits on its work costs
   * itself, not the expressions. It never idles a slot: work nobody else can take now is lent
   * beyond it (see `canBorrow`).
   */
  private window: number;
  private strikesTotal = 0;
  /** When it was last struck: leases handed out before then belong to that loss event. */
  private lastStrikeAt = -1;
  private link: AgentChannel | null;
  /** Task ids currently leased to this agent. */
  private readonly held = new Set<string>();
  private completedCount: number;
  private lastSeen: number;
  private expires: number | null = null;
  private quarantineReason: string | null = null;

  constructor(init: AgentInit, completed: number, actor: Actor) {
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
    this.actor = actor;
    this.maxInFlight = init.maxInFlight ?? Number.POSITIVE_INFINITY;
    this.lastSeen = init.now;
    this.completedCount = completed;
    // An actor in its cool-down stays there whichever id it comes back with.
    if (actor.coolingUntil !== null) this.statusNow = 'unresponsive';
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
    if (this.statusNow === 'unresponsive') return this.actor.reason;
    return this.quarantineReason;
  }

  /** Strikes of its actor since the actor's last accepted result. */
  get strikes(): number {
    return this.actor.strikes;
  }

  /** True once it had a result accepted (a course agent has then shown it decodes our tasks). */
  get proven(): boolean {
    return this.completedCount > 0;
  }

  /** Whether it may take a pushed task now within its window, with `depth` in flight per slot. */
  canTake(depth: number): boolean {
    return this.canPush() && this.held.size < Math.min(this.window * depth, this.maxInFlight);
  }

  /**
   * Whether it may borrow a pushed task beyond its window (work no agent can take within its
   * window now): up to its slots, never past its own or its actor's cap.
   */
  canBorrow(depth: number): boolean {
    return this.canPush() && this.held.size < Math.min(this.slots * depth, this.maxInFlight);
  }

  /** Pushed tasks it may still take now within its window (0 when it may take none). */
  spare(depth: number): number {
    if (!this.canPush()) return 0;
    const own = Math.min(this.window * depth, this.maxInFlight) - this.held.size;
    return Math.max(0, Math.min(own, this.actor.maxInFlight - this.actor.inFlight));
  }

  /** Whether a pulling (course HTTP) agent may lease one more task now within its window. */
  canPull(): boolean {
    return this.canPullBeyond() && this.held.size < this.window;
  }

  /** Whether a pulling agent may borrow one more task beyond its window. */
  canPullBeyond(): boolean {
    return (
      this.statusNow === 'active' &&
      this.actor.hasRoom &&
      this.held.size < Math.min(MAX_PULL_WINDOW, this.maxInFlight)
    );
  }

  private canPush(): boolean {
    return this.statusNow === 'active' && this.link !== null && this.actor.hasRoom;
  }

  /**
   * Leases of it ran out unanswered, or it failed tasks, at one moment; `sentAt` says when each was
   * handed out. As in TCP, that is one loss event: the window halves once, and tasks it held from
   * before its last strike are part of an event already counted. For an agent that has shown it
   * works the event is one strike — a burst of tasks sent together expires together — but for one
   * that never answered anything each fresh task is a strike. Returns the strikes to charge to
   * its actor.
   */
  strike(now: number, sentAt: readonly number[]): number {
    // `>=`: a task handed out in the very millisecond of the last strike came after it.
    const fresh = sentAt.filter((at) => at >= this.lastStrikeAt).length;
    if (fresh === 0) return 0;
    const strikes = this.proven ? 1 : fresh;
    this.strikesTotal += strikes;
    this.lastStrikeAt = now;
    this.window = Math.max(1, Math.floor(this.window / 2));
    return strikes;
  }

  /** Its actor became unresponsive: it gets no work until the actor's cool-down ends. */
  coolDown(): boolean {
    if (this.statusNow !== 'active') return false;
    this.statusNow = 'unresponsive';
    return true;
  }

  /** Its actor's cool-down ended: back on probation with one task at a time. */
  wake(): boolean {
    if (this.statusNow !== 'unresponsive' || this.actor.coolingUntil !== null) return false;
    this.statusNow = 'active';
    this.window = 1;
    return true;
  }

  /** Any sign of life (a message, a heartbeat pong, a request). */
  seen(now: number): void {
    this.lastSeen = now;
  }

  hold(taskId: string): void {
    if (this.held.has(taskId)) return;
    this.held.add(taskId);
    this.actor.held(1);
    // A pulling HTTP agent has as many slots as it has shown it uses at once.
    if (this.link === null && this.held.size > this.slots) this.slots = this.held.size;
  }

  drop(taskId: string): void {
    if (this.held.delete(taskId)) this.actor.held(-1);
  }

  /** An accepted result: its actor's strikes are forgiven and its window widens by one. */
  credit(): void {
    this.completedCount += 1;
    this.actor.credit();
    const ceiling = this.link === null ? MAX_PULL_WINDOW : this.slots;
    if (this.window < ceiling) this.window += 1;
  }

  /** active → draining: finishes what it holds, takes nothing new. False if it was not active. */
  drain(): boolean {
    if (this.statusNow !== 'active' && this.statusNow !== 'unresponsive') return false;
    this.statusNow = 'draining';
    return true;
  }

  /**
   * Its connection dropped (see reconnect-grace.ts): it keeps what it holds, takes nothing new and
   * speaks through no channel until it reconnects.
   */
  detach(): void {
    this.link = null;
  }

  /** It reconnected within its grace over `channel`: what it holds is answered from there. */
  reattach(channel: AgentChannel, now: number): void {
    this.link = channel;
    this.lastSeen = now;
  }

  /** → lost or quarantined; it stays listed until `expiresAt` (null: until released). */
  gone(status: 'lost' | 'quarantined', expiresAt: number | null, reason: string | null): void {
    this.statusNow = status;
    this.link = null;
    this.expires = expiresAt;
    this.quarantineReason = status === 'quarantined' ? reason : null;
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
      runningCount: this.held.size,
      completed: this.completedCount,
      window: this.window,
      strikes: this.strikesTotal,
      reason: this.reason,
      trust: this.trust,
      connectedAt: new Date(this.connectedAt).toISOString(),
      lastSeenAt: new Date(this.lastSeen).toISOString(),
      expiresAt: this.expires === null ? null : new Date(this.expires).toISOString(),
    };
  }
}
