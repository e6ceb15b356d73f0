/**
 * The long-lived parts whose options come from the configuration: the planning pool, accounts,
 * the agent gate and the scheduler, each built from `Config` in one place.
 */
import type { Logger } from 'pino';
import type { LimitStore } from '../auth/limits.js';
import { AuthService, loadJwtSecret } from '../auth/service.js';
import type { Config } from '../config.js';
import { AgentGate } from '../auth/agent-gate.js';
import { PlanPool } from '../scheduler/plan-pool.js';
import { Scheduler, type SchedulerOptions } from '../scheduler/scheduler.js';
import type { Store } from '../store/store.js';

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

/** The scheduler, given the parts it works with (its store fenced when there are several). */
export function createScheduler(
  config: Config,
  parts: Pick<
    SchedulerOptions,
    'store' | 'cache' | 'log' | 'metrics' | 'settings' | 'planner' | 'setupSliceOps'
  >,
): Scheduler {
  return new Scheduler({
    ...parts,
    parseLimits: parseLimits(config),
    maxAttempts: config.maxAttempts,
    retention: config.retention,
    strikes: { limit: config.unresponsiveAfter, cooldownMs: config.unresponsiveCooldownMs },
    leaseGraceMs: config.leaseGraceMs,
    httpAgentTimeoutMs: config.httpAgentTimeoutMs,
    reconnectGraceMs: config.agentReconnectGraceMs,
  });
}

function parseLimits(config: Config): SchedulerOptions['parseLimits'] {
  return { maxLength: config.maxExpressionLength, maxDepth: config.maxNestingDepth };
}
