/**
 * The cluster's message bus: sends `ClusterMessage`s to every other instance over the Socket.IO
 * adapter (`serverSideEmit`, one Redis stream), validates what arrives and hands each to its handler.
 */
import type { Logger } from 'pino';
import type { IoServer } from '../realtime/io.js';
import { ClusterMessageSchema, type ClusterMessage } from './messages.js';
import { TurnBatcher, type TurnBatcherOptions } from './turn-batcher.js';

export type ClusterMessageType = ClusterMessage['t'];
export type ClusterMessageOf<T extends ClusterMessageType> = Extract<ClusterMessage, { t: T }>;

function isOf<T extends ClusterMessageType>(m: ClusterMessage, t: T): m is ClusterMessageOf<T> {
  return m.t === t;
}

/** Whether a raw message names another instance in `to` (then it is not validated here). */
function addressedElsewhere(raw: unknown, self: string): boolean {
  if (typeof raw !== 'object' || raw === null || !('to' in raw)) return false;
  return typeof raw.to === 'string' && raw.to !== self;
}

export class ClusterBus {
  private readonly handlers = new Map<ClusterMessageType, (message: ClusterMessage) => void>();
  private readonly batchers: Pick<TurnBatcher<never>, 'flush'>[] = [];
  private self: string | null = null;

  constructor(
    private readonly io: IoServer,
    private readonly log: Logger,
  ) {
    io.on('cluster', (raw: unknown) => this.receive(raw));
  }

  /** This instance's name: messages addressed (`to`) to another are dropped unread. */
  identify(instance: string): void {
    this.self = instance;
  }

  /** Sends at once, after whatever the batchers hold (one instance's messages keep their order). */
  send(message: ClusterMessage): void {
    for (const b of this.batchers) b.flush();
    this.emit(message);
  }

  /**
   * A batcher whose batches leave as bus messages (`build` makes one from a destination and its
   * items, or `null` to drop them): what one event-loop turn queues for a destination crosses
   * Redis as one message, in order with everything else this instance sends.
   */
  batcher<T>(
    build: (key: string, items: T[]) => ClusterMessage | null,
    options: Omit<TurnBatcherOptions<T>, 'send'> = {},
  ): TurnBatcher<T> {
    const batcher = new TurnBatcher<T>({
      ...options,
      send: (key, items) => {
        const message = build(key, items);
        if (message) this.emit(message);
      },
    });
    this.batchers.push(batcher);
    return batcher;
  }

  /** The one handler of messages of type `t` (a second registration is a wiring mistake). */
  on<T extends ClusterMessageType>(t: T, handler: (message: ClusterMessageOf<T>) => void): void {
    if (this.handlers.has(t)) throw new Error(`cluster message '${t}' already has a handler`);
    this.handlers.set(t, (m) => {
      if (isOf(m, t)) handler(m);
    });
  }

  private emit(message: ClusterMessage): void {
    this.io.serverSideEmit('cluster', message);
  }

  private receive(raw: unknown): void {
    // Every instance reads every message of the stream: a batch for another gateway is skipped
    // before the (costly) validation.
    if (this.self !== null && addressedElsewhere(raw, this.self)) return;
    const parsed = ClusterMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.log.warn({ issue: parsed.error.issues[0]?.message }, 'invalid cluster message');
      return;
    }
    const m = parsed.data;
    try {
      this.handlers.get(m.t)?.(m);
    } catch (err) {
      this.log.error({ err, message: m.t }, 'handling a cluster message failed');
    }
  }
}
