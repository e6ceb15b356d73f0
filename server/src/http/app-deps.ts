/**
 * What the Express app is built from (`createApp`'s parts), and what it needs from the cluster
 * when several orchestrators run.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { AgentGate } from '../auth/agent-gate.js';
import type { AuthService } from '../auth/service.js';
import type { LimitStore } from '../auth/limits.js';
import type { Config } from '../config.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { Store } from '../store/store.js';

export interface AppDeps {
  scheduler: Scheduler;
  /** Accounts and agent credentials; `config.auth` holds the limits. */
  auth: AuthService;
  config: Pick<Config, 'auth' | 'host' | 'trustedProxies'>;
  store: Store;
  metrics: Metrics;
  log: Logger;
  bodyLimitBytes: number;
  /** How course HTTP agents get task ids (see course/id-types.ts). */
  courseTaskId: 'auto' | 'number' | 'string';
  /** Admits course agents (accounts mode); without it everyone pulls, as before accounts. */
  gate?: AgentGate;
  webDir: string | undefined;
  /** Several orchestrators (REDIS_URL): this instance's place in the cluster. */
  cluster?: ClusterPort;
  /** Where the submissions count lives (default: this process; Redis when clustered). */
  limits?: LimitStore;
}

/** What the HTTP layer needs from the cluster (see cluster/cluster.ts). */
export interface ClusterPort {
  readonly role: 'gateway' | 'taking-over' | 'leader';
  readonly leaderInfo: { instance: string; epoch: number } | null;
  readonly instance: string;
  redisOk(): Promise<boolean>;
  /** Serves the API here when leading, else streams it to the leader. */
  forward: RequestHandler;
}
