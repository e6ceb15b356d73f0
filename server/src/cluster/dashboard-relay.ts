/**
 * The dashboard relay: a gateway's dashboards get their snapshots and subscriptions from the
 * leader (which runs the scheduler); the leader answers them through the adapter.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { errorInfo, type SubscribeReply } from '@expressionist/core';
import type { Principal } from '../auth/policy.js';
import { uiNamespace, type IoServer } from '../realtime/io.js';
import type { UiClusterPort, UiHub } from '../realtime/ui-hub.js';
import type { ClusterBus } from './bus.js';
import type { Leadership } from './leadership.js';

const SUBSCRIBE_TIMEOUT_MS = 5000;

export class DashboardRelay implements UiClusterPort {
  private readonly pending = new Map<string, (reply: SubscribeReply) => void>();

  constructor(
    private readonly io: IoServer,
    private readonly hub: UiHub,
    private readonly leadership: Leadership,
    private readonly bus: ClusterBus,
    log: Logger,
  ) {
    hub.joinCluster(this);
    // Dashboards here missed what the old leader did not flush before it died.
    leadership.whenLeading(() => {
      for (const [socketId, principal] of this.dashboards())
        void this.hub.sendSnapshot(socketId, principal);
    });
    leadership.whenNewLeader(() => {
      for (const [socketId, principal] of this.dashboards()) this.askSnapshot(socketId, principal);
    });
    bus.on('ui-subscribed', (m) => {
      if (m.to === leadership.instance) this.pending.get(m.requestId)?.(m.reply);
      this.pending.delete(m.requestId);
    });
    leadership.hear('ui-snapshot', (m) => void this.hub.sendSnapshot(m.socketId, m.principal));
    leadership.hear('ui-subscribe', (m) => {
      void this.hub.subscription(m.principal, m.expressionId).then(
        (reply) =>
          this.bus.send({
            t: 'ui-subscribed',
            from: leadership.instance,
            to: m.from,
            requestId: m.requestId,
            reply,
          }),
        (err: unknown) => log.warn({ err }, 'remote subscribe failed'),
      );
    });
  }

  leading(): boolean {
    return this.leadership.leading();
  }

  askSnapshot(socketId: string, principal: Principal): void {
    this.bus.send({ t: 'ui-snapshot', from: this.leadership.instance, socketId, principal });
  }

  askSubscribe(principal: Principal, expressionId: string): Promise<SubscribeReply> {
    const requestId = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        resolve({
          ok: false,
          error: errorInfo('LEADER_UNAVAILABLE', { reason: 'the leader did not answer' }),
        });
      }, SUBSCRIBE_TIMEOUT_MS);
      this.pending.set(requestId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.bus.send({
        t: 'ui-subscribe',
        from: this.leadership.instance,
        requestId,
        principal,
        expressionId,
      });
    });
  }

  /** The dashboard sockets this instance holds, with who watches. */
  private *dashboards(): Generator<[string, Principal]> {
    for (const socket of uiNamespace(this.io).sockets.values())
      if (socket.data.principal) yield [socket.id, socket.data.principal];
  }
}
