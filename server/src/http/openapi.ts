/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the same zod schemas in `core` that
 * the handlers validate with and the dashboard parses with — never written by hand, so it cannot
 * drift from the code. OpenAPI 3.1 schemas are JSON Schema 2020-12, which is zod's default target.
 * Response-side schemas are converted once into `components.schemas` (as zod's *output* type:
 * what the server sends); request bodies are converted inline as the *input* type (what a client
 * may send). Error responses list the registry codes each route can answer with, grouped by the
 * status `ERROR_CODES` gives them, and pin the `code` field to exactly those codes.
 */
import { Router } from 'express';
import { z } from 'zod';
import {
  AgentCredentialViewSchema,
  AgentsReplySchema,
  CreateCredentialBodySchema,
  CreateCredentialReplySchema,
  CredentialReplySchema,
  CredentialsBodySchema,
  CredentialsReplySchema,
  KickReplySchema,
  LoginReplySchema,
  MeReplySchema,
  RegisterReplySchema,
  SetupBodySchema,
  UserViewSchema,
  ReleaseReplySchema,
  AgentViewSchema,
  CalculateBodySchema,
  CalculateReplySchema,
  CourseResultSchema,
  CourseTaskSchema,
  ERROR_CODES,
  ErrorBodySchema,
  ErrorInfoSchema,
  ExpressionListQuerySchema,
  ExpressionPageSchema,
  ExpressionReplySchema,
  ExpressionViewSchema,
  OperationsReplySchema,
  OperationViewSchema,
  SettingsPatchSchema,
  SettingsReplySchema,
  SettingsSchema,
  StatsViewSchema,
  UiDeltaSchema,
  UiSnapshotSchema,
  type ErrorCode,
} from '@expressionist/core';

type JsonSchema = z.core.JSONSchema.JSONSchema;

/** `GET /healthz`: 200 `ok`, or 503 when the store does not answer. */
export const HealthSchema = z.object({ status: z.enum(['ok', 'store unreachable']) });
/** `GET /readyz`: ready = the store answers and the scheduler accepts work. */
export const ReadinessSchema = z.object({
  ready: z.boolean(),
  store: z.boolean(),
  accepting: z.boolean(),
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
  OperationsReply: OperationsReplySchema,
  SettingsReply: SettingsReplySchema,
  AgentsReply: AgentsReplySchema,
  ReleaseReply: ReleaseReplySchema,
  KickReply: KickReplySchema,
  UserView: UserViewSchema,
  RegisterReply: RegisterReplySchema,
  LoginReply: LoginReplySchema,
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

type ComponentName = keyof typeof COMPONENTS;

const ref = (name: ComponentName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/**
 * zod writes `.catch(x)` as `default: x`; on a response that reads as if the server filled the
 * field in. The catch is the reader's tolerance of newer codes, not part of the contract: drop it.
 */
function dropCatchDefault(ctx: { zodSchema: z.core.$ZodTypes; jsonSchema: JsonSchema }): void {
  if (ctx.zodSchema._zod.def.type === 'catch') delete ctx.jsonSchema.default;
}

/** A JSON Schema without the document-level keys zod adds (`$schema`, `$id`). */
function bare(schema: JsonSchema): JsonSchema {
  return Object.fromEntries(
    Object.entries(schema).filter(([key]) => key !== '$schema' && key !== '$id'),
  );
}

function componentSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    uri: (id) => `#/components/schemas/${id}`,
    override: dropCatchDefault,
  });
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, bare(s)]));
}

/** A request-side schema, inline: what a client may send (defaults and coercions applied later). */
function input(schema: z.ZodType): JsonSchema {
  return bare(z.toJSONSchema(schema, { io: 'input', override: dropCatchDefault }));
}

const BODY_ERRORS: ErrorCode[] = ['BODY_INVALID', 'BODY_TOO_LARGE'];
const PARSE_ERRORS: ErrorCode[] = [
  'EXPR_EMPTY',
  'EXPR_UNEXPECTED_CHAR',
  'EXPR_UNEXPECTED_END',
  'EXPR_UNEXPECTED_TOKEN',
  'EXPR_MISSING_OPERATOR',
  'EXPR_UNCLOSED_PAREN',
  'EXPR_UNMATCHED_PAREN',
  'EXPR_BAD_NUMBER',
  'EXPR_TOO_LONG',
  'EXPR_TOO_DEEP',
];
/** A path `{id}` that is not valid percent-encoding answers NOT_FOUND, like an unknown route. */
const ID_ERRORS: ErrorCode[] = ['EXPRESSION_NOT_FOUND', 'NOT_FOUND'];

interface Success {
  status: number;
  description: string;
  /** A component (as JSON), or schemas by media type (text bodies). */
  body: ComponentName | { media: Record<string, JsonSchema> };
}

