/**
 * The wire contract: zod schemas for everything that crosses a process boundary and the typed
 * Socket.IO event maps used by the orchestrator, the Node agent, the browser agent and the UI.
 */
import { z } from 'zod';
import { AgentTrustSchema } from './accounts.js';
import { ERROR_CODES, type ErrorCode, type ErrorInfo } from './errors.js';
import { SETTINGS_FIELDS, type SettingsField } from './settings.js';

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

/** A zod number schema for one settings field, from its row: a whole number within its bounds. */
function settingsFieldSchema(field: SettingsField): z.ZodNumber {
  return z.number().int().min(field.min).max(field.max);
}

/** `{additionMs: z.ZodNumber, …}`: the shape `SettingsSchema` is built from. */
type SettingsShape = { [F in SettingsField as F['key']]: z.ZodNumber };

/** The settings, every field required. Built from `SETTINGS_FIELDS`, the one declaration. */
export const SettingsSchema = z.object(
  Object.fromEntries(SETTINGS_FIELDS.map((f) => [f.key, settingsFieldSchema(f)])) as SettingsShape,
);
export type Settings = z.infer<typeof SettingsSchema>;

/** Body of `PUT /api/v1/settings`: any subset of the fields, nothing else. */
export const SettingsPatchSchema = SettingsSchema.partial().strict();
export type SettingsPatch = z.infer<typeof SettingsPatchSchema>;

/** Every field's default; parsing here checks the table's defaults against its own bounds. */
export const DEFAULT_SETTINGS: Settings = SettingsSchema.parse(
  Object.fromEntries(SETTINGS_FIELDS.map((f) => [f.key, f.default])),
);

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

/**
 * The agent protocol this build speaks, carried in every hello. An agent built for another one
 * (a browser tab running a cached worker, an old agent-node) is refused with a reason saying so
 * instead of failing on messages it does not understand. 2: batched tasks/results with
 * attempts, revoke, settings, quarantined (this build). The hello's optional `holding` needs no new
 * version: an orchestrator without it strips the field, one with it reconciles nothing without it.
 */
export const AGENT_PROTOCOL = 2;

/**
 * Entries of a hello's `holding` at most: an agent holds at most 2 × 256 leases (prefetch × its
 * slots), and an agent holding more lists the first ones only (the rest are sent again, and its
 * runner ignores what it already runs).
 */
export const MAX_HOLDING = 2048;

/** A task attempt an agent holds: running, waiting for a slot, or with a result not yet sent. */
export const HeldTaskSchema = z.object({
  taskId: z.string().max(200),
  attempt: z.number().int().min(1),
});
export type HeldTask = z.infer<typeof HeldTaskSchema>;

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
  /** `AGENT_PROTOCOL` of the agent's build; an agent from before versioning sends none. */
  protocol: z.number().int().min(1).max(1_000_000).optional(),
  /**
   * Who vouches for it (accounts mode): an admin-issued agent token, or a signed-in user's JWT
   * (a browser tab). Without one it is a guest, when guests are allowed.
   */
  token: z.string().max(4096).optional(),
  /**
   * The task attempts it holds (see `HeldTaskSchema`), told on every connection. On a reconnection
   * within the orchestrator's grace, the kept leases it does not hold are sent again (their
   * `tasks` message was lost with the connection, or their result was) and the ones it holds but
   * no longer leases are revoked. Absent (an agent from before this field): nothing is reconciled.
   */
  holding: z.array(HeldTaskSchema).max(MAX_HOLDING).optional(),
});
export type AgentHello = z.infer<typeof AgentHelloSchema>;

/**
 * One unit of work pushed to an agent. `taskId` is opaque (the same for every attempt of one
 * operation); it names no expression, user or idempotency key.
 */
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
export type TaskResultBatch = z.infer<typeof TaskResultBatchSchema>;

