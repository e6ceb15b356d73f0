/**
 * The named schemas of the OpenAPI document (`components.schemas`): core's views and replies,
 * the error body, and the few bodies only this document describes (health, readiness, course).
 */
import { z } from 'zod';
import {
  AgentCredentialViewSchema,
  AgentsReplySchema,
  CreateCredentialReplySchema,
  CredentialReplySchema,
  CredentialsReplySchema,
  KickReplySchema,
  LoginReplySchema,
  LogoutReplySchema,
  MeReplySchema,
  PasswordReplySchema,
  UsersReplySchema,
  UserReplySchema,
  DeleteUserReplySchema,
  RegisterReplySchema,
  UserViewSchema,
  ReleaseReplySchema,
  AgentViewSchema,
  CalculateReplySchema,
  CourseTaskSchema,
  ErrorBodySchema,
  ErrorInfoSchema,
  ExpressionPageSchema,
  ExpressionReplySchema,
  DeletedReplySchema,
  ExpressionViewSchema,
  OperationsReplySchema,
  OperationViewSchema,
  SettingsReplySchema,
  SettingsSchema,
  StatsViewSchema,
  UiDeltaSchema,
  UiSnapshotSchema,
} from '@expressionist/core';
import { bare, dropCatchDefault, type JsonSchema } from './json-schema.js';

/** `GET /healthz`: 200 `ok`, or 503 when the store does not answer. */
export const HealthSchema = z.object({ status: z.enum(['ok', 'store unreachable']) });
/**
 * `GET /readyz`: ready = the store answers and the scheduler accepts work. Several orchestrators
 * (REDIS_URL): also Redis answers, and a gateway knows a leader to forward to.
 */
export const ReadinessSchema = z.object({
  ready: z.boolean(),
  role: z.enum(['single', 'leader', 'gateway', 'taking-over']),
  store: z.boolean(),
  accepting: z.boolean(),
  instance: z.string().optional(),
  redis: z.boolean().optional(),
  leader: z
    .object({ instance: z.string(), url: z.string(), epoch: z.number().int().positive() })
    .nullable()
    .optional(),
});
/** `GET /internal/task` → `{task}`. */
export const CourseTaskReplySchema = z.object({ task: CourseTaskSchema });
/** `POST /internal/task` → `{ok: true}` once the result is verified and stored. */
export const CourseAcceptedSchema = z.object({ ok: z.literal(true) });

/** Every schema that gets a name under `components.schemas`. */
const COMPONENTS = {
  ErrorInfo: ErrorInfoSchema,
  ErrorBody: ErrorBodySchema,
  Settings: SettingsSchema,
  ExpressionView: ExpressionViewSchema,
  OperationView: OperationViewSchema,
  AgentView: AgentViewSchema,
  StatsView: StatsViewSchema,
  CalculateReply: CalculateReplySchema,
  ExpressionPage: ExpressionPageSchema,
  ExpressionReply: ExpressionReplySchema,
  DeletedReply: DeletedReplySchema,
  OperationsReply: OperationsReplySchema,
  SettingsReply: SettingsReplySchema,
  AgentsReply: AgentsReplySchema,
  ReleaseReply: ReleaseReplySchema,
  KickReply: KickReplySchema,
  UserView: UserViewSchema,
  RegisterReply: RegisterReplySchema,
  LoginReply: LoginReplySchema,
  LogoutReply: LogoutReplySchema,
  PasswordReply: PasswordReplySchema,
  UsersReply: UsersReplySchema,
  UserReply: UserReplySchema,
  DeleteUserReply: DeleteUserReplySchema,
  MeReply: MeReplySchema,
  AgentCredentialView: AgentCredentialViewSchema,
  CredentialsReply: CredentialsReplySchema,
  CreateCredentialReply: CreateCredentialReplySchema,
  CredentialReply: CredentialReplySchema,
  CourseTask: CourseTaskSchema,
  CourseTaskReply: CourseTaskReplySchema,
  CourseAccepted: CourseAcceptedSchema,
  Health: HealthSchema,
  Readiness: ReadinessSchema,
  // Not REST bodies: the `/ui` Socket.IO payloads, documented alongside the views they carry.
  UiSnapshot: UiSnapshotSchema,
  UiDelta: UiDeltaSchema,
} as const satisfies Record<string, z.ZodType>;

export type ComponentName = keyof typeof COMPONENTS;

export const ref = (name: ComponentName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

export function componentSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    uri: (id) => `#/components/schemas/${id}`,
    override: dropCatchDefault,
  });
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, bare(s)]));
}
