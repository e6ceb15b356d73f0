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
import {
  BODY_ERRORS,
  ID_ERRORS,
  PARSE_ERRORS,
  pageQuery,
  routeTable,
  type RouteDoc,
} from './route-doc.js';

/** Submitting, listing, reading, canceling and deleting expressions. */
export const EXPRESSION_DOCS: readonly RouteDoc[] = routeTable('api', [
  {
    route: 'POST /api/v1/calculate',
    auth: 'user',
    summary:
      'Submit an expression (owned by the caller); it is planned and stored before the answer. Client ids are per user. Limited per user: SUBMISSIONS_PER_MINUTE, MAX_UNFINISHED_PER_USER.',
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
    route: 'GET /api/v1/expressions',
    auth: 'user',
    summary:
      "List the caller's expressions (an admin: everyone's), newest first, one page at a time.",
    query: pageQuery(ExpressionListQuerySchema),
    ok: ['One page.', 'ExpressionPage'],
    errors: ['QUERY_INVALID'],
  },
  {
    route: 'GET /api/v1/expressions/{id}',
    auth: 'user',
    summary: "One expression; another user's answers 404 like a missing id.",
    ok: ['The expression.', 'ExpressionReply'],
    errors: ID_ERRORS,
  },
  {
    route: 'GET /api/v1/expressions/{id}/operations',
    auth: 'user',
    summary:
      "An expression's operations (its DAG) with their states, by id, one page at a time. The list answers and dashboard messages carry at most the first 256 characters of an expression's text; GET /api/v1/expressions/{id} the whole.",
    query: pageQuery(OperationsQuerySchema),
    ok: ['One page.', 'OperationsReply'],
    errors: [...ID_ERRORS, 'QUERY_INVALID'],
  },
  {
    route: 'POST /api/v1/expressions/{id}/cancel',
    auth: 'user',
    summary: 'Cancel a pending or running expression.',
    ok: ['The canceled expression.', 'ExpressionReply'],
    errors: [...ID_ERRORS, 'ALREADY_FINISHED'],
  },
  {
    route: 'DELETE /api/v1/expressions/{id}',
    auth: 'user',
    summary:
      "Delete one of the caller's finished expressions (an admin: anyone's) with its operations; a running one must be canceled first.",
    ok: ['Deleted (`deleted`: 1).', 'DeletedReply'],
    errors: [...ID_ERRORS, 'EXPRESSION_RUNNING', 'STORE_UNAVAILABLE'],
  },
  {
    route: 'DELETE /api/v1/expressions',
    auth: 'user',
    summary:
      'Delete every finished expression of the caller (in open mode: every finished one); running ones stay.',
    ok: ['How many were deleted.', 'DeletedReply'],
    errors: ['STORE_UNAVAILABLE'],
  },
]);

/** Reading and changing the settings. */
export const SETTINGS_DOCS: readonly RouteDoc[] = routeTable('api', [
  {
    route: 'GET /api/v1/settings',
    auth: 'user',
    summary: 'Current operation durations and agent retention.',
    ok: ['The settings.', 'SettingsReply'],
  },
  {
    route: 'PUT /api/v1/settings',
    auth: 'admin',
    summary: 'Change any subset of the settings; stored, then pushed to agents and dashboards.',
    body: SettingsPatchSchema,
    ok: ['The settings after the change.', 'SettingsReply'],
    errors: [...BODY_ERRORS, 'SETTINGS_INVALID', 'STORE_UNAVAILABLE'],
  },
]);

/** Listing agents; an admin's release and kick. */
export const AGENT_DOCS: readonly RouteDoc[] = routeTable('api', [
  {
    route: 'GET /api/v1/agents',
    auth: 'user',
    summary:
      'Connected agents, and lost ones until their retention ends, in the order they joined, one page at a time (without `limit`: the first 1,000).',
    query: pageQuery(AgentListQuerySchema),
    ok: ['One page of agents.', 'AgentsReply'],
    errors: ['QUERY_INVALID'],
  },
  {
    route: 'POST /api/v1/agents/{id}/release',
    auth: 'admin',
    summary: 'Lift the quarantine of an agent: it may join (and compute) again.',
    ok: ['Released.', 'ReleaseReply'],
    errors: ['AGENT_NOT_QUARANTINED', 'NOT_FOUND'],
  },
  {
    route: 'POST /api/v1/agents/{id}/kick',
    auth: 'admin',
    summary: 'Disconnect a connected agent (its work goes back to the queue; it may reconnect).',
    ok: ['Disconnected.', 'KickReply'],
    errors: ['AGENT_NOT_CONNECTED', 'NOT_FOUND'],
  },
]);
