import type { Logger } from 'pino';
import { HandshakeRefused, uiNamespace, type IoServer, type UiNamespace } from './io.js';
import {
  ExpressionistError,
  LIVE_OPERATIONS_WINDOW,
  SubscribeSchema,
  UiHandshakeSchema,
  errorInfo,
  type AgentView,
  type ExpressionView,
  type OperationView,
  type Settings,
  type SubscribeReply,
  type UiDelta,
  type UiToServerEvents,
} from '@expressionist/core';
import type { AuthService } from '../auth/service.js';
import { RateWindow, memoryLimits, type LimitStore } from '../auth/limits.js';
import { agentViewer, canSee, may, visibleOwner, type Principal } from '../auth/policy.js';
import type { Scheduler, SchedulerListener } from '../scheduler/scheduler.js';

const SNAPSHOT_EXPRESSIONS = 200;
/**
 * Operations in a subscribe answer: the REST route's default page. Every subscribe builds and
 * serializes it (~150 KB); bigger first pages made a subscribe loop over 1 MB expressions allocate
 * enough to trigger major collections of a heap holding millions of operations (bench 12).
 */
const SUBSCRIBE_PAGE = 500;
/** Dashboards of admins (everyone in open mode) watching an expression's operations. */
const room = (expressionId: string): string => `expr:${expressionId}`;
/** Its owner's dashboards watching it: operations with agents as users see them. */
const userOpsRoom = (expressionId: string): string => `expr-u:${expressionId}`;
/** Dashboards that see every expression (admins; everyone in open mode). */
const ALL = 'all';
/** Dashboards of one user, who sees only their own expressions. */
const userRoom = (userId: string): string => `user:${userId}`;

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
/**
 * What the hub needs when this process is one of several orchestrators: whether it leads (only
 * the leader has the expressions, so a gateway asks it for snapshots and subscriptions; the
 * leader's deltas reach every instance's rooms through the adapter).
 */
export interface UiClusterPort {
  leading(): boolean;
  askSnapshot(socketId: string, principal: Principal): void;
  askSubscribe(principal: Principal, expressionId: string): Promise<SubscribeReply>;
}

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
    private readonly auth: AuthService,
    private readonly log: Logger,
    private readonly flushMs = 100,
    subscribes: { store: LimitStore; perMinute: number } = { store: memoryLimits, perMinute: 120 },
  ) {
    // In the shared limit store (Redis with several instances): per user across instances.
    this.subscribes = new RateWindow(subscribes.store, 'ui-subscribes', subscribes.perMinute, 60);
    this.nsp = uiNamespace(io);
    this.nsp.use((socket, next) => {
      const handshake = UiHandshakeSchema.safeParse(socket.handshake.auth ?? {});
      if (!handshake.success) {
        next(new HandshakeRefused('BODY_INVALID', 'invalid dashboard handshake: auth.token'));
        return;
      }
      this.auth.authenticate(handshake.data.token).then(
        ({ principal, session }) => {
          if (!may(principal, 'use')) {
            const err = ExpressionistError.of('UNAUTHENTICATED', {
              reason: 'sign in to watch the dashboard (auth.token in the handshake).',
            });
            next(new HandshakeRefused(err.code, err.message));
            return;
          }
          socket.data.principal = principal;
          if (session) socket.data.session = session;
          next();
        },
        (err: unknown) => {
          if (err instanceof ExpressionistError) next(new HandshakeRefused(err.code, err.message));
          else {
            this.log.error({ err }, 'checking a dashboard token failed');
            next(new Error('internal error while checking the token'));
          }
        },
      );
    });
    this.nsp.on('connection', (socket) => {
      const principal = socket.data.principal;
      if (!principal) return;
      const own = visibleOwner(principal);
      // Joined synchronously (the in-memory adapter), so the first flush already reaches it.
      void socket.join(own === undefined ? ALL : userRoom(own));
      if (this.cluster && !this.cluster.leading()) this.cluster.askSnapshot(socket.id, principal);
      else void this.sendSnapshot(socket.id, principal);
      socket.on('subscribe', (expressionId: unknown, ack: unknown) => {
        if (typeof ack !== 'function') return;
        const reply = ack as Parameters<UiToServerEvents['subscribe']>[1];
        const id = SubscribeSchema.safeParse(expressionId);
        if (!id.success) {
          reply({
            ok: false,
            error: errorInfo('BODY_INVALID', { reason: 'subscribe expects an expression id' }),
          });
          return;
        }
        // Counted where the socket is (a gateway too), before any work is asked of the leader.
        const who = principal.kind === 'user' ? principal.id : `addr:${socket.handshake.address}`;
        void (async () => {
          const wait = await this.subscribes.hit(who);
          if (wait > 0) {
            reply({
              ok: false,
              error: errorInfo('RATE_LIMITED', { what: 'dashboard subscriptions', seconds: wait }),
            });
            return;
          }
          const answer =
            this.cluster && !this.cluster.leading()
              ? await this.cluster.askSubscribe(principal, id.data)
              : await this.subscription(principal, id.data);
          // Rooms are per instance: the socket joins here, the leader's deltas reach it.
          if (answer.ok)
            await socket.join(
              agentViewer(principal) === null ? room(id.data) : userOpsRoom(id.data),
            );
          reply(answer);
        })().catch((err: unknown) => {
          this.log.warn({ err }, 'subscribe failed');
          reply({ ok: false, error: errorInfo('INTERNAL', {}) });
        });
      });
      socket.on('unsubscribe', (expressionId: unknown) => {
        if (typeof expressionId !== 'string') return;
        void socket.leave(room(expressionId));
        void socket.leave(userOpsRoom(expressionId));
      });
    });
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  /** Several orchestrators: route snapshots and subscriptions through the leader. */
  joinCluster(port: UiClusterPort): void {
    this.cluster = port;
  }

  /**
   * What `subscribe` answers: the expression (its text's prefix) and the first page of its
   * operations, if the principal may see it.
   */
  async subscription(principal: Principal, expressionId: string): Promise<SubscribeReply> {
    const visible = (owner: string | null): boolean => canSee(principal, owner);
    const expression = await this.scheduler.views.expressionView(expressionId, visible);
    const page = expression
      ? await this.scheduler.views.operationsPage(
          expressionId,
          0,
          SUBSCRIBE_PAGE,
          visible,
          agentViewer(principal),
        )
      : null;
    // Someone else's expression answers exactly as one that does not exist.
    if (!expression || !page)
      return { ok: false, error: errorInfo('EXPRESSION_NOT_FOUND', { id: expressionId }) };
    if (this.cluster) this.watched.add(expressionId);
    return {
      ok: true,
      expression,
      operations: page.operations,
      nextCursor: page.next === null ? null : String(page.next),
    };
  }

  /** Emits a snapshot to one dashboard socket (on any instance, through the adapter). */
  async sendSnapshot(socketId: string, principal: Principal): Promise<void> {
    try {
      const expressions = await this.scheduler.views.listExpressions(
        SNAPSHOT_EXPRESSIONS,
        undefined,
        visibleOwner(principal),
      );
      this.nsp.to(socketId).emit('snapshot', {
        expressions,
        agents: this.scheduler.views.agentViews(agentViewer(principal)),
        settings: this.scheduler.getSettings(),
        stats: this.scheduler.stats(),
      });
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
    const users = this.cluster !== null || this.hasUserRooms();
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

  /** Whether any user's dashboard (not an admin's) is connected here. */
  private hasUserRooms(): boolean {
    for (const name of this.nsp.adapter.rooms.keys()) if (name.startsWith('user:')) return true;
    return false;
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