/** One operation of the document. */
export interface RouteDoc {
  method: 'get' | 'post' | 'put';
  /** OpenAPI path template, e.g. `/api/v1/expressions/{id}`. */
  path: string;
  summary: string;
  tag: 'api' | 'accounts' | 'course' | 'ops';
  query?: Record<string, { schema: JsonSchema; description: string }>;
  body?: z.ZodType;
  success: Success[];
  /** Codes this route can answer with, beside INTERNAL (every route can). */
  errors?: ErrorCode[];
  /**
   * Who may call it (accounts mode; in AUTH_MODE=open everyone may): nobody needs a token
   * (absent), a token is read when sent (`optional`), any signed-in user (`user`), an admin
   * (`admin`), or an admin or a caller on this machine (`local-or-admin`).
   */
  auth?: 'optional' | 'user' | 'admin' | 'local-or-admin';
}

const AUTH_ERRORS: Record<NonNullable<RouteDoc['auth']>, ErrorCode[]> = {
  optional: ['UNAUTHENTICATED'],
  user: ['UNAUTHENTICATED'],
  admin: ['UNAUTHENTICATED', 'FORBIDDEN'],
  'local-or-admin': ['UNAUTHENTICATED', 'FORBIDDEN'],
};

const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Expression id: server-made, or the client key given at submission.',
  schema: { type: 'string' },
};

