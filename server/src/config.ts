/**
 * The orchestrator's configuration: every environment variable, its default and its bounds, checked
 * at start-up with every problem reported at once.
 */
import { z } from 'zod';
import { passwordProblem } from './auth/passwords.js';
import { parseTrustedProxies, trustedProxiesProblem } from './auth/client-address.js';
import { leaderOrigin } from './cluster/leader-lease.js';
import {
  DEFAULT_PARSE_LIMITS,
  SETTINGS_FIELDS,
  SettingsSchema,
  type Settings,
  type SettingsField,
} from '@expressionist/core';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * `TIME_ADDITION_MS`, …: one optional variable per settings field, named and bounded by its row,
 * read in milliseconds (whole) or in the row's own unit (`RETENTION_DAYS`: days, fractions allowed).
 */
type SettingsEnvSchema = z.ZodOptional<z.ZodType<number, unknown>>;
type SettingsEnvShape = { [F in SettingsField as F['env']]: SettingsEnvSchema };
const settingsEnvShape = Object.fromEntries(
  SETTINGS_FIELDS.map((f): [string, SettingsEnvSchema] => {
    const unit = 'envUnitMs' in f ? f.envUnitMs : undefined;
    const schema =
      unit === undefined
        ? int(f.min, f.max)
        : z.coerce
            .number()
            .min(f.min / unit)
            .max(f.max / unit)
            .transform((v) => Math.round(v * unit));
    return [f.env, schema.optional()];
  }),
) as SettingsEnvShape;

/**
 * Every environment variable the orchestrator reads, with its default. The README's configuration
 * table and docker-compose.yml are checked against the keys of this schema by tests.
 */
