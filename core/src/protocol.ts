/**
 * The wire contract: zod schemas for everything that crosses a process boundary and the typed
 * Socket.IO event maps used by the orchestrator, the Node agent, the browser agent and the UI.
 */
import { z } from 'zod';
import type { ErrorInfo } from './errors.js';

/** Decimal number as it travels on the wire: `-12.5`, `0.3`, `1e-40` (decimal.js syntax). */
export const DecimalString = z
  .string()
  .max(100_000)
  .regex(/^-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i, 'must be a decimal number');

export const OperatorSchema = z.enum(['+', '-', '*', '/']);

export const AgentKindSchema = z.enum(['node', 'browser', 'http']);
export type AgentKind = z.infer<typeof AgentKindSchema>;

/**
 * `unresponsive`: connected, but its leases expired without answers; no work until its cool-down
 * ends. `quarantined`: returned a wrong result; no work until an admin releases it.
 */
export const AgentStatusSchema = z.enum([
  'active',
  'draining',
  'unresponsive',
  'lost',
  'quarantined',
]);
export type AgentStatus = z.infer<typeof AgentStatusSchema>;

export const ExpressionStatusSchema = z.enum([
  'pending',
  'in_progress',
  'done',
  'error',
  'canceled',
]);
export type ExpressionStatus = z.infer<typeof ExpressionStatusSchema>;

/** Bounds shared by the REST API and the settings page. */
export const SETTINGS_LIMITS = {
  maxOperationMs: 3_600_000,
  minRetentionMs: 0,
  maxRetentionMs: 7 * 24 * 3_600_000,
} as const;

const durationMs = z.number().int().min(0).max(SETTINGS_LIMITS.maxOperationMs);

export const SettingsSchema = z.object({
  additionMs: durationMs,
  subtractionMs: durationMs,
  multiplicationMs: durationMs,
  divisionMs: durationMs,
  lostAgentRetentionMs: z
    .number()
    .int()
    .min(SETTINGS_LIMITS.minRetentionMs)
    .max(SETTINGS_LIMITS.maxRetentionMs),
});
export type Settings = z.infer<typeof SettingsSchema>;

/** Body of `PUT /api/v1/settings`: any subset of the fields, nothing else. */
export const SettingsPatchSchema = SettingsSchema.partial().strict();
export type SettingsPatch = z.infer<typeof SettingsPatchSchema>;

export const DEFAULT_SETTINGS: Settings = {
  additionMs: 200,
  subtractionMs: 200,
  multiplicationMs: 1000,
  divisionMs: 1000,
  lostAgentRetentionMs: 60_000,
};

/** Body of `POST /api/v1/calculate`. */
export const CalculateBodySchema = z.object({
  expression: z.string(),
  id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only')
    .optional(),
});
export type CalculateBody = z.infer<typeof CalculateBodySchema>;

// ---------------------------------------------------------------- agents (/agents namespace)

/** What an agent says about itself in the Socket.IO handshake (`auth`). */
export const AgentHelloSchema = z.object({
  agentId: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._:-]+$/),
  name: z.string().min(1).max(64),
  kind: z.enum(['node', 'browser']),
  concurrency: z.number().int().min(1).max(256),
});
export type AgentHello = z.infer<typeof AgentHelloSchema>;

/** One unit of work pushed to an agent. `taskId` is `<expressionId>:<opId>`. */
export const TaskSchema = z.object({
  taskId: z.string(),
  attempt: z.number().int().min(1),
  op: OperatorSchema,
  a: DecimalString,
  b: DecimalString,
  durationMs: z.number().int().min(0),
});
export type Task = z.infer<typeof TaskSchema>;

/** An agent's answer for one task attempt: a value, or an error it hit while computing. */
export const TaskResultSchema = z.union([
  z.object({ taskId: z.string().max(200), attempt: z.number().int().min(1), value: DecimalString }),
  z.object({
    taskId: z.string().max(200),
    attempt: z.number().int().min(1),
    error: z.object({ code: z.string().max(64), message: z.string().max(1000) }),
  }),
]);
export type TaskResult = z.infer<typeof TaskResultSchema>;