/** Events the orchestrator sends to an agent. */
export interface ServerToAgentEvents {
  /**
   * Current settings; sent on connect and on every change. Agents need none of it to work — each
   * task carries its own `durationMs` — so an agent may ignore it (the Node agent only logs it,
   * the browser agent shows it in its panel). It stays in the map for those two readers and
   * because the settings benchmark times its fan-out; dropping it would gain nothing.
   */
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
//
// Views are what the orchestrator shows the outside world: REST bodies, `/ui` snapshots and
// deltas. They are declared once, here, as zod schemas; the TypeScript types are inferred from
// them, the dashboard parses what it receives with them, and the OpenAPI document is generated
// from them. Objects strip unknown fields when parsed, so a reader tolerates a newer server.

const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/**
 * An error code from the registry. A reader that meets a code newer than itself reads it as
 * `INTERNAL` rather than dropping the whole view that carried it.
 */
export const ErrorCodeSchema = z.enum(ERROR_CODE_NAMES).catch('INTERNAL');

/** The error on an expression, in a subscribe reply, or inside an HTTP error body. */
export const ErrorInfoSchema = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  /** 0-based column in the expression source, when the error has one. */
  position: z.number().int().min(0).optional(),
}) satisfies z.ZodType<ErrorInfo>;

/**
 * `{"error": {code, message, position?, field?}}`: the one shape every failed REST call answers
 * with. `field` names the offending body or query field (BODY_INVALID, QUERY_INVALID,
 * SETTINGS_INVALID).
 */
export const ErrorBodySchema = z.object({
  error: ErrorInfoSchema.extend({ field: z.string().optional() }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** A timestamp as views carry it: ISO 8601 in UTC (`Date#toISOString`). */
const IsoDate = z.iso.datetime();

/**
 * Characters of an expression's text that lists, snapshots, deltas and subscribe replies carry.
 * A 1 MB expression sent whole in every delta would cost every dashboard a megabyte per change;
 * `GET /api/v1/expressions/{id}` answers the whole text when someone wants to read it.
 */
export const EXPRESSION_PREFIX_CHARS = 256;

/**
 * Operations a page holds at most (REST and subscribe). Building one view costs about a
 * microsecond; 2,000 of them stay well under a millisecond of event loop per page.
 */
export const MAX_OPERATIONS_PAGE = 2000;

/**
 * Operations whose changes are pushed live to subscribed dashboards: ids below this. A huge
 * expression's other operations are read page by page over REST; a flush then builds at most this
 * many views per watched expression whatever the expression's size.
 */
export const LIVE_OPERATIONS_WINDOW = 5000;

export const ExpressionViewSchema = z.object({
  id: z.string(),
  /**
   * The source text: whole from `GET /api/v1/expressions/{id}`, elsewhere (lists, snapshots,
   * deltas, subscribe) at most its first `EXPRESSION_PREFIX_CHARS` characters.
   */
  expression: z.string(),
  /** The whole text's length: more than `expression.length` when `expression` is a prefix. */
  expressionLength: z.number().int().min(0),
  status: ExpressionStatusSchema,
  /** The value as a JSON number (course compatibility); may lose precision. */
  result: z.number().nullable(),
  /** The exact decimal value. */
  value: z.string().nullable(),
  error: ErrorInfoSchema.nullable(),
  createdAt: IsoDate,
  startedAt: IsoDate.nullable(),
  finishedAt: IsoDate.nullable(),
  progress: z.object({ done: z.number().int().min(0), total: z.number().int().min(0) }),
  cached: z.boolean(),
  /** Expected finish time while running (ISO), from the plan's bound and the free slots. */
  estimatedFinishAt: IsoDate.nullable(),
  /**
   * Why a running expression makes no progress now, else null: no agent is connected
   * (`no_agent`), or every connected one is in its unresponsive cool-down (`no_responsive_agent`).
   */
  waiting: z.enum(['no_agent', 'no_responsive_agent']).nullable(),
});
export type ExpressionView = z.infer<typeof ExpressionViewSchema>;

export const OperationStateSchema = z.enum([
  'waiting',
  'ready',
  'running',
  'done',
  'failed',
  'canceled',
]);
export type OperationState = z.infer<typeof OperationStateSchema>;

export const OperandViewSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('lit'), value: z.string() }),
  z.object({ kind: z.literal('op'), id: z.number().int().min(0) }),
]);
export type OperandView = z.infer<typeof OperandViewSchema>;

