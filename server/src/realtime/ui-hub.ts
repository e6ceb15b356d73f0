/**
 * The `/ui` namespace's hub: the scheduler's changes batched as ids and flushed as one delta per
 * room every `flushMs` (connections: ui-connections.ts; snapshots: ui-snapshot.ts).
 */
import type { Logger } from 'pino';
import { uiNamespace, type IoServer, type UiNamespace } from './io.js';
import {
  LIVE_OPERATIONS_WINDOW,
  type AgentView,
  type ExpressionView,
  type OperationView,
  type Settings,
  type SubscribeReply,
  type UiDelta,
} from '@expressionist/core';
import type { AuthService } from '../auth/service.js';
import { RateWindow, memoryLimits, type LimitStore } from '../auth/limits.js';
import type { Principal } from '../auth/policy.js';
import type { Scheduler, SchedulerListener } from '../scheduler/scheduler.js';
import { acceptDashboard, dashboardGate, type UiClusterPort } from './ui-connections.js';
import { ALL, hasUserRooms, room, userOpsRoom, userRoom } from './ui-rooms.js';
import { snapshotFor, subscriptionFor } from './ui-snapshot.js';

export type { UiClusterPort } from './ui-connections.js';

/**
 * The `/ui` namespace: a snapshot on connect, then deltas. Changes are collected as ids and turned
 * into views once per flush (every `flushMs`), so a burst of thousands of operation updates
 * becomes one message; operation deltas go only to dashboards that subscribed to that expression.
 *
 * Who watches: the handshake's `auth.token` (a user's JWT) is checked like an API call; in
 * accounts mode nobody watches anonymously. A user sees only their own expressions — in the
 * snapshot, in deltas and through `subscribe` — and admins (and everyone in open mode) see all.
 * Sockets are grouped in rooms (`all`, `user:<id>`), so a flush is still one message per room:
 * the agents, settings and stats everyone sees, plus the expressions that room may see.
 */
export class UiHub implements SchedulerListener {
  private readonly nsp: UiNamespace;
  private readonly expressions = new Set<string>();
  private readonly agents = new Set<string>();
  private readonly agentsRemoved = new Set<string>();
  /** Deleted expressions since the last flush: told to admins and to their owner only. */
  private readonly expressionsRemoved: { id: string; owner: string | null }[] = [];
  private readonly operations = new Map<string, Set<number>>();
  private settings: Settings | undefined;
  /** Views of changed expressions that were no longer in memory, fetched from the store. */
  private readonly fetched: { view: ExpressionView; owner: string | null }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private statsTick = 0;
  private cluster: UiClusterPort | null = null;
  /** Several orchestrators: expressions someone subscribed to (rooms live on other instances). */
  private readonly watched = new Set<string>();

  /** `subscribe` calls per user (per address in open mode), each answering a page of views. */
  private readonly subscribes: RateWindow;