export const EnvSchema = z.object({
  PORT: int(0, 65_535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
    .optional(),
  MONGODB_DB: z.string().min(1).max(63).default('expressionist'),
  AGENTS: int(0, 64).default(2),
  COMPUTING_POWER: int(1, 256).default(4),
  ...settingsEnvShape,
  MAX_EXPRESSION_LENGTH: int(1, 10_000_000).default(DEFAULT_PARSE_LIMITS.maxLength),
  MAX_NESTING_DEPTH: int(1, 100_000).default(DEFAULT_PARSE_LIMITS.maxDepth),
  PLAN_WORKER_THRESHOLD: int(0, 10_000_000).default(50_000),
  HEAP_GROWING_PERCENT: int(0, 1000).default(50),
  MAX_ATTEMPTS: int(1, 100).default(5),
  RETENTION_SWEEP_MS: int(100, 86_400_000).default(60_000),
  UNRESPONSIVE_AFTER: int(1, 1000).default(3),
  UNRESPONSIVE_COOLDOWN_MS: int(0, 24 * 3_600_000).default(30_000),
  COURSE_TASK_ID: z.enum(['auto', 'number', 'string']).default('auto'),
  LEASE_GRACE_MS: int(100, 600_000).default(3000),
  HEARTBEAT_INTERVAL_MS: int(200, 60_000).default(1000),
  HEARTBEAT_TIMEOUT_MS: int(200, 60_000).default(2000),
  HTTP_AGENT_TIMEOUT_MS: int(1000, 3_600_000).default(15_000),
  CACHE_MAX_ENTRIES: int(0, 10_000_000).default(10_000),
  CACHE_TTL_S: int(1, 30 * 24 * 3600).default(3600),
  BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(2 * 1024 * 1024),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WEB_DIR: z.string().optional(),
  AUTH_MODE: z.enum(['accounts', 'open']).default('accounts'),
  JWT_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  JWT_TTL_S: int(60, 30 * 24 * 3600).default(12 * 3600),
  ADMIN_LOGIN: z.string().min(3).max(64).optional(),
  ADMIN_PASSWORD: z.string().min(8).max(256).optional(),
  GUEST_AGENTS: z.enum(['on', 'off']).default('on'),
  GUEST_MAX_SLOTS: int(1, 256).default(4),
  GUEST_PULLS_PER_SECOND: int(1, 1_000_000).default(50),
  CORS_ORIGINS: z.string().optional(),
  TRUSTED_PROXIES: z.string().default('loopback'),
  LOGIN_FREE_FAILURES: int(1, 1000).default(5),
  LOGIN_FIRST_LOCK_S: int(1, 900).default(1),
  SUBMISSIONS_PER_MINUTE: int(1, 1_000_000).default(600),
  MAX_UNFINISHED_PER_USER: int(1, 10_000_000).default(1000),
  MAX_UNFINISHED_OPS_PER_USER: int(1, 1_000_000_000).default(1_000_000),
  SUBSCRIBES_PER_MINUTE: int(1, 1_000_000).default(120),
  MAX_SOCKETS_PER_ADDRESS: int(1, 1_000_000).default(256),
  AGENT_ADMISSIONS_PER_SECOND: int(1, 1_000_000).default(200),
  AGENT_RECONNECT_GRACE_MS: int(0, 60_000).default(1500),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
    .optional(),
  ADVERTISE_URL: z
    .string()
    .refine((url) => leaderOrigin(url) !== null, 'an http://host:port URL, with no path')
    .optional(),
  LEADER_LEASE_MS: int(500, 60_000).default(3000),
});
export type Env = z.infer<typeof EnvSchema>;

/** Resolved orchestrator configuration. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  mongodbUri: string | undefined;
  mongodbDb: string;
  agents: number;
  computingPower: number;
  /** Settings used only when the store has none yet (TIME_* env over the defaults); stored settings win. */
  initialSettings: Settings;
  maxExpressionLength: number;
  maxNestingDepth: number;
  /** Expressions this long or longer are planned on a worker thread; 0: all on the main thread. */
  planWorkerThreshold: number;
  /**
   * V8's old generation grows to at most (1 + this/100) × its live data between full collections
   * (`--heap-growing-percent`, set by the CLI); 0 leaves V8's own, adaptive growth.
   */
  heapGrowingPercent: number;
  maxAttempts: number;
  /** Finished expressions are deleted this many days after they finish (0: kept forever). */
  retention: { sweepEveryMs: number };
  /** Lease expiries in a row after which an agent is unresponsive, and for how long. */
  unresponsiveAfter: number;
  unresponsiveCooldownMs: number;
  /** How course HTTP agents get task ids: detected per agent, or always one JSON type. */
  courseTaskId: Env['COURSE_TASK_ID'];
  leaseGraceMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /**
   * A socket agent whose connection drops (not one told to go, nor a frozen one) keeps its
   * leases this long: reconnected in time, it delivers their results; 0: requeued at once.
   */
  agentReconnectGraceMs: number;
  httpAgentTimeoutMs: number;
  cacheMaxEntries: number;
  cacheTtlSeconds: number;
  bodyLimitBytes: number;
  logLevel: Env['LOG_LEVEL'];
  /**
   * Peers whose X-Forwarded-For names the client (addresses, CIDRs, `loopback`, …); every other
   * peer is its own address. Express and the socket gate both follow it (auth/client-address.ts).
   */
  trustedProxies: string[];
  webDir: string | undefined;
  /** Accounts and trust (see README, Security). */
  auth: {
    mode: Env['AUTH_MODE'];
    jwtSecret: string | undefined;
    jwtTtlSeconds: number;
    admin: { login: string; password: string } | undefined;
    guestAgents: boolean;
    guestMaxSlots: number;
    /** Course guest pulls per address per second before 429. */
    guestPullsPerSecond: number;
    /** Origins allowed besides the orchestrator's own (HTTP and Socket.IO). */
    corsOrigins: string[];
    loginFreeFailures: number;
    /** The first sign-in lock, in seconds; each further one is twice as long (up to 15 min). */
    loginFirstLockS: number;
    submissionsPerMinute: number;
    maxUnfinishedPerUser: number;
    /** Operations of one user's unfinished expressions, in all, before submissions get 429. */
    maxUnfinishedOpsPerUser: number;
    /** Dashboard `subscribe` calls per user (per address when anonymous) per minute. */
    subscribesPerMinute: number;
    maxSocketsPerAddress: number;
    /** New `/agents` handshakes admitted per second (a token bucket; a second's worth at once). */
    agentAdmissionsPerSecond: number;
  };
  /** Several orchestrators as one service (README, Several orchestrators); null: one process. */
  cluster: {
    redisUrl: string;
    /** How the other instances reach this one's HTTP (a gateway forwards the API to the leader). */
    advertiseUrl: string | undefined;
    leaseMs: number;
  } | null;
}

