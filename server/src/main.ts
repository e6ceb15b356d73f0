import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { Server } from 'socket.io';
import type { IoServer } from './realtime/io.js';
import type { Config } from './config.js';
import { AuthService, loadJwtSecret } from './auth/service.js';
import { createApp } from './http/app.js';
import { Metrics } from './metrics.js';
import { AgentGate, addressOf } from './realtime/agent-gate.js';
import { attachAgentNamespace, limitSocketsPerAddress } from './realtime/agents-namespace.js';
import { UiHub } from './realtime/ui-hub.js';
import { ResultCache } from './result-cache.js';
import { PlanPool } from './scheduler/plan-pool.js';
import { Scheduler } from './scheduler/scheduler.js';
import { createStore } from './store/index.js';
import type { Store } from './store/store.js';

export interface Orchestrator {
  /** Base URL, e.g. http://127.0.0.1:8080 (the real port when started on port 0). */
  url: string;
  port: number;
  scheduler: Scheduler;
  auth: AuthService;
  /** The one-time setup link's token while no admin exists (accounts mode), else null. */
  setupToken: string | null;
  store: Store;
  log: Logger;
  /** Graceful stop: refuse new work, tell agents, flush the store, close. */
  stop(): Promise<void>;
}

/** Largest Socket.IO message a client may send (see the `maxHttpBufferSize` comment). */
export const MAX_SOCKET_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Default location of the built dashboard, relative to this file (server/dist → web/build). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/build', import.meta.url));

/**
 * Composition root: config → store → scheduler → HTTP + Socket.IO. Tests build the same graph
 * with their own config (port 0, a temp data dir, another store).
 */
export async function startOrchestrator(
  config: Config,
  options: { log?: Logger; store?: Store } = {},
): Promise<Orchestrator> {
  const log = options.log ?? pino({ level: config.logLevel, base: { svc: 'orchestrator' } });
  const store =
    options.store ??
    createStore({
      mongodbUri: config.mongodbUri,
      mongodbDb: config.mongodbDb,
      dataDir: config.dataDir,
    });
  await store.init();
  const settings = (await store.getSettings()) ?? config.initialSettings;
  const metrics = new Metrics();
  const cache = new ResultCache(config.cacheMaxEntries, config.cacheTtlSeconds);
  const planPool = new PlanPool({
    limits: { maxLength: config.maxExpressionLength, maxDepth: config.maxNestingDepth },
    threshold: config.planWorkerThreshold,
  });
  const scheduler = new Scheduler({
    store,
    cache,
    log,
    metrics,
    settings,
    parseLimits: { maxLength: config.maxExpressionLength, maxDepth: config.maxNestingDepth },
    planner: planPool,
    maxAttempts: config.maxAttempts,
    strikes: { limit: config.unresponsiveAfter, cooldownMs: config.unresponsiveCooldownMs },
    leaseGraceMs: config.leaseGraceMs,
    httpAgentTimeoutMs: config.httpAgentTimeoutMs,
  });
  const auth = new AuthService(store, {
    mode: config.auth.mode,
    secret: loadJwtSecret(config.dataDir, config.auth.jwtSecret),
    ttlSeconds: config.auth.jwtTtlSeconds,
    guestAgents: config.auth.guestAgents,
    loginFreeFailures: config.auth.loginFreeFailures,
    log,
  });
  const setupToken = await auth.start(config.auth.admin);
  const app = createApp({
    scheduler,
    store,
    metrics,
    log,
    auth,
    config,
    bodyLimitBytes: config.bodyLimitBytes,
    courseTaskId: config.courseTaskId,
    webDir: config.webDir ?? DEFAULT_WEB_DIR,
  });
  const http: HttpServer = createServer(app);
  // Keep idle connections longer than clients do (undici 4 s, most proxies 60 s), so the server is
  // never the side that closes a kept-alive connection just as a client sends on it — a race
  // that a busy event loop (planning a 1 MB expression) made visible as EPIPE/ECONNRESET.
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
  const gate = new AgentGate(auth, {
    guestMaxSlots: config.auth.guestMaxSlots,
    maxSocketsPerAddress: config.auth.maxSocketsPerAddress,
  });
  const corsOrigins = config.auth.corsOrigins;
  const io: IoServer = new Server(http, {
    // Heartbeats: a frozen agent (socket open, process stopped) is dropped within
    // pingInterval + pingTimeout, after which its tasks are requeued.
    pingInterval: config.heartbeatIntervalMs,
    pingTimeout: config.heartbeatTimeoutMs,
    // The biggest message a client sends is a results batch: at most 10,000 results of ~100 bytes
    // with short values (about 1 MB); an agent's runner sends at most 2 × 256 at once. 4 MiB
    // leaves room for long exact values; anything bigger closes that one connection.
    maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
    serveClient: false,
    // Same-origin only (the dashboard is served from here; agent processes send no Origin);
    // CORS_ORIGINS lists the other sites a dashboard may be served from.
    ...(corsOrigins.length > 0 ? { cors: { origin: corsOrigins, credentials: false } } : {}),
    allowRequest: (req, callback) => {
      if (gate.socketFits(addressOf(req))) callback(null, true);
      else callback('too many connections from this address (MAX_SOCKETS_PER_ADDRESS)', false);
    },
  });
  limitSocketsPerAddress(io, gate, log);
  const hub = new UiHub(io, scheduler, auth, log);
  scheduler.setListener(hub);
  attachAgentNamespace(io, scheduler, gate, log);
  scheduler.course.admitWith(gate);
  // Revoking a credential cuts off every agent holding it (socket and course), at once.
  auth.onRevoked((credentialId) => {
    const cut = scheduler.agents.revoke(`cred-${credentialId}`, 'its credential was revoked');
    log.info({ credential: credentialId, agents: cut }, 'agents of a revoked credential cut off');
  });
  await scheduler.start();

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url, port, store: config.mongodbUri ? 'mongodb' : 'embedded' }, 'listening');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('shutting down');
      await scheduler.stop();
      await planPool.close();
      hub.close();
      await new Promise<void>((resolve) => {
        void io.close(() => resolve());
        http.closeAllConnections();
      });
      cache.close();
      await store.close();
      log.info('stopped');
    })();
    return stopping;
  };
  return { url, port, scheduler, auth, setupToken, store, log, stop };
}
