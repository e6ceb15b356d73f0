/**
 * The composition root: builds store, scheduler, auth, HTTP and Socket.IO servers (and the cluster)
 * from a config, and stops them in order.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import { Cluster } from './cluster/cluster.js';
import { fencedStore } from './cluster/fenced-store.js';
import { agentsNamespace, type IoServer } from './realtime/io.js';
import type { Config } from './config.js';
import { ExpressionistError } from '@expressionist/core';
import { AuthService, loadJwtSecret } from './auth/service.js';
import { createApp } from './http/app.js';
import { Metrics } from './metrics.js';
import { AgentGate } from './auth/agent-gate.js';
import { memoryLimits, redisLimits } from './auth/limits.js';
import {
  attachAgentNamespace,
  guestRoom,
  limitSocketsPerAddress,
} from './realtime/agents-namespace.js';
import { SessionWatch } from './realtime/session-watch.js';
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
  /** Several orchestrators (REDIS_URL): this instance's place in the cluster; null alone. */
  cluster: Cluster | null;
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
  /** `setupSliceOps`: see `SchedulerOptions` (tests make it small). */
  options: { log?: Logger; store?: Store; setupSliceOps?: number } = {},
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
  const settings = { ...config.initialSettings, ...(await store.getSettings()) };
  const metrics = new Metrics();
  const cache = new ResultCache(config.cacheMaxEntries, config.cacheTtlSeconds);
  const planPool = new PlanPool({
    limits: { maxLength: config.maxExpressionLength, maxDepth: config.maxNestingDepth },
    threshold: config.planWorkerThreshold,
  });
  const clustered = config.cluster;
  // Several orchestrators: Redis first (the adapter and the lease), and a scheduler whose every
  // write checks the lease (a gateway's scheduler never starts; the leader's writes are fenced).
  const redis = clustered ? await connectRedis(clustered.redisUrl, log) : null;
  let cluster: Cluster | null = null;
  // Limits every instance must share (sign-in failures, registrations, submissions, guest
  // handshakes) live in Redis when there are several; in this process otherwise.
  const limits = redis ? redisLimits(redis, `expressionist:${config.mongodbDb}`) : memoryLimits;
  const guard = (): void => {
    if (cluster) cluster.guard();
  };
  const scheduler = new Scheduler({
    store: clustered ? fencedStore(store, guard) : store,
    cache,
    log,
    metrics,
    settings,
    parseLimits: { maxLength: config.maxExpressionLength, maxDepth: config.maxNestingDepth },
    planner: planPool,
    maxAttempts: config.maxAttempts,
    retention: config.retention,
    strikes: { limit: config.unresponsiveAfter, cooldownMs: config.unresponsiveCooldownMs },
    leaseGraceMs: config.leaseGraceMs,
    httpAgentTimeoutMs: config.httpAgentTimeoutMs,
    setupSliceOps: options.setupSliceOps,
  });
  const auth = new AuthService(store, {
    mode: config.auth.mode,
    secret: loadJwtSecret(config.dataDir, config.auth.jwtSecret),
    ttlSeconds: config.auth.jwtTtlSeconds,
    guestAgents: config.auth.guestAgents,
    loginFreeFailures: config.auth.loginFreeFailures,
    limits,
    log,
  });
  // Alone, this process leads from the start. Clustered, accounts are set up by whichever instance
  // wins the lease (takeOver below); every instance needs the credentials to admit agents.
  let setupToken = clustered ? null : await auth.start(config.auth.admin);
  if (clustered) await auth.reloadCredentials();
  let port = 0;
  const url = (): string => {
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    return `http://${host}:${port}`;
  };
  const advertiseUrl = (): string =>
    clustered?.advertiseUrl ??
    (config.host === '0.0.0.0' || config.host === '::'
      ? `http://${firstIpv4() ?? '127.0.0.1'}:${port}`
      : url());
  // The adapter's own client queues commands through a short Redis outage (the streams adapter
  // resumes where it left off); the lease's client fails fast instead.
  const cp =
    clustered && redis
      ? {
          redis,
          adapterRedis: new Redis(clustered.redisUrl),
          prefix: `expressionist:${config.mongodbDb}`,
        }
      : null;
  const gate = new AgentGate(auth, {
    guestMaxSlots: config.auth.guestMaxSlots,
    guestPullsPerSecond: config.auth.guestPullsPerSecond,
    maxSocketsPerAddress: config.auth.maxSocketsPerAddress,
    trustedProxies: config.trustedProxies,
    limits,
  });
  const app = createApp({
    scheduler,
    store,
    metrics,
    log,
    auth,
    config,
    bodyLimitBytes: config.bodyLimitBytes,
    courseTaskId: config.courseTaskId,
    gate,
    webDir: config.webDir ?? DEFAULT_WEB_DIR,
    limits,
    ...(cp
      ? {
          cluster: {
            get role() {
              return cluster?.role ?? 'gateway';
            },
            get leaderInfo() {
              return cluster?.leaderInfo ?? null;
            },
            get instance() {
              return cluster?.instance ?? '';
            },
            redisOk: () => cluster?.redisOk() ?? Promise.resolve(false),
            forward: (req, res, next) => {
              if (cluster) cluster.forward(req, res, next);
              else next(ExpressionistError.of('LEADER_UNAVAILABLE', { reason: 'starting' }));
            },
          },
        }
      : {}),
  });
  const http: HttpServer = createServer(app);
  // Keep idle connections longer than clients do (undici 4 s, most proxies 60 s), so the server is
  // never the side that closes a kept-alive connection just as a client sends on it — a race
  // that a busy event loop (planning a 1 MB expression) made visible as EPIPE/ECONNRESET.
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
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
    // Several orchestrators: rooms, broadcasts and serverSideEmit span instances (one stream).
    ...(cp ? { adapter: createAdapter(cp.adapterRedis, { streamName: `${cp.prefix}:sio` }) } : {}),
    // Same-origin only (the dashboard is served from here; agent processes send no Origin);
    // CORS_ORIGINS lists the other sites a dashboard may be served from.
    ...(corsOrigins.length > 0 ? { cors: { origin: corsOrigins, credentials: false } } : {}),
    allowRequest: (req, callback) => {
      if (gate.socketFits(gate.clientAddress(req))) callback(null, true);
      else callback('too many connections from this address (MAX_SOCKETS_PER_ADDRESS)', false);
    },
  });
  limitSocketsPerAddress(io, gate, log);
  // Guest agents per address are counted on every instance: the members of the address's room.
  if (cp)
    gate.countGuestsWith(
      async (address) => (await agentsNamespace(io).in(guestRoom(address)).fetchSockets()).length,
    );
  const hub = new UiHub(io, scheduler, auth, log, undefined, {
    store: limits,
    perMinute: config.auth.subscribesPerMinute,
  });
  scheduler.setListener(hub);
  if (cp && clustered) {
    cluster = new Cluster({
      io,
      redis: cp.redis,
      prefix: cp.prefix,
      leaseMs: clustered.leaseMs,
      advertiseUrl,
      scheduler,
      auth,
      hub,
      metrics,
      log,
      takeOver: async () => {
        const t0 = performance.now();
        setupToken = await auth.start(config.auth.admin);
        if (setupToken)
          log.warn(`No admin account yet: open ${url()}/setup#${setupToken} to create it`);
        const stored = await store.getSettings();
        if (stored) scheduler.adoptSettings({ ...config.initialSettings, ...stored });
        const t1 = performance.now();
        await scheduler.start();
        log.info(
          {
            accountsMs: Math.round(t1 - t0),
            recoveryMs: Math.round(performance.now() - t1),
          },
          'takeover: state loaded',
        );
      },
    });
  } else metrics.clusterRole.set({ role: 'single' }, 1);
  attachAgentNamespace(io, scheduler, gate, log, cluster ?? undefined);
  // Revoking a credential cuts off every agent holding it (socket and course), at once.
  auth.onRevoked((credentialId) => {
    const cut = scheduler.agents.revoke(`cred-${credentialId}`, 'its credential was revoked');
    log.info({ credential: credentialId, agents: cut }, 'agents of a revoked credential cut off');
  });
  // A disabled or deleted user is cut off at once: their agents (browser tabs) leave the
  // registry and their unfinished work is canceled, here where the scheduler runs (the API that
  // changes accounts is the leader's); every instance cuts off its own sockets (SessionWatch).
  auth.onAccountEvent((event, here) => {
    if (!here || event.t !== 'user-changed') return;
    if (event.change !== 'disabled' && event.change !== 'deleted') return;
    const reason = `its user was ${event.change}`;
    const agents = scheduler.agents.revoke(`user-${event.userId}`, reason);
    const canceled = scheduler.cancelAllOf(event.userId);
    log.info({ user: event.userId, agents, canceled }, 'user cut off');
  });
  const sessionWatch = new SessionWatch(io, auth, log);
  const pruneRevoked = setInterval(() => {
    auth.pruneRevokedTokens().catch((err: unknown) => {
      log.warn({ err }, 'pruning expired sign-outs failed');
    });
  }, 3_600_000);
  pruneRevoked.unref();
  if (!cluster) await scheduler.start();

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => resolve());
  });
  port = (http.address() as AddressInfo).port;
  log.info(
    {
      url: url(),
      port,
      store: config.mongodbUri ? 'mongodb' : 'embedded',
      ...(cluster ? { cluster: cluster.instance, advertise: advertiseUrl() } : {}),
    },
    'listening',
  );
  cluster?.start();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('shutting down');
      await scheduler.stop();
      await cluster?.stop();
      await planPool.close();
      hub.close();
      sessionWatch.close();
      clearInterval(pruneRevoked);
      await new Promise<void>((resolve) => {
        void io.close(() => resolve());
        http.closeAllConnections();
      });
      cache.close();
      await store.close();
      if (cp) await Promise.all([cp.redis.quit(), cp.adapterRedis.quit()]).catch(() => undefined);
      log.info('stopped');
    })();
    return stopping;
  };
  return {
    url: url(),
    port,
    scheduler,
    auth,
    get setupToken() {
      return setupToken;
    },
    store,
    log,
    cluster,
    stop,
  };
}

/** The first non-internal IPv4 address (what other containers on a Docker network reach). */
function firstIpv4(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

/**
 * Connects to Redis for several orchestrators, retrying for up to ~30 s; a clear error names the
 * host (never a password) when it stays unreachable.
 */
async function connectRedis(redisUrl: string, log: Logger): Promise<Redis> {
  const where = new URL(redisUrl);
  const redacted = `${where.protocol}//${where.host}`;
  // Fails fast: a lease call that cannot reach Redis must not queue past the lease's lifetime.
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    enableOfflineQueue: false,
  });
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis'));
  for (let attempt = 1; ; attempt += 1) {
    try {
      await redis.connect();
      return redis;
    } catch (err) {
      if (attempt >= 10) {
        redis.disconnect();
        throw new Error(`Redis at ${redacted} is unreachable (REDIS_URL): ${String(err)}`);
      }
      log.warn({ redis: redacted, attempt }, 'Redis not reachable yet; retrying');
      redis.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}
