/**
 * Dashboards connecting to `/ui`: the handshake's token checked like an API call, the room each
 * joins, its snapshot, and `subscribe`/`unsubscribe` (rate-limited, through the leader when this
 * instance is a gateway).
 */
import type { Logger } from 'pino';
import type { Socket } from 'socket.io';
import {
  ExpressionistError,
  SubscribeSchema,
  UiHandshakeSchema,
  errorInfo,
  type ServerToUiEvents,
  type SubscribeReply,
  type UiToServerEvents,
} from '@expressionist/core';
import type { AuthService } from '../auth/service.js';
import type { RateWindow } from '../auth/limits.js';
import { agentViewer, may, visibleOwner, type Principal } from '../auth/policy.js';
import { HandshakeRefused, type ServerSideEvents, type UiSocketData } from './io.js';
import { ALL, room, userOpsRoom, userRoom } from './ui-rooms.js';

type UiSocket = Socket<UiToServerEvents, ServerToUiEvents, ServerSideEvents, UiSocketData>;

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

/** What a connection asks of the hub. */
export interface DashboardHost {
  /** The cluster, once joined (several orchestrators), else null. */
  clusterPort(): UiClusterPort | null;
  sendSnapshot(socketId: string, principal: Principal): Promise<void>;
  subscription(principal: Principal, expressionId: string): Promise<SubscribeReply>;
}

/**
 * The `/ui` handshake check: `auth.token` (a user's JWT) is checked like an API call; in accounts
 * mode nobody watches anonymously.
 */
export function dashboardGate(
  auth: AuthService,
  log: Logger,
): (socket: UiSocket, next: (err?: Error) => void) => void {
  return (socket, next) => {
    const handshake = UiHandshakeSchema.safeParse(socket.handshake.auth ?? {});
    if (!handshake.success) {
      next(new HandshakeRefused('BODY_INVALID', 'invalid dashboard handshake: auth.token'));
      return;
    }
    auth.authenticate(handshake.data.token).then(
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
          log.error({ err }, 'checking a dashboard token failed');
          next(new Error('internal error while checking the token'));
        }
      },
    );
  };
}

/** A dashboard that passed the gate: its room, its snapshot, and its subscriptions. */
export function acceptDashboard(
  socket: UiSocket,
  host: DashboardHost,
  subscribes: RateWindow,
  log: Logger,
): void {
  const principal = socket.data.principal;
  if (!principal) return;
  const own = visibleOwner(principal);
  // Joined synchronously (the in-memory adapter), so the first flush already reaches it.
  void socket.join(own === undefined ? ALL : userRoom(own));
  const cluster = host.clusterPort();
  if (cluster && !cluster.leading()) cluster.askSnapshot(socket.id, principal);
  else void host.sendSnapshot(socket.id, principal);
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
      const wait = await subscribes.hit(who);
      if (wait > 0) {
        reply({
          ok: false,
          error: errorInfo('RATE_LIMITED', { what: 'dashboard subscriptions', seconds: wait }),
        });
        return;
      }
      const cluster = host.clusterPort();
      const answer =
        cluster && !cluster.leading()
          ? await cluster.askSubscribe(principal, id.data)
          : await host.subscription(principal, id.data);
      // Rooms are per instance: the socket joins here, the leader's deltas reach it.
      if (answer.ok)
        await socket.join(agentViewer(principal) === null ? room(id.data) : userOpsRoom(id.data));
      reply(answer);
    })().catch((err: unknown) => {
      log.warn({ err }, 'subscribe failed');
      reply({ ok: false, error: errorInfo('INTERNAL', {}) });
    });
  });
  socket.on('unsubscribe', (expressionId: unknown) => {
    if (typeof expressionId !== 'string') return;
    void socket.leave(room(expressionId));
    void socket.leave(userOpsRoom(expressionId));
  });
}
