/**
 * The table of every route the app mounts, for the OpenAPI document (openapi.ts builds the
 * document from it; a test checks the table against the app's real router).
 */
import {
  CalculateBodySchema,
  CourseResultSchema,
  CreateCredentialBodySchema,
  CredentialsBodySchema,
  ExpressionListQuerySchema,
  LoginBodySchema,
  OperationsQuerySchema,
  PasswordChangeBodySchema,
  SettingsPatchSchema,
  SetupBodySchema,
  type ErrorCode,
} from '@expressionist/core';
import { z } from 'zod';
import type { ComponentName } from './openapi.js';

export type JsonSchema = z.core.JSONSchema.JSONSchema;

/**
 * zod writes `.catch(x)` as `default: x`; on a response that reads as if the server filled the
 * field in. The catch is the reader's tolerance of newer codes, not part of the contract: drop it.
 */
export function dropCatchDefault(ctx: {
  zodSchema: z.core.$ZodTypes;
  jsonSchema: JsonSchema;
}): void {
  if (ctx.zodSchema._zod.def.type === 'catch') delete ctx.jsonSchema.default;
}

/** A JSON Schema without the document-level keys zod adds (`$schema`, `$id`). */
export function bare(schema: JsonSchema): JsonSchema {
  return Object.fromEntries(
    Object.entries(schema).filter(([key]) => key !== '$schema' && key !== '$id'),
  );
}

/** A request-side schema, inline: what a client may send (defaults and coercions applied later). */
export function input(schema: z.ZodType): JsonSchema {
  return bare(z.toJSONSchema(schema, { io: 'input', override: dropCatchDefault }));
}

