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
  /** By message type (keyed by string: a raw message's `t` is looked up before validation). */
  private readonly handlers = new Map<
    string,
    { handle: (message: ClusterMessage) => void; when: () => boolean }
  >();
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

  /**
   * The one handler of messages of type `t` (a second registration is a wiring mistake). With
   * `when`, messages arriving while it is false are dropped before they are validated.
   */
  on<T extends ClusterMessageType>(
    t: T,
    handler: (message: ClusterMessageOf<T>) => void,
    when?: () => boolean,
  ): void {
    if (this.handlers.has(t)) throw new Error(`cluster message '${t}' already has a handler`);
    this.handlers.set(t, {
      handle: (m) => {
        if (isOf(m, t)) handler(m);
      },
      when: when ?? (() => true),
    });
  }

  private emit(message: ClusterMessage): void {
    this.io.serverSideEmit('cluster', message);
  }

  private receive(raw: unknown): void {
    // Every instance reads every message of the stream: one for another instance (a batch for
    // another gateway, a gateway's events while this one does not lead) is skipped unvalidated.
    if (this.self !== null && addressedElsewhere(raw, this.self)) return;
    if (!this.wanted(raw)) return;
    const parsed = ClusterMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.log.warn({ issue: parsed.error.issues[0]?.message }, 'invalid cluster message');
      return;
    }
    const m = parsed.data;
    try {
      this.handlers.get(m.t)?.handle(m);
    } catch (err) {
      this.log.error({ err, message: m.t }, 'handling a cluster message failed');
    }
  }

  /** Whether a raw message's type has a handler that takes it now (invalid ones are validated). */
  private wanted(raw: unknown): boolean {
    if (typeof raw !== 'object' || raw === null || !('t' in raw) || typeof raw.t !== 'string')
      return true;
    const handler = this.handlers.get(raw.t);
    return handler === undefined || handler.when();
  }
}
