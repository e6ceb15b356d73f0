/**
 * The long-lived parts whose options come from the configuration: the store, the planning pool,
 * accounts, the agent gate, the scheduler, the dashboard hub and the app, each built in one place.
 */
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import type { Logger } from 'pino';
import type { Settings } from '@expressionist/core';
import type { LimitStore } from '../auth/limits.js';
import { AuthService, loadJwtSecret } from '../auth/service.js';
import type { Config } from '../config.js';
import { AgentGate } from '../auth/agent-gate.js';
import { fencedStore } from '../cluster/fenced-store.js';
import type { Leadership } from '../cluster/leadership.js';
import { createApp } from '../http/app.js';
import type { AppDeps } from '../http/app-deps.js';
import type { IoServer } from '../realtime/io.js';
import { UiHub } from '../realtime/ui-hub.js';
import { PlanPool } from '../scheduler/plan-pool.js';
import { Scheduler, type SchedulerOptions } from '../scheduler/scheduler.js';
import { createStore } from '../store/index.js';
import type { Store } from '../store/store.js';

/** Default location of the built dashboard, relative to this file (server/dist/boot → web/build). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../../web/build', import.meta.url));

/** The store (`given`, else the configured one), initialized, and the settings it holds. */
export async function openStore(
  config: Config,
  given: Store | undefined,
): Promise<{ store: Store; settings: Settings }> {
  const { mongodbUri, mongodbDb, dataDir } = config;
  const store = given ?? createStore({ mongodbUri, mongodbDb, dataDir });
  await store.init();
  // Stored settings win; the configured ones fill what they lack (a field added since).
  return { store, settings: { ...config.initialSettings, ...(await store.getSettings()) } };
}

export function createPlanPool(config: Config): PlanPool {
  return new PlanPool({ limits: parseLimits(config), threshold: config.planWorkerThreshold });
}

export function createAuth(
  config: Config,
  store: Store,
  limits: LimitStore,
  log: Logger,
): AuthService {
  return new AuthService(store, {
    mode: config.auth.mode,
    secret: loadJwtSecret(config.dataDir, config.auth.jwtSecret),
    ttlSeconds: config.auth.jwtTtlSeconds,
    guestAgents: config.auth.guestAgents,
    loginFreeFailures: config.auth.loginFreeFailures,
    loginFirstLockS: config.auth.loginFirstLockS,
    limits,
    log,
  });
}

export function createAgentGate(config: Config, auth: AuthService, limits: LimitStore): AgentGate {
  return new AgentGate(auth, {
    guestMaxSlots: config.auth.guestMaxSlots,
    guestPullsPerSecond: config.auth.guestPullsPerSecond,
    maxSocketsPerAddress: config.auth.maxSocketsPerAddress,
    agentAdmissionsPerSecond: config.auth.agentAdmissionsPerSecond,
    trustedProxies: config.trustedProxies,
    limits,
  });
}

/**
 * The scheduler, given the parts it works with; with several orchestrators its store is fenced by
 * the leader lease (every write checks it).
 */
export function createScheduler(
  config: Config,
  parts: Pick<
    SchedulerOptions,
    'store' | 'cache' | 'log' | 'metrics' | 'settings' | 'planner' | 'setupSliceOps' | 'clock'
  >,
  leadership: Leadership | null,
): Scheduler {
  return new Scheduler({
    ...parts,
    store: leadership ? fencedStore(parts.store, () => leadership.guard()) : parts.store,
    parseLimits: parseLimits(config),
    maxAttempts: config.maxAttempts,
    retention: config.retention,
    strikes: { limit: config.unresponsiveAfter, cooldownMs: config.unresponsiveCooldownMs },
    leaseGraceMs: config.leaseGraceMs,
    httpAgentTimeoutMs: config.httpAgentTimeoutMs,
    reconnectGraceMs: config.agentReconnectGraceMs,
  });
}

/** The dashboard hub, listening to the scheduler; dashboard subscriptions counted in `limits`. */
export function createUiHub(
  config: Config,
  parts: { io: IoServer; scheduler: Scheduler; auth: AuthService; limits: LimitStore; log: Logger },
): UiHub {
  const { io, scheduler, auth, limits, log } = parts;
  const subscribes = { store: limits, perMinute: config.auth.subscribesPerMinute };
  const hub = new UiHub(io, scheduler, auth, log, undefined, subscribes);
  scheduler.setListener(hub);
  return hub;
}

/** The Express app: the API (or, on a gateway, the proxy to the leader's) and the dashboard. */
export function createHttpApp(
  config: Config,
  parts: Pick<AppDeps, 'scheduler' | 'store' | 'metrics' | 'log' | 'auth' | 'limits' | 'gate'> & {
    cluster: AppDeps['cluster'] | null;
  },
): Express {
  const { cluster, ...rest } = parts;
  return createApp({
    ...rest,
    config,
    webDir: config.webDir ?? DEFAULT_WEB_DIR,
    bodyLimitBytes: config.bodyLimitBytes,
    courseTaskId: config.courseTaskId,
    ...(cluster ? { cluster } : {}),
  });
}

function parseLimits(config: Config): SchedulerOptions['parseLimits'] {
  return { maxLength: config.maxExpressionLength, maxDepth: config.maxNestingDepth };
}
