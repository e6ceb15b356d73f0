/**
 * Run-time schemas for what the orchestrator sends to the dashboard (REST bodies, `/ui` socket
 * events). `core` declares these views as interfaces; each schema here is typed against its
 * interface, so a field renamed in `core` breaks this file's build rather than the page.
 * Unknown fields are stripped; unknown error codes become `INTERNAL` instead of dropping data.
 */
import { z } from 'zod';
import {
  AgentKindSchema,
  AgentStatusSchema,
  ERROR_CODES,
  ExpressionStatusSchema,
  OperatorSchema,
  SettingsSchema,
  type AgentView,
  type ErrorCode,
  type ErrorInfo,
  type ExpressionView,
  type OperandView,
  type OperationView,
  type StatsView,
  type UiDelta,
  type UiSnapshot,
} from '@expressionist/core';

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

const ErrorCodeSchema = z
  .string()
  .transform((code): ErrorCode => (isErrorCode(code) ? code : 'INTERNAL'));

export const ErrorInfoSchema: z.ZodType<ErrorInfo> = z.object({
  code: ErrorCodeSchema,
  message: z.string(),
  position: z.number().int().optional(),
});

const IsoDate = z.string();

export const ExpressionViewSchema: z.ZodType<ExpressionView> = z.object({
  id: z.string(),
  expression: z.string(),
  status: ExpressionStatusSchema,
  result: z.number().nullable(),
  value: z.string().nullable(),
  error: ErrorInfoSchema.nullable(),
  createdAt: IsoDate,
  startedAt: IsoDate.nullable(),
  finishedAt: IsoDate.nullable(),
  progress: z.object({ done: z.number().int().min(0), total: z.number().int().min(0) }),
  cached: z.boolean(),
  estimatedFinishAt: IsoDate.nullable(),
});

const OperandViewSchema: z.ZodType<OperandView> = z.union([
  z.object({ kind: z.literal('lit'), value: z.string() }),
  z.object({ kind: z.literal('op'), id: z.number().int() }),
]);

export const OperationViewSchema: z.ZodType<OperationView> = z.object({
  id: z.number().int(),
  op: OperatorSchema,
  a: OperandViewSchema,
  b: OperandViewSchema,
  state: z.enum(['waiting', 'ready', 'running', 'done', 'failed', 'canceled']),
  aValue: z.string().nullable(),
  bValue: z.string().nullable(),
  result: z.string().nullable(),
  agentId: z.string().nullable(),
  agentName: z.string().nullable(),
  attempt: z.number().int().min(0),
  reassigned: z.number().int().min(0),
  depth: z.number().int().min(0),
  span: z.object({ start: z.number().int(), end: z.number().int() }),
  startedAt: IsoDate.nullable(),
  finishedAt: IsoDate.nullable(),
});

export const AgentViewSchema: z.ZodType<AgentView> = z.object({
  id: z.string(),
  name: z.string(),
  kind: AgentKindSchema,
  status: AgentStatusSchema,
  concurrency: z.number().int(),
  running: z.array(z.string()),
  completed: z.number().int(),
  connectedAt: IsoDate,
  lastSeenAt: IsoDate,
  expiresAt: IsoDate.nullable(),
});

export const StatsViewSchema: z.ZodType<StatsView> = z.object({
  opsPerSecond: z.number(),
  readyQueue: z.number().int(),
  running: z.number().int(),
});

export const UiSnapshotSchema: z.ZodType<UiSnapshot> = z.object({
  expressions: z.array(ExpressionViewSchema),
  agents: z.array(AgentViewSchema),
  settings: SettingsSchema,
  stats: StatsViewSchema,
});

export const UiDeltaSchema: z.ZodType<UiDelta> = z.object({
  expressions: z.array(ExpressionViewSchema).optional(),
  agents: z.array(AgentViewSchema).optional(),
  agentsRemoved: z.array(z.string()).optional(),
  settings: SettingsSchema.optional(),
  stats: StatsViewSchema.optional(),
  operations: z
    .array(z.object({ expressionId: z.string(), operations: z.array(OperationViewSchema) }))
    .optional(),
});

export const SubscribeReplySchema = z.union([
  z.object({
    ok: z.literal(true),
    expression: ExpressionViewSchema,
    operations: z.array(OperationViewSchema),
  }),
  z.object({ ok: z.literal(false), error: ErrorInfoSchema }),
]);

/** `{"error": {...}}` as every failed REST call answers; `field` comes with SETTINGS_INVALID. */
export const ApiErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    position: z.number().int().optional(),
    field: z.string().optional(),
  }),
});

export const CalculateReplySchema = z.object({ id: z.string() });
export const ExpressionPageSchema = z.object({
  expressions: z.array(ExpressionViewSchema),
  nextCursor: z.string().nullable().optional(),
});
export const ExpressionReplySchema = z.object({ expression: ExpressionViewSchema });
export const OperationsReplySchema = z.object({ operations: z.array(OperationViewSchema) });
export const SettingsReplySchema = z.object({ settings: SettingsSchema });
export const AgentsReplySchema = z.object({ agents: z.array(AgentViewSchema) });
