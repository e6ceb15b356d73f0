/**
 * What the scheduler is built with (its options) and whom it tells of its changes (its listener).
 */
import type { Logger } from 'pino';
import type { ParseLimits, Settings } from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { ResultCache } from '../result-cache.js';
import type { Store } from '../store/store.js';
import type { StrikePolicy } from './actor.js';
import type { PlanPool } from './plan-pool.js';
import type { RunningClock } from './stall-monitor.js';

/** What the scheduler tells of its changes; the UI hub batches them into deltas. */
export interface SchedulerListener {
  expressionChanged(id: string): void;
  /** A finished expression of `owner` was deleted. */
  expressionRemoved(id: string, owner: string | null): void;
  operationsChanged(expressionId: string, opIds: readonly number[]): void;
  agentChanged(id: string): void;
  agentRemoved(id: string): void;
  settingsChanged(settings: Settings): void;
}

/** What a scheduler is built with. */
export interface SchedulerOptions {
  store: Store;
  cache: ResultCache;
  log: Logger;
  metrics: Metrics;
  settings: Settings;
  parseLimits: ParseLimits;
  /** Plans long expressions on worker threads; without one, everything plans in-thread. */
  planner?: PlanPool;
  /** Actors an operation's retries go around, at most (the latest that failed it). */
  maxAttempts: number;
  strikes: StrikePolicy;
  leaseGraceMs: number;
  httpAgentTimeoutMs: number;
  /** How long a socket agent whose connection dropped keeps its leases (0, the default: none). */
  reconnectGraceMs?: number;
  /** How often finished expressions older than the `retentionMs` setting are swept. */
  retention?: { sweepEveryMs: number };
  /**
   * Runs of more operations than this are set up a slice of this many operations per event-loop
   * turn (see `setUpInSlices`); smaller ones at once, in `submit`. Default `SETUP_SLICE_OPS`.
   */
  setupSliceOps?: number;
  /** The orchestrator's own event-loop stalls, not charged to leases or agents (default: none). */
  clock?: RunningClock;
}
