/**
 * The route table of the REST API proper (tag `api`): expressions, settings and agents.
 */
import {
  AgentListQuerySchema,
  CalculateBodySchema,
  ExpressionListQuerySchema,
  OperationsQuerySchema,
  SettingsPatchSchema,
} from '@expressionist/core';
import { z } from 'zod';
import { input } from './json-schema.js';
import { BODY_ERRORS, ID_ERRORS, PARSE_ERRORS, type RouteDoc } from './route-doc.js';

/** Submitting, listing, reading, canceling and deleting expressions. */
export const EXPRESSION_DOCS: readonly RouteDoc[] = [
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
];

/** Reading and changing the settings. */
export const SETTINGS_DOCS: readonly RouteDoc[] = [
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
];

/** Listing agents; an admin's release and kick. */
export const AGENT_DOCS: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/api/v1/agents',
    auth: 'user',
    summary:
      'Connected agents, and lost ones until their retention ends, in the order they joined, one page at a time (without `limit`: the first 1,000).',
    tag: 'api',
    query: {
      limit: {
        schema: z.toJSONSchema(AgentListQuerySchema.shape.limit),
        description: 'Page size.',
      },
      cursor: {
        schema: input(AgentListQuerySchema.shape.cursor),
        description: '`nextCursor` of the previous page.',
      },
    },
    success: [{ status: 200, description: 'One page of agents.', body: 'AgentsReply' }],
    errors: ['QUERY_INVALID'],
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
];
