import type { Logger } from 'pino';
import { uiNamespace, type IoServer, type UiNamespace } from './io.js';
import {
  SubscribeSchema,
  errorInfo,
  type ExpressionView,
  type OperationView,
  type Settings,
  type UiDelta,
  type UiToServerEvents,
} from '@expressionist/core';
import type { Scheduler, SchedulerListener } from '../scheduler/scheduler.js';

const SNAPSHOT_EXPRESSIONS = 200;
const room = (expressionId: string): string => `expr:${expressionId}`;

/**
 * The `/ui` namespace: a snapshot on connect, then deltas. Changes are collected as ids and turned
 * into views once per flush (every `flushMs`), so a burst of thousands of operation updates
 * becomes one message; operation deltas go only to dashboards that subscribed to that expression.
 */
export class UiHub implements SchedulerListener {
  private readonly nsp: UiNamespace;
  private readonly expressions = new Set<string>();
  private readonly agents = new Set<string>();
  private readonly agentsRemoved = new Set<string>();
  private readonly operations = new Map<string, Set<number>>();
  private settings: Settings | undefined;
  private readonly fetched: ExpressionView[] = [];
  private timer: NodeJS.Timeout | undefined;
  private statsTick = 0;

  constructor(
    io: IoServer,
    private readonly scheduler: Scheduler,
    private readonly log: Logger,
    private readonly flushMs = 100,
  ) {
    this.nsp = uiNamespace(io);
    this.nsp.on('connection', (socket) => {
      void this.sendSnapshot(socket.id);
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
        void (async () => {
          const expression = await this.scheduler.views.expressionView(id.data);
          const operations = expression ? await this.scheduler.views.operations(id.data) : null;
          if (!expression || !operations) {
            reply({ ok: false, error: errorInfo('EXPRESSION_NOT_FOUND', { id: id.data }) });
            return;
          }
          await socket.join(room(id.data));
          reply({ ok: true, expression, operations });
        })().catch((err: unknown) => {
          this.log.warn({ err }, 'subscribe failed');
          reply({ ok: false, error: errorInfo('INTERNAL', {}) });
        });
      });
      socket.on('unsubscribe', (expressionId: unknown) => {
        if (typeof expressionId === 'string') void socket.leave(room(expressionId));
      });
    });
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  private async sendSnapshot(socketId: string): Promise<void> {
    try {
      const expressions = await this.scheduler.views.listExpressions(SNAPSHOT_EXPRESSIONS);
      this.nsp.to(socketId).emit('snapshot', {
        expressions,
        agents: this.scheduler.agentViews(),
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
    if (!this.nsp.adapter.rooms.has(room(expressionId))) return;
    let set = this.operations.get(expressionId);
    if (!set) this.operations.set(expressionId, (set = new Set()));
    for (const id of opIds) set.add(id);
  }

  agentChanged(id: string): void {
    this.agents.add(id);
  }

  agentRemoved(id: string): void {
    this.agents.delete(id);
    this.agentsRemoved.add(id);
  }

  settingsChanged(settings: Settings): void {
    this.settings = settings;
  }

  /** Builds and emits one delta from everything that changed since the last flush. */
  flush(): void {
    if (this.nsp.sockets.size === 0) {
      // Nobody is watching; a dashboard that connects gets a fresh snapshot anyway.
      this.expressions.clear();
      this.agents.clear();
      this.agentsRemoved.clear();
      this.operations.clear();
      this.fetched.length = 0;
      this.settings = undefined;
      return;
    }
    const delta: UiDelta = {};
    const expressions: ExpressionView[] = this.fetched.splice(0);
    for (const id of this.expressions) {
      const view = this.scheduler.views.liveView(id);
      if (view) expressions.push(view);
      else void this.fetchLater(id);
    }
    this.expressions.clear();
    if (expressions.length > 0) delta.expressions = expressions;
    if (this.agents.size > 0) {
      delta.agents = [...this.agents].flatMap((id) => this.scheduler.agentView(id) ?? []);
      this.agents.clear();
    }
    if (this.agentsRemoved.size > 0) {
      delta.agentsRemoved = [...this.agentsRemoved];
      this.agentsRemoved.clear();
    }
    if (this.settings) {
      delta.settings = this.settings;
      this.settings = undefined;
    }
    this.statsTick += 1;
    if (this.statsTick * this.flushMs >= 1000) {
      this.statsTick = 0;
      delta.stats = this.scheduler.stats();
    }
    if (Object.keys(delta).length > 0) this.nsp.emit('delta', delta);
    for (const [expressionId, ids] of this.operations) {
      const operations: OperationView[] = this.scheduler.views.operationViews(expressionId, ids);
      if (operations.length > 0)
        this.nsp
          .to(room(expressionId))
          .emit('delta', { operations: [{ expressionId, operations }] });
    }
    this.operations.clear();
  }

  private async fetchLater(id: string): Promise<void> {
    try {
      const view = await this.scheduler.views.expressionView(id);
      if (view) this.fetched.push(view);
    } catch (err) {
      this.log.debug({ err, id }, 'expression view fetch failed');
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
