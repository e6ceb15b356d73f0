/**
 * The cluster's message bus: sends `ClusterMessage`s to every other instance over the Socket.IO
 * adapter (`serverSideEmit`, one Redis stream), validates what arrives and hands each to its handler.
 */
import type { Logger } from 'pino';
import type { IoServer } from '../realtime/io.js';
import { ClusterMessageSchema, type ClusterMessage } from './messages.js';

export type ClusterMessageType = ClusterMessage['t'];
export type ClusterMessageOf<T extends ClusterMessageType> = Extract<ClusterMessage, { t: T }>;

function isOf<T extends ClusterMessageType>(m: ClusterMessage, t: T): m is ClusterMessageOf<T> {
  return m.t === t;
}

export class ClusterBus {
  private readonly handlers = new Map<ClusterMessageType, (message: ClusterMessage) => void>();

  constructor(
    private readonly io: IoServer,
    private readonly log: Logger,
  ) {
    io.on('cluster', (raw: unknown) => this.receive(raw));
  }

  send(message: ClusterMessage): void {
    this.io.serverSideEmit('cluster', message);
  }

  /** The one handler of messages of type `t` (a second registration is a wiring mistake). */
  on<T extends ClusterMessageType>(t: T, handler: (message: ClusterMessageOf<T>) => void): void {
    if (this.handlers.has(t)) throw new Error(`cluster message '${t}' already has a handler`);
    this.handlers.set(t, (m) => {
      if (isOf(m, t)) handler(m);
    });
  }

  private receive(raw: unknown): void {
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