export const TaskResultBatchSchema = z.array(TaskResultSchema).min(1).max(10_000);

/** Events the orchestrator sends to an agent. */
export interface ServerToAgentEvents {
  /** Current operation durations; sent on connect and on every change. */
  settings: (settings: Settings) => void;
  /** New tasks for free worker slots (batched). */
  tasks: (tasks: Task[]) => void;
  /** Tasks the agent should drop (expression canceled or task reassigned). */
  revoke: (taskIds: string[]) => void;
  /** The agent returned a wrong value and is being disconnected. */
  quarantined: (reason: string) => void;
}

/** Events an agent sends to the orchestrator. */
export interface AgentToServerEvents {
  /** Finished tasks (batched). */
  results: (results: TaskResult[]) => void;
  /** Stop sending new tasks; the agent is finishing what it has and will leave. */
  drain: () => void;
}

// ---------------------------------------------------------------- views (REST + /ui namespace)

export interface ExpressionView {
  id: string;
  expression: string;
  status: ExpressionStatus;
  /** The value as a JSON number (course compatibility); may lose precision. */
  result: number | null;
  /** The exact decimal value. */
  value: string | null;
  error: ErrorInfo | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  progress: { done: number; total: number };
  cached: boolean;
  /** Expected finish time while running (ISO), from the plan's bound and the free slots. */
  estimatedFinishAt: string | null;
  /** Why a running expression makes no progress now (no agent, or none responsive), else null. */
  waiting: string | null;
}

export type OperationState = 'waiting' | 'ready' | 'running' | 'done' | 'failed' | 'canceled';

export type OperandView = { kind: 'lit'; value: string } | { kind: 'op'; id: number };

export interface OperationView {
  id: number;
  op: '+' | '-' | '*' | '/';
  a: OperandView;
  b: OperandView;
  state: OperationState;
  aValue: string | null;
  bValue: string | null;
  result: string | null;
  agentId: string | null;
  agentName: string | null;
  attempt: number;
  /** Attempts that were taken back from an agent (lost, lease expired, wrong result). */
  reassigned: number;
  depth: number;
  span: { start: number; end: number };
  startedAt: string | null;
  finishedAt: string | null;
}

export interface AgentView {
  id: string;
  name: string;
  kind: AgentKind;
  status: AgentStatus;
  concurrency: number;
  running: string[];
  completed: number;
  /** Tasks it may hold at once now: halved per expired lease, +1 per accepted result. */
  window: number;
  /** Leases that expired on it without an answer, in all. */
  strikes: number;
  /** Why it is unresponsive or quarantined. */
  reason: string | null;
  connectedAt: string;
  lastSeenAt: string;
  /** When a lost/quarantined agent will disappear from the list. */
  expiresAt: string | null;
}

export interface StatsView {
  /** Operations completed per second, last few seconds. */
  opsPerSecond: number;
  readyQueue: number;
  running: number;
}

export interface UiSnapshot {
  expressions: ExpressionView[];
  agents: AgentView[];
  settings: Settings;
  stats: StatsView;
}

/** A batch of changes, flushed at most every ~100 ms. */
export interface UiDelta {
  expressions?: ExpressionView[];
  agents?: AgentView[];
  agentsRemoved?: string[];
  settings?: Settings;
  stats?: StatsView;
  /** Operation changes for expressions this client subscribed to. */
  operations?: { expressionId: string; operations: OperationView[] }[];
}

/** Events the orchestrator sends to a dashboard (`/ui` namespace). */
export interface ServerToUiEvents {
  snapshot: (snapshot: UiSnapshot) => void;
  delta: (delta: UiDelta) => void;
}

export const SubscribeSchema = z.string().min(1).max(128);

/** Events a dashboard sends. `subscribe` answers with the expression's operations. */
export interface UiToServerEvents {
  subscribe: (
    expressionId: string,
    ack: (
      reply:
        | { ok: true; expression: ExpressionView; operations: OperationView[] }
        | { ok: false; error: ErrorInfo },
    ) => void,
  ) => void;
  unsubscribe: (expressionId: string) => void;
}