/** A configuration problem, reported at start-up with every offending variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses and validates the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, the way shells and compose files usually mean them.
  const cleaned = Object.fromEntries(
    Object.keys(EnvSchema.shape).flatMap((key) => {
      const value = env[key];
      return value === undefined || value.trim() === '' ? [] : [[key, value.trim()]];
    }),
  );
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (issue) =>
          `${issue.path.join('.')}=${JSON.stringify(cleaned[String(issue.path[0])] ?? '')}: ${issue.message}`,
      ),
    );
  }
  const e = parsed.data;
  if ((e.ADMIN_LOGIN === undefined) !== (e.ADMIN_PASSWORD === undefined))
    throw new ConfigError(['ADMIN_LOGIN and ADMIN_PASSWORD: set both, or neither']);
  // Refused here, at start-up, rather than when the admin is created (with several orchestrators
  // that is the takeover, and a failing takeover would only step down and be restarted).
  const adminProblem =
    e.ADMIN_LOGIN !== undefined && e.ADMIN_PASSWORD !== undefined
      ? passwordProblem(e.ADMIN_LOGIN, e.ADMIN_PASSWORD)
      : null;
  if (adminProblem)
    throw new ConfigError([`ADMIN_PASSWORD: ${adminProblem.replace(/^password: /, '')}`]);
  if (e.REDIS_URL !== undefined) {
    // Every instance must see the same state and accept the same sign-ins.
    const missing = [
      e.MONGODB_URI === undefined ? 'MONGODB_URI (the instances share their state in MongoDB)' : '',
      e.JWT_SECRET === undefined ? 'JWT_SECRET (every instance must accept the same sign-ins)' : '',
    ].filter((m) => m !== '');
    if (missing.length > 0)
      throw new ConfigError(missing.map((m) => `REDIS_URL is set, so set ${m}`));
  }
  const trustedProxies = parseTrustedProxies(e.TRUSTED_PROXIES);
  const proxiesProblem = trustedProxiesProblem(trustedProxies);
  if (proxiesProblem)
    throw new ConfigError([
      `TRUSTED_PROXIES=${JSON.stringify(e.TRUSTED_PROXIES)}: ${proxiesProblem}`,
    ]);
  const initialSettings = SettingsSchema.parse(
    Object.fromEntries(SETTINGS_FIELDS.map((f) => [f.key, e[f.env] ?? f.default])),
  );
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    mongodbUri: e.MONGODB_URI,
    mongodbDb: e.MONGODB_DB,
    agents: e.AGENTS,
    computingPower: e.COMPUTING_POWER,
    initialSettings,
    maxExpressionLength: e.MAX_EXPRESSION_LENGTH,
    maxNestingDepth: e.MAX_NESTING_DEPTH,
    planWorkerThreshold: e.PLAN_WORKER_THRESHOLD,
    heapGrowingPercent: e.HEAP_GROWING_PERCENT,
    maxAttempts: e.MAX_ATTEMPTS,
    retention: { sweepEveryMs: e.RETENTION_SWEEP_MS },
    unresponsiveAfter: e.UNRESPONSIVE_AFTER,
    unresponsiveCooldownMs: e.UNRESPONSIVE_COOLDOWN_MS,
    courseTaskId: e.COURSE_TASK_ID,
    leaseGraceMs: e.LEASE_GRACE_MS,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
    heartbeatTimeoutMs: e.HEARTBEAT_TIMEOUT_MS,
    agentReconnectGraceMs: e.AGENT_RECONNECT_GRACE_MS,
    httpAgentTimeoutMs: e.HTTP_AGENT_TIMEOUT_MS,
    cacheMaxEntries: e.CACHE_MAX_ENTRIES,
    cacheTtlSeconds: e.CACHE_TTL_S,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    logLevel: e.LOG_LEVEL,
    trustedProxies,
    webDir: e.WEB_DIR,
    auth: {
      mode: e.AUTH_MODE,
      jwtSecret: e.JWT_SECRET,
      jwtTtlSeconds: e.JWT_TTL_S,
      admin:
        e.ADMIN_LOGIN && e.ADMIN_PASSWORD
          ? { login: e.ADMIN_LOGIN, password: e.ADMIN_PASSWORD }
          : undefined,
      guestAgents: e.GUEST_AGENTS === 'on',
      guestMaxSlots: e.GUEST_MAX_SLOTS,
      guestPullsPerSecond: e.GUEST_PULLS_PER_SECOND,
      corsOrigins: (e.CORS_ORIGINS ?? '')
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o.length > 0),
      loginFreeFailures: e.LOGIN_FREE_FAILURES,
      loginFirstLockS: e.LOGIN_FIRST_LOCK_S,
      submissionsPerMinute: e.SUBMISSIONS_PER_MINUTE,
      maxUnfinishedPerUser: e.MAX_UNFINISHED_PER_USER,
      maxUnfinishedOpsPerUser: e.MAX_UNFINISHED_OPS_PER_USER,
      subscribesPerMinute: e.SUBSCRIBES_PER_MINUTE,
      maxSocketsPerAddress: e.MAX_SOCKETS_PER_ADDRESS,
      agentAdmissionsPerSecond: e.AGENT_ADMISSIONS_PER_SECOND,
    },
    cluster:
      e.REDIS_URL === undefined
        ? null
        : { redisUrl: e.REDIS_URL, advertiseUrl: e.ADVERTISE_URL, leaseMs: e.LEADER_LEASE_MS },
  };
}