  constructor(
    io: IoServer,
    private readonly scheduler: Scheduler,
    auth: AuthService,
    private readonly log: Logger,
    private readonly flushMs = 100,
    subscribes: { store: LimitStore; perMinute: number } = { store: memoryLimits, perMinute: 120 },
  ) {
    // In the shared limit store (Redis with several instances): per user across instances.
    this.subscribes = new RateWindow(subscribes.store, 'ui-subscribes', subscribes.perMinute, 60);
    this.nsp = uiNamespace(io);
    this.nsp.use(dashboardGate(auth, log));
    this.nsp.on('connection', (socket) => acceptDashboard(socket, this, this.subscribes, log));
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  /** Several orchestrators: route snapshots and subscriptions through the leader. */
  joinCluster(port: UiClusterPort): void {
    this.cluster = port;
  }

  /** The cluster, once joined (several orchestrators), else null. */
  clusterPort(): UiClusterPort | null {
    return this.cluster;
  }

  /**
   * What `subscribe` answers: the expression (its text's prefix) and the first page of its
   * operations, if the principal may see it.
   */
  async subscription(principal: Principal, expressionId: string): Promise<SubscribeReply> {
    const answer = await subscriptionFor(this.scheduler, principal, expressionId);
    if (answer.ok && this.cluster) this.watched.add(expressionId);
    return answer;
  }

  /** Emits a snapshot to one dashboard socket (on any instance, through the adapter). */
  async sendSnapshot(socketId: string, principal: Principal): Promise<void> {
    try {
      this.nsp.to(socketId).emit('snapshot', await snapshotFor(this.scheduler, principal));
    } catch (err) {
      this.log.warn({ err }, 'building a dashboard snapshot failed');
    }
  }

  expressionChanged(id: string): void {
    this.expressions.add(id);
  }

  operationsChanged(expressionId: string, opIds: readonly number[]): void {
    const watched = this.cluster
      ? this.watched.has(expressionId)
      : this.nsp.adapter.rooms.has(room(expressionId)) ||
        this.nsp.adapter.rooms.has(userOpsRoom(expressionId));
    if (!watched) return;
    let set = this.operations.get(expressionId);
    // Only the live window: what a flush builds per expression stays bounded by it.
    for (const id of opIds) {
      if (id >= LIVE_OPERATIONS_WINDOW) continue;
      if (!set) this.operations.set(expressionId, (set = new Set()));
      set.add(id);
    }
  }

  agentChanged(id: string): void {
    this.agents.add(id);
  }

  agentRemoved(id: string): void {
    this.agents.delete(id);
    this.agentsRemoved.add(id);
  }

  expressionRemoved(id: string, owner: string | null): void {
    this.expressions.delete(id);
    this.watched.delete(id);
    this.expressionsRemoved.push({ id, owner });
  }

  settingsChanged(settings: Settings): void {
    this.settings = settings;
  }

  /** Builds and emits one delta from everything that changed since the last flush. */
  flush(): void {
    if (this.cluster && !this.cluster.leading()) {
      // A gateway's scheduler never runs; the leader sends every delta.
      return;
    }
    // Several orchestrators: a new leader does not know yet how many dashboards the others hold.
    if (this.nsp.sockets.size === 0 && !this.cluster) {
      // Nobody is watching; a dashboard that connects gets a fresh snapshot anyway.
      this.expressions.clear();
      this.agents.clear();
      this.agentsRemoved.clear();
      this.expressionsRemoved.length = 0;
      this.operations.clear();
      this.fetched.length = 0;
      this.settings = undefined;
      return;
    }
    // What everyone signed in sees: agents as admins see them (`common`), and as users do
    // (`shared`: every agent under its alias, no task ids); a user whose own browser tab changed
    // gets that one as it is (`ownOf`).
    const common: UiDelta = {};
    const shared: UiDelta = {};
    const own = new Map<string, AgentView[]>();
    const views = this.scheduler.views;
    // Only admins (or open mode) watching here: the users' part is built for nobody.
    const users = this.cluster !== null || hasUserRooms(this.nsp);
    if (this.agents.size > 0) {
      common.agents = [];
      shared.agents = [];
      for (const id of this.agents) {
        const full = this.scheduler.views.agentView(id);
        if (!full) continue;
        common.agents.push(full);
        if (!users) continue;
        shared.agents.push(this.scheduler.views.agentView(id, '')!);
        const user = views.userOfAgent(id);
        if (user !== null) {
          let mine = own.get(user);
          if (!mine) own.set(user, (mine = []));
          mine.push(this.scheduler.views.agentView(id, user)!);
        }
      }
      this.agents.clear();
    }
    if (this.agentsRemoved.size > 0) {
      common.agentsRemoved = [...this.agentsRemoved];
      if (users) shared.agentsRemoved = common.agentsRemoved.map((id) => views.aliasOf(id));
      this.agentsRemoved.clear();
    }
    if (this.settings) {
      common.settings = shared.settings = this.settings;
      this.settings = undefined;
    }
    this.statsTick += 1;
    if (this.statsTick * this.flushMs >= 1000) {
      this.statsTick = 0;
      common.stats = shared.stats = this.scheduler.stats();
    }
    /** The users' part for `user`: the shared one, with their own changed agents as they are. */
    const sharedFor = (user: string): UiDelta => {
      const mine = own.get(user);
      if (!mine || !shared.agents) return shared;
      const aliases = new Set(mine.map((a) => views.aliasOf(a.id)));
      return { ...shared, agents: [...shared.agents.filter((a) => !aliases.has(a.id)), ...mine] };
    };
    // Changed expressions, for the `all` room and per owner.
    const all: ExpressionView[] = [];
    const byOwner = new Map<string, ExpressionView[]>();
    const add = (view: ExpressionView, owner: string | null): void => {
      all.push(view);
      if (owner === null) return;
      let mine = byOwner.get(owner);
      if (!mine) byOwner.set(owner, (mine = []));
      mine.push(view);
    };
    for (const { view, owner } of this.fetched.splice(0)) add(view, owner);
    for (const id of this.expressions) {
      const live = this.scheduler.views.liveViewWithOwner(id);
      if (live) add(live.view, live.owner);
      else void this.fetchLater(id);
    }
    this.expressions.clear();
    const hasCommon = Object.keys(common).length > 0;
    if (all.length > 0) this.nsp.to(ALL).emit('delta', { ...common, expressions: all });
    else if (hasCommon) this.nsp.to(ALL).emit('delta', common);
    const told: string[] = [ALL];
    for (const [owner, expressions] of byOwner) {
      const target = userRoom(owner);
      if (!this.hasRoom(target)) continue;
      this.nsp.to(target).emit('delta', { ...sharedFor(owner), expressions });
      told.push(target);
    }
    for (const user of own.keys()) {
      const target = userRoom(user);
      if (byOwner.has(user) || !this.hasRoom(target)) continue;
      this.nsp.to(target).emit('delta', sharedFor(user));
      told.push(target);
    }
    // Users none of whose expressions or tabs changed get the shared part alone.
    if (hasCommon && users) this.nsp.except(told).emit('delta', shared);
    for (const [expressionId, ids] of this.operations) {
      if (this.nsp.adapter.rooms.has(room(expressionId)) || this.cluster) {
        const operations: OperationView[] = views.operationViews(expressionId, ids);
        if (operations.length > 0)
          this.nsp
            .to(room(expressionId))
            .emit('delta', { operations: [{ expressionId, operations }] });
      }
      // Its owner's dashboards (the only users who may watch it) see agents as users do.
      const owner = views.liveViewWithOwner(expressionId)?.owner ?? null;
      if (
        owner !== null &&
        (this.nsp.adapter.rooms.has(userOpsRoom(expressionId)) || this.cluster)
      ) {
        const operations = views.operationViews(expressionId, ids, owner);
        if (operations.length > 0)
          this.nsp
            .to(userOpsRoom(expressionId))
            .emit('delta', { operations: [{ expressionId, operations }] });
      }
    }
    this.operations.clear();
    this.flushRemoved();
    for (const id of this.watched)
      if (!this.scheduler.views.liveViewWithOwner(id)) this.watched.delete(id);
  }

  /** Deleted expressions: every id to the `all` room (admins), each owner's to that owner. */
  private flushRemoved(): void {
    if (this.expressionsRemoved.length === 0) return;
    const removed = this.expressionsRemoved.splice(0);
    this.nsp.to(ALL).emit('delta', { expressionsRemoved: removed.map((r) => r.id) });
    const byOwner = new Map<string, string[]>();
    for (const { id, owner } of removed) {
      if (owner === null) continue;
      const ids = byOwner.get(owner) ?? [];
      ids.push(id);
      byOwner.set(owner, ids);
    }
    for (const [owner, ids] of byOwner) {
      const target = userRoom(owner);
      if (this.hasRoom(target)) this.nsp.to(target).emit('delta', { expressionsRemoved: ids });
    }
  }

  /** Whether a room has members here (one process), or may have anywhere (several). */
  private hasRoom(name: string): boolean {
    return this.cluster !== null || this.nsp.adapter.rooms.has(name);
  }

  private async fetchLater(id: string): Promise<void> {
    try {
      const owner = await this.scheduler.views.ownerOf(id);
      const view = owner === undefined ? null : await this.scheduler.views.expressionView(id);
      if (view && owner !== undefined) this.fetched.push({ view, owner });
    } catch (err) {
      this.log.debug({ err, id }, 'expression view fetch failed');
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