export const OperationViewSchema = z.object({
  id: z.number().int().min(0),
  op: OperatorSchema,
  a: OperandViewSchema,
  b: OperandViewSchema,
  state: OperationStateSchema,
  aValue: z.string().nullable(),
  bValue: z.string().nullable(),
  result: z.string().nullable(),
  agentId: z.string().nullable(),
  agentName: z.string().nullable(),
  attempt: z.number().int().min(0),
  /** Attempts that were taken back from an agent (lost, lease expired, wrong result). */
  reassigned: z.number().int().min(0),
  depth: z.number().int().min(0),
  span: z.object({ start: z.number().int().min(0), end: z.number().int().min(0) }),
  startedAt: IsoDate.nullable(),
  finishedAt: IsoDate.nullable(),
});
export type OperationView = z.infer<typeof OperationViewSchema>;

/**
 * An agent. Users (not admins) see only their own agents (browser tabs) as they are; every other
 * one under an alias (`agent-<12 hex>`, as `id` and `name`), and no task ids.
 */
export const AgentViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: AgentKindSchema,
  status: AgentStatusSchema,
  concurrency: z.number().int().min(0),
  /** Task ids it holds now: for admins; users get an empty list (see `runningCount`). */
  running: z.array(z.string()),
  /** How many tasks it holds now. */
  runningCount: z.number().int().min(0),
  completed: z.number().int().min(0),
  /** Tasks it may hold at once now: halved per expired lease, +1 per accepted result. */
  window: z.number().int().min(0),
  /** Leases that expired on it without an answer, in all. */
  strikes: z.number().int().min(0),
  /** Why it is unresponsive or quarantined. */
  reason: z.string().nullable(),
  /** How far it is trusted (see `AgentTrustSchema`); `open` mode lists everyone as `credential`. */
  trust: AgentTrustSchema,
  connectedAt: IsoDate,
  lastSeenAt: IsoDate,
  /** When a lost/quarantined agent will disappear from the list. */
  expiresAt: IsoDate.nullable(),
});
export type AgentView = z.infer<typeof AgentViewSchema>;

export const StatsViewSchema = z.object({
  /** Operations completed per second, last few seconds. */
  opsPerSecond: z.number().min(0),
  readyQueue: z.number().int().min(0),
  running: z.number().int().min(0),
});
export type StatsView = z.infer<typeof StatsViewSchema>;

/** What a dashboard receives on connect. */
export const UiSnapshotSchema = z.object({
  expressions: z.array(ExpressionViewSchema),
  agents: z.array(AgentViewSchema),
  settings: SettingsSchema,
  stats: StatsViewSchema,
});
export type UiSnapshot = z.infer<typeof UiSnapshotSchema>;

/** A batch of changes, flushed at most every ~100 ms. */
export const UiDeltaSchema = z.object({
  expressions: z.array(ExpressionViewSchema).optional(),
  agents: z.array(AgentViewSchema).optional(),
  agentsRemoved: z.array(z.string()).optional(),
  /** Expressions deleted (by their owner, an admin, or retention). */
  expressionsRemoved: z.array(z.string()).optional(),
  settings: SettingsSchema.optional(),
  stats: StatsViewSchema.optional(),
  /** Operation changes for expressions this client subscribed to. */
  operations: z
    .array(z.object({ expressionId: z.string(), operations: z.array(OperationViewSchema) }))
    .optional(),
});
export type UiDelta = z.infer<typeof UiDeltaSchema>;

/**
 * The answer to a dashboard's `subscribe`: the expression and the first page of its operations
 * (ids from 0), or why not. `nextCursor` (null: that was all) continues over
 * `GET /api/v1/expressions/{id}/operations?cursor=…`. Live operation deltas follow for ids below
 * `LIVE_OPERATIONS_WINDOW`.
 */
export const SubscribeReplySchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    expression: ExpressionViewSchema,
    operations: z.array(OperationViewSchema),
    nextCursor: z.string().nullable(),
  }),
  z.object({ ok: z.literal(false), error: ErrorInfoSchema }),
]);
export type SubscribeReply = z.infer<typeof SubscribeReplySchema>;