export const BODY_ERRORS: ErrorCode[] = ['BODY_INVALID', 'BODY_TOO_LARGE'];
export const PARSE_ERRORS: ErrorCode[] = [
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
export const ID_ERRORS: ErrorCode[] = ['EXPRESSION_NOT_FOUND', 'NOT_FOUND'];

export interface Success {
  status: number;
  description: string;
  /** A component (as JSON), or schemas by media type (text bodies). */
  body: ComponentName | { media: Record<string, JsonSchema> };
}

/** One operation of the document. */
export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'delete';
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

export const AUTH_ERRORS: Record<NonNullable<RouteDoc['auth']>, ErrorCode[]> = {
  optional: ['UNAUTHENTICATED'],
  user: ['UNAUTHENTICATED'],
  admin: ['UNAUTHENTICATED', 'FORBIDDEN'],
  'local-or-admin': ['UNAUTHENTICATED', 'FORBIDDEN'],
};

export const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  description:
    'Expression id (server-made, or the client key given at submission), agent id, credential id or user id.',
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
    summary:
      "An expression's operations (its DAG) with their states, by id, one page at a time. The list answers and dashboard messages carry at most the first 256 characters of an expression's text; GET /api/v1/expressions/{id} the whole.",
    tag: 'api',
    query: {
      limit: {
        schema: z.toJSONSchema(OperationsQuerySchema.shape.limit),
        description: 'Page size.',
      },
      cursor: {
        schema: input(OperationsQuerySchema.shape.cursor),
        description: '`nextCursor` of the previous page.',
      },
    },
    success: [{ status: 200, description: 'One page.', body: 'OperationsReply' }],
    errors: [...ID_ERRORS, 'QUERY_INVALID'],
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
    method: 'delete',
    path: '/api/v1/expressions/{id}',
    auth: 'user',
    summary:
      "Delete one of the caller's finished expressions (an admin: anyone's) with its operations; a running one must be canceled first.",
    tag: 'api',
    success: [{ status: 200, description: 'Deleted (`deleted`: 1).', body: 'DeletedReply' }],
    errors: [...ID_ERRORS, 'EXPRESSION_RUNNING', 'STORE_UNAVAILABLE'],
  },
  {
    method: 'delete',
    path: '/api/v1/expressions',
    auth: 'user',
    summary:
      'Delete every finished expression of the caller (in open mode: every finished one); running ones stay.',
    tag: 'api',
    success: [{ status: 200, description: 'How many were deleted.', body: 'DeletedReply' }],
    errors: ['STORE_UNAVAILABLE'],
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
      'Sign in: a JWT for `Authorization: Bearer`, and a device token to send with later sign-ins from this device. Failed attempts from unknown devices lock the login and the address for growing times (`Retry-After`); a valid `deviceToken` for the login is locked only by its own failures.',
    tag: 'accounts',
    body: LoginBodySchema,
    success: [{ status: 200, description: 'A token and a device token.', body: 'LoginReply' }],
    errors: [...BODY_ERRORS, 'LOGIN_FAILED', 'RATE_LIMITED', 'ACCOUNT_DISABLED'],
  },
  {
    method: 'post',
    path: '/api/v1/logout',
    auth: 'user',
    summary: 'Sign out: the token that calls this is revoked (its sockets are disconnected).',
    tag: 'accounts',
    success: [{ status: 200, description: 'Signed out.', body: 'LogoutReply' }],
  },
  {
    method: 'post',
    path: '/api/v1/password',
    auth: 'user',
    summary:
      "Change one's password: every other session ends (their sockets are disconnected); this one continues with the token returned.",
    tag: 'accounts',
    body: PasswordChangeBodySchema,
    success: [{ status: 200, description: 'A fresh token.', body: 'PasswordReply' }],
    errors: [...BODY_ERRORS, 'PASSWORD_WRONG', 'ACCOUNT_INVALID', 'RATE_LIMITED'],
  },
  {
    method: 'get',
    path: '/api/v1/users',
    auth: 'admin',
    summary: 'Every account, oldest first.',
    tag: 'accounts',
    success: [{ status: 200, description: 'The users.', body: 'UsersReply' }],
  },
  {
    method: 'post',
    path: '/api/v1/users/{id}/disable',
    auth: 'admin',
    summary:
      'Disable an account: its sessions end, its sockets and browser-tab agents are cut off and its unfinished expressions canceled, at once; it cannot sign in until enabled.',
    tag: 'accounts',
    success: [{ status: 200, description: 'The account, disabled.', body: 'UserReply' }],
    errors: ['USER_NOT_FOUND', 'USER_SELF', 'NOT_FOUND'],
  },
  {
    method: 'post',
    path: '/api/v1/users/{id}/enable',
    auth: 'admin',
    summary: 'Enable a disabled account (its user signs in again).',
    tag: 'accounts',
    success: [{ status: 200, description: 'The account, enabled.', body: 'UserReply' }],
    errors: ['USER_NOT_FOUND', 'USER_SELF', 'NOT_FOUND'],
  },
  {
    method: 'delete',
    path: '/api/v1/users/{id}',
    auth: 'admin',
    summary:
      'Delete an account (its expressions stay): cut off as when disabled; the login is free again.',
    tag: 'accounts',
    success: [{ status: 200, description: 'Deleted.', body: 'DeleteUserReply' }],
    errors: ['USER_NOT_FOUND', 'USER_SELF', 'NOT_FOUND'],
  },
  {
    method: 'post',
    path: '/api/v1/setup',
    summary:
      'Create the first admin with the one-time token of the setup link the orchestrator prints; signs in.',
    tag: 'accounts',
    body: SetupBodySchema,
    success: [
      {
        status: 200,
        description: 'The admin is created; a token and a device token.',
        body: 'LoginReply',
      },
    ],
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
    summary:
      'Readiness: the store is reachable and new work is accepted; with several orchestrators, the role of this instance and the leader it forwards to.',
    tag: 'ops',
    success: [
      { status: 200, description: 'Ready.', body: 'Readiness' },
      {
        status: 503,
        description: 'Not ready (store or Redis down, no leader known, or shutting down).',
        body: 'Readiness',
      },
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
