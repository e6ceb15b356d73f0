/**
 * The composition root: `startOrchestrator` builds and starts one orchestrator (store, scheduler,
 * HTTP, Socket.IO, and with several its place in the cluster), in order; the wiring is in boot/.
 */
import { pino, type Logger } from 'pino';
import { memoryLimits, redisLimits } from './auth/limits.js';
import type { AuthService } from './auth/service.js';
import { Addresses } from './boot/addresses.js';
import { cutOffsOnRevocation } from './boot/cut-offs.js';
import { createHttpServer, listen, logListening } from './boot/http-server.js';
import {
  createAgentGate,
  createAuth,
  createHttpApp,
  createPlanPool,
  createScheduler,
  createUiHub,
  openStore,
} from './boot/parts.js';
import { createLeadership } from './boot/leadership.js';
import { connectClusterRedis } from './boot/redis.js';
import { shutdownInOrder } from './boot/shutdown.js';
import { attachSocketServer, closeSocketServer, createSocketServer } from './boot/socket-server.js';
import { startStallMonitor } from './boot/stalls.js';
import { takeOver } from './boot/takeover.js';
import { Cluster } from './cluster/cluster.js';
import type { Config } from './config.js';
import { Metrics } from './metrics.js';
import { attachAgentNamespace } from './realtime/agents-namespace.js';
import { SessionWatch } from './realtime/session-watch.js';
import { ResultCache } from './result-cache.js';
import type { Scheduler } from './scheduler/scheduler.js';
import type { Store } from './store/store.js';

export { DEFAULT_WEB_DIR } from './boot/parts.js';
export { MAX_SOCKET_MESSAGE_BYTES } from './boot/socket-server.js';

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
  const { store, settings } = await openStore(config, options.store);
  const metrics = new Metrics();
  // The orchestrator's own stalls, never charged to an agent (heartbeats, leases, HTTP agents).
  const stalls = startStallMonitor(metrics, log);
  const cache = new ResultCache(config.cacheMaxEntries, config.cacheTtlSeconds);
  const planner = createPlanPool(config);
  const addresses = new Addresses(config);
  const url = (): string => addresses.url();
  // Several orchestrators: Redis first. Limits every instance must share (sign-in failures,
  // registrations, submissions, guest handshakes) live there; in this process otherwise.
  const clustered = config.cluster;
  const redis = clustered
    ? await connectClusterRedis(clustered.redisUrl, config.mongodbDb, log)
    : null;
  const limits = redis ? redisLimits(redis.client, redis.prefix) : memoryLimits;
  const auth = createAuth(config, store, limits, log);
  // Alone, this process leads from the start. Several: accounts are set up by whichever instance
  // wins the leader lease (takeOver); every instance needs the credentials to admit agents.
  let setupToken = clustered ? null : await auth.start(config.auth.admin);
  if (clustered) await auth.reloadCredentials();
  const gate = createAgentGate(config, auth, limits);
  // No await from here to the namespaces' creation: the adapter's subscriber client must queue
  // its SUBSCRIBEs before it connects (ioredis 5.8+ races them with its ready check otherwise).
  const io = createSocketServer(config, gate, redis);
  // Several: the leader lease before the scheduler, whose every write checks it (a gateway's
  // scheduler never starts; the leader's writes are fenced).
  const leadership =
    clustered && redis ? createLeadership(clustered, redis, io, addresses, metrics, log) : null;
  const { setupSliceOps } = options;
  const parts = { store, cache, log, metrics, settings, planner, setupSliceOps, clock: stalls };
  const scheduler = createScheduler(config, parts, leadership);
  const hub = createUiHub(config, { io, scheduler, auth, limits, log });
  const takeOverHere = async (): Promise<void> => {
    setupToken = await takeOver({ auth, store, scheduler, log, config, url });
  };
  const cluster = leadership
    ? new Cluster({
        leadership,
        io,
        scheduler,
        auth,
        hub,
        log,
        clock: stalls,
        takeOver: takeOverHere,
      })
    : null;
  if (!cluster) metrics.clusterRole.set({ role: 'single' }, 1);
  const appParts = { scheduler, store, metrics, log, auth, limits, gate, cluster };
  const http = createHttpServer(createHttpApp(config, appParts));
  attachSocketServer(io, http, gate, log, cluster !== null, {
    timeoutMs: config.heartbeatTimeoutMs,
    clock: stalls,
  });
  attachAgentNamespace(io, scheduler, gate, log, cluster ?? undefined);
  const cutOffs = cutOffsOnRevocation(auth, scheduler, log);
  const sessionWatch = new SessionWatch(io, auth, log);
  if (!cluster) await scheduler.start();

  addresses.listening(await listen(http, config.port, config.host));
  logListening(log, config, addresses, cluster);
  cluster?.start();

  const stop = shutdownInOrder(log, [
    () => scheduler.stop(),
    () => cluster?.stop(),
    () => planner.close(),
    () => hub.close(),
    () => sessionWatch.close(),
    () => cutOffs.close(),
    () => closeSocketServer(io, http),
    () => cache.close(),
    () => store.close(),
    () => redis?.close(),
    () => stalls.stop(),
  ]);
  return {
    url: url(),
    port: addresses.port,
    scheduler,
    auth,
    store,
    log,
    cluster,
    stop,
    get setupToken() {
      return setupToken;
    },
  };
}