// ---------------------------------------------------------------- REST bodies (/api/v1)

/** Query of `GET /api/v1/expressions`: a page size and the cursor of the previous page. */
export const ExpressionListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(400).optional(),
});

/** `POST /api/v1/calculate` → 201 (new) or 200 (an idempotent replay). */
export const CalculateReplySchema = z.object({ id: z.string() });
/** `GET /api/v1/expressions`: newest first; `nextCursor` is null on the last page. */
export const ExpressionPageSchema = z.object({
  expressions: z.array(ExpressionViewSchema),
  nextCursor: z.string().nullable(),
});
export const ExpressionReplySchema = z.object({ expression: ExpressionViewSchema });
/** Query of `GET /api/v1/expressions/{id}/operations`: a page size and where the page starts. */
export const OperationsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_OPERATIONS_PAGE).default(500),
  cursor: z.string().max(32).optional(),
});
/** `GET /api/v1/expressions/{id}/operations`: by id; `nextCursor` is null on the last page. */
export const OperationsReplySchema = z.object({
  operations: z.array(OperationViewSchema),
  nextCursor: z.string().nullable(),
});

/** `DELETE /api/v1/expressions[/:id]`: how many finished expressions were deleted. */
export const DeletedReplySchema = z.object({ deleted: z.number().int().nonnegative() });
export type DeletedReply = z.infer<typeof DeletedReplySchema>;
export const SettingsReplySchema = z.object({ settings: SettingsSchema });
export const AgentsReplySchema = z.object({
  agents: z.array(AgentViewSchema),
  /** The `cursor` of the next page; null on the last. */
  nextCursor: z.string().nullable(),
});
/** Agents in one page of `GET /api/v1/agents`, at most and by default. */
export const MAX_AGENTS_PAGE = 1000;
/** `GET /api/v1/agents`: agents in the order they joined, one page at a time. */
export const AgentListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_AGENTS_PAGE).default(MAX_AGENTS_PAGE),
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'not a cursor returned by this API')
    .optional(),
});
/** `POST /api/v1/agents/{id}/release`: the id whose quarantine was lifted. */
export const ReleaseReplySchema = z.object({ released: z.string() });

// ---------------------------------------------------------------- course protocol (/internal/task)

/**
 * A task as the course's standard HTTP agent receives it (`GET /internal/task` → `{task}`).
 * Operands are JSON numbers, as the course defines them. The orchestrator issues numeric ids;
 * the schema takes a string too, since course agents may decode and echo the id either way.
 */
/**
 * Course task ids are positive integers below 2^53 (exact as JSON numbers). Agents decode them as
 * a number or as a string, so they travel as either (see the course protocol in the README).
 */
const CourseTaskId = z.union([
  z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  z.string().regex(/^\d{1,16}$/),
]);

export const CourseTaskSchema = z.object({
  id: CourseTaskId,
  arg1: z.number(),
  arg2: z.number(),
  operation: OperatorSchema,
  operation_time: z.number().int().min(0),
});
export type CourseTask = z.infer<typeof CourseTaskSchema>;

/** Body of `POST /internal/task`: the task id and its result, as a JSON number or a decimal. */
export const CourseResultSchema = z.object({
  id: CourseTaskId,
  result: z.union([z.number().finite(), DecimalString]),
});
export type CourseResult = z.infer<typeof CourseResultSchema>;

// ---------------------------------------------------------------- /ui namespace events

/** Events the orchestrator sends to a dashboard (`/ui` namespace). */
export interface ServerToUiEvents {
  snapshot: (snapshot: UiSnapshot) => void;
  delta: (delta: UiDelta) => void;
}

export const SubscribeSchema = z.string().min(1).max(128);

/** Events a dashboard sends. `subscribe` answers with the expression's operations. */
export interface UiToServerEvents {
  subscribe: (expressionId: string, ack: (reply: SubscribeReply) => void) => void;
  unsubscribe: (expressionId: string) => void;
}