/** Every route `createApp` mounts. The test checks this against the app's real router stack. */
export const ROUTES: readonly RouteDoc[] = [
  {
    method: 'post',
    path: '/api/v1/calculate',
    auth: 'user',
    summary:
      'Submit an expression (owned by the caller); it is planned and stored before the answer. Client ids are per user. Limited per user: SUBMISSIONS_PER_MINUTE, MAX_UNFINISHED_PER_USER.',
    tag: 'api',
    body: CalculateBodySchema,
    success: [
      { status: 201, description: 'Accepted as a new expression.', body: 'CalculateReply' },
      {
        status: 200,
        description: 'The client id was already used for this same expression (idempotent).',
        body: 'CalculateReply',
      },
    ],
    errors: [
      ...BODY_ERRORS,
      ...PARSE_ERRORS,
      'IDEMPOTENCY_CONFLICT',
      'RATE_LIMITED',
      'STORE_UNAVAILABLE',
      'SHUTTING_DOWN',
    ],
  },
  {
    method: 'get',
    path: '/api/v1/expressions',
    auth: 'user',
    summary:
      "List the caller's expressions (an admin: everyone's), newest first, one page at a time.",
    tag: 'api',
    query: {
      limit: {
        schema: z.toJSONSchema(ExpressionListQuerySchema.shape.limit),
        description: 'Page size.',
      },
      cursor: {
        schema: input(ExpressionListQuerySchema.shape.cursor),
        description: '`nextCursor` of the previous page.',
      },
    },
    success: [{ status: 200, description: 'One page.', body: 'ExpressionPage' }],
    errors: ['QUERY_INVALID'],
  },
  {
    method: 'get',
    path: '/api/v1/expressions/{id}',
    auth: 'user',
    summary: "One expression; another user's answers 404 like a missing id.",
    tag: 'api',
    success: [{ status: 200, description: 'The expression.', body: 'ExpressionReply' }],
    errors: ID_ERRORS,
  },
  {
    method: 'get',
    path: '/api/v1/expressions/{id}/operations',
    auth: 'user',
    summary: "An expression's operations (its DAG) with their states.",
    tag: 'api',
    success: [{ status: 200, description: 'The operations.', body: 'OperationsReply' }],
    errors: ID_ERRORS,
  },
  {
    method: 'post',
    path: '/api/v1/expressions/{id}/cancel',
    auth: 'user',
    summary: 'Cancel a pending or running expression.',
    tag: 'api',
    success: [{ status: 200, description: 'The canceled expression.', body: 'ExpressionReply' }],
    errors: [...ID_ERRORS, 'ALREADY_FINISHED'],
  },
  {
    method: 'get',
    path: '/api/v1/settings',
    auth: 'user',
    summary: 'Current operation durations and agent retention.',
    tag: 'api',
    success: [{ status: 200, description: 'The settings.', body: 'SettingsReply' }],
  },
  {
    method: 'put',
    path: '/api/v1/settings',
    auth: 'admin',
    summary: 'Change any subset of the settings; stored, then pushed to agents and dashboards.',
    tag: 'api',
    body: SettingsPatchSchema,
    success: [
      { status: 200, description: 'The settings after the change.', body: 'SettingsReply' },
    ],
    errors: [...BODY_ERRORS, 'SETTINGS_INVALID', 'STORE_UNAVAILABLE'],
  },
  {
    method: 'get',
    path: '/api/v1/agents',
    auth: 'user',
    summary: 'Connected agents, and lost ones until their retention ends.',
    tag: 'api',
    success: [{ status: 200, description: 'The agents.', body: 'AgentsReply' }],
  },
  {
    method: 'post',
    path: '/api/v1/agents/{id}/release',
    auth: 'admin',
    summary: 'Lift the quarantine of an agent: it may join (and compute) again.',
    tag: 'api',
    success: [{ status: 200, description: 'Released.', body: 'ReleaseReply' }],
    errors: ['AGENT_NOT_QUARANTINED', 'NOT_FOUND'],
  },
  {
    method: 'post',
    path: '/api/v1/agents/{id}/kick',
    auth: 'admin',
    summary: 'Disconnect a connected agent (its work goes back to the queue; it may reconnect).',
    tag: 'api',
    success: [{ status: 200, description: 'Disconnected.', body: 'KickReply' }],
    errors: ['AGENT_NOT_CONNECTED', 'NOT_FOUND'],
  },
  {
    method: 'post',
    path: '/api/v1/register',
    summary: 'Create an account (role `user`). Limited per address.',
    tag: 'accounts',
    body: CredentialsBodySchema,
    success: [{ status: 200, description: 'The new user.', body: 'RegisterReply' }],
    errors: [...BODY_ERRORS, 'ACCOUNT_INVALID', 'LOGIN_TAKEN', 'RATE_LIMITED'],
  },
  {
    method: 'post',
    path: '/api/v1/login',
    summary:
      'Sign in: a JWT for `Authorization: Bearer`. Failed attempts lock the login and the address for growing times (`Retry-After`).',
    tag: 'accounts',
    body: CredentialsBodySchema,
    success: [{ status: 200, description: 'A token.', body: 'LoginReply' }],
    errors: [...BODY_ERRORS, 'LOGIN_FAILED', 'RATE_LIMITED'],
  },
  {
    method: 'post',
    path: '/api/v1/setup',
    summary:
      'Create the first admin with the one-time token of the setup link the orchestrator prints; signs in.',
    tag: 'accounts',
    body: SetupBodySchema,
    success: [{ status: 200, description: 'The admin is created; a token.', body: 'LoginReply' }],
    errors: [...BODY_ERRORS, 'SETUP_INVALID', 'ACCOUNT_INVALID', 'LOGIN_TAKEN'],
  },
  {
    method: 'get',
    path: '/api/v1/me',
    auth: 'optional',
    summary: 'How this orchestrator is run (mode, guests, setup pending) and who the caller is.',
    tag: 'accounts',
    success: [{ status: 200, description: 'The caller and the mode.', body: 'MeReply' }],
  },
  {
    method: 'get',
    path: '/api/v1/agent-credentials',
    auth: 'admin',
    summary: 'Agent credentials, revoked ones included (never their tokens).',
    tag: 'accounts',
    success: [{ status: 200, description: 'The credentials.', body: 'CredentialsReply' }],
  },
  {
    method: 'post',
    path: '/api/v1/agent-credentials',
    auth: 'admin',
    summary: 'Issue an agent credential; its token is in this answer only (stored hashed).',
    tag: 'accounts',
    body: CreateCredentialBodySchema,
    success: [
      { status: 201, description: 'The credential and its token.', body: 'CreateCredentialReply' },
    ],
    errors: [...BODY_ERRORS],
  },
  {
    method: 'post',
    path: '/api/v1/agent-credentials/{id}/revoke',
    auth: 'admin',
    summary: 'Revoke an agent credential: agents holding it are disconnected and refused.',
    tag: 'accounts',
    success: [{ status: 200, description: 'The revoked credential.', body: 'CredentialReply' }],
    errors: ['CREDENTIAL_NOT_FOUND', 'NOT_FOUND'],
  },
  {
    method: 'get',
    path: '/api/v1/openapi.json',
    summary: 'This document.',
    tag: 'api',
    success: [
      {
        status: 200,
        description: 'The OpenAPI 3.1 document.',
        body: { media: { 'application/json': { type: 'object' } } },
      },
    ],
  },
  {
    method: 'get',
    path: '/internal/task',
    summary: "Course agent protocol: lease one task (the agent's X-Agent-Id header names it).",
    tag: 'course',
    success: [{ status: 200, description: 'A task to compute.', body: 'CourseTaskReply' }],
    // TASK_NOT_FOUND: nothing to do right now; AGENT_QUARANTINED: this agent is quarantined.
    errors: ['TASK_NOT_FOUND', 'AGENT_QUARANTINED'],
  },
  {
    method: 'post',
    path: '/internal/task',
    summary: 'Course agent protocol: the result of a leased task.',
    tag: 'course',
    body: CourseResultSchema,
    success: [{ status: 200, description: 'Verified and stored.', body: 'CourseAccepted' }],
    errors: [
      ...BODY_ERRORS,
      'TASK_RESULT_INVALID',
      'TASK_NOT_FOUND',
      'TASK_RESULT_WRONG',
      'AGENT_QUARANTINED',
    ],
  },
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: the process answers and the store is reachable.',
    tag: 'ops',
    success: [
      { status: 200, description: 'Healthy.', body: 'Health' },
      { status: 503, description: 'The store is unreachable.', body: 'Health' },
    ],
  },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: the store is reachable and new work is accepted.',
    tag: 'ops',
    success: [
      { status: 200, description: 'Ready.', body: 'Readiness' },
      { status: 503, description: 'Not ready (store down or shutting down).', body: 'Readiness' },
    ],
  },
  {
    method: 'get',
    path: '/metrics',
    auth: 'local-or-admin',
    summary: 'Prometheus metrics.',
    tag: 'ops',
    success: [
      {
        status: 200,
        description: 'Prometheus text exposition format.',
        body: { media: { 'text/plain': { type: 'string' } } },
      },
    ],
  },
  {
    method: 'get',
    path: '/',
    summary:
      'The dashboard when it is built (client-side routes fall back to it), else a plain-text notice.',
    tag: 'ops',
    success: [
      {
        status: 200,
        description: 'The dashboard, or a notice that it is not built.',
        body: { media: { 'text/html': { type: 'string' }, 'text/plain': { type: 'string' } } },
      },
    ],
  },
];

