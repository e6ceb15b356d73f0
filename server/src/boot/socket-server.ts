/**
 * The Socket.IO server: heartbeats, message size, CORS, the per-address socket cap and (several
 * orchestrators) the Redis streams adapter. Built before the HTTP server, attached once it exists.
 */
import type { Server as HttpServer } from 'node:http';
import type { Logger } from 'pino';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Config } from '../config.js';
import type { AgentGate } from '../auth/agent-gate.js';
import { guestRoom } from '../realtime/agents-namespace.js';
import { limitSocketsPerAddress } from '../realtime/agents-namespace.js';
import { agentsNamespace, type IoServer } from '../realtime/io.js';
import { judgeHeartbeats } from '../realtime/heartbeat-judge.js';
import type { RunningClock } from '../scheduler/stall-monitor.js';
import type { ClusterRedis } from './redis.js';

/** Largest Socket.IO message a client may send (see the `maxHttpBufferSize` comment). */
export const MAX_SOCKET_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * How long a stall of the orchestrator (a long collection, SIGSTOP) may last before either side
 * gives up on a connection: engine.io's own ping timeout is HEARTBEAT_TIMEOUT_MS plus this, and it
 * is what clients wait for a ping before they reconnect. Agents are judged by the heartbeat judge
 * (HEARTBEAT_TIMEOUT_MS of the orchestrator's running time), not by that timer.
 */
export const ORCHESTRATOR_STALL_TOLERANCE_MS = 15_000;

export function createSocketServer(
  config: Pick<Config, 'heartbeatIntervalMs' | 'heartbeatTimeoutMs' | 'auth'>,
  gate: AgentGate,
  redis: ClusterRedis | null,
): IoServer {
  const corsOrigins = config.auth.corsOrigins;
  return new Server({
    // Heartbeats: a frozen agent (socket open, process stopped) is dropped by the heartbeat judge
    // within HEARTBEAT_INTERVAL_MS + HEARTBEAT_TIMEOUT_MS of running time, after which its tasks
    // are requeued; engine.io's own timeout is only the backstop (see the tolerance above).
    pingInterval: config.heartbeatIntervalMs,
    pingTimeout: config.heartbeatTimeoutMs + ORCHESTRATOR_STALL_TOLERANCE_MS,
    // The biggest message a client sends is a results batch: at most 10,000 results of ~100 bytes
    // with short values (about 1 MB); an agent's runner sends at most 2 × 256 at once. 4 MiB
    // leaves room for long exact values; anything bigger closes that one connection.
    maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
    serveClient: false,
    // Several orchestrators: rooms, broadcasts and serverSideEmit span instances (one stream).
    ...(redis
      ? { adapter: createAdapter(redis.adapterClient, { streamName: `${redis.prefix}:sio` }) }
      : {}),
    // Same-origin only (the dashboard is served from here; agent processes send no Origin);
    // CORS_ORIGINS lists the other sites a dashboard may be served from.
    ...(corsOrigins.length > 0 ? { cors: { origin: corsOrigins, credentials: false } } : {}),
    allowRequest: (req, callback) => {
      if (gate.socketFits(gate.clientAddress(req))) callback(null, true);
      else callback('too many connections from this address (MAX_SOCKETS_PER_ADDRESS)', false);
    },
  });
}

/**
 * Attaches `io` to the HTTP server, judges heartbeats against the orchestrator's running time
 * (`clock`) and caps open sockets per address from then on; with several orchestrators, guest
 * agents per address are counted on every instance (the address's room).
 */
export function attachSocketServer(
  io: IoServer,
  http: HttpServer,
  gate: AgentGate,
  log: Logger,
  clustered: boolean,
  heartbeat: { timeoutMs: number; clock: RunningClock },
): void {
  io.attach(http);
  judgeHeartbeats(io, heartbeat.timeoutMs, heartbeat.clock);
  limitSocketsPerAddress(io, gate, log);
  if (clustered)
    gate.countGuestsWith(
      async (address) => (await agentsNamespace(io).in(guestRoom(address)).fetchSockets()).length,
    );
}

/** Closes every socket and the HTTP server, and drops kept-alive HTTP connections at once. */
export function closeSocketServer(io: IoServer, http: HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    void io.close(() => resolve());
    http.closeAllConnections();
  });
}