function errorResponses(codes: readonly ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, 'INTERNAL' as const]) {
    const { status } = ERROR_CODES[code];
    const list = byStatus.get(status) ?? [];
    if (!list.includes(code)) list.push(code);
    byStatus.set(status, list);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      String(status),
      {
        description: list.map((code) => `\`${code}\`: ${ERROR_CODES[code].message}`).join(' '),
        content: {
          'application/json': {
            schema: {
              allOf: [
                ref('ErrorBody'),
                {
                  type: 'object',
                  properties: { error: { type: 'object', properties: { code: { enum: list } } } },
                },
              ],
            },
          },
        },
      },
    ]),
  );
}

function operation(route: RouteDoc): Record<string, unknown> {
  const parameters = [
    ...(route.path.includes('{id}') ? [idParam] : []),
    ...Object.entries(route.query ?? {}).map(([name, { schema, description }]) => ({
      name,
      in: 'query',
      required: false,
      description,
      schema: bare(schema),
    })),
  ];
  const responses: Record<string, unknown> = {};
  for (const { status, description, body } of route.success) {
    const media = typeof body === 'string' ? { 'application/json': ref(body) } : body.media;
    const content = Object.fromEntries(
      Object.entries(media).map(([mediaType, schema]) => [mediaType, { schema }]),
    );
    responses[String(status)] = { description, content };
  }
  Object.assign(
    responses,
    errorResponses([...(route.errors ?? []), ...(route.auth ? AUTH_ERRORS[route.auth] : [])]),
  );
  // `{}` in a security list: the route may also be called without a token.
  const security =
    route.auth === undefined
      ? []
      : route.auth === 'user' || route.auth === 'admin'
        ? [{ bearer: [] }]
        : [{}, { bearer: [] }];
  return {
    summary: route.summary,
    tags: [route.tag],
    security,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: input(route.body) } },
          },
        }
      : {}),
    responses,
  };
}

/** An OpenAPI 3.1 document: enough typing to walk it (paths → operations → responses). */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
}

/** Builds the document from `ROUTES` and the core schemas. */
export function buildOpenApiDocument(): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of ROUTES) {
    paths[route.path] = { ...paths[route.path], [route.method]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Expressionist',
      version: '1',
      description:
        'Distributed arithmetic calculator. Calls carry `Authorization: Bearer <token>` (from /api/v1/login) unless AUTH_MODE=open. Every failed call answers `{"error": {code, message, position?, field?}}` with a code from the registry.',
    },
    tags: [
      { name: 'api', description: 'REST API v1.' },
      {
        name: 'accounts',
        description:
          'Accounts, the first admin, agent credentials (AUTH_MODE=accounts; see README, Security).',
      },
      { name: 'course', description: "The course's standard HTTP agent protocol." },
      { name: 'ops', description: 'Health, readiness, metrics and the dashboard.' },
    ],
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'POST /api/v1/login answers the token. Not needed in AUTH_MODE=open.',
        },
      },
    },
  };
}

/** Serves `GET /openapi.json` (mounted under `/api/v1`). The document is built once, on first use. */
export function openApiRouter(): Router {
  const router = Router();
  let document: OpenApiDocument | undefined;
  router.get('/openapi.json', (_req, res) => {
    document ??= buildOpenApiDocument();
    res.json(document);
  });
  return router;
}
