/**
 * The route table outside the REST API's resources: the OpenAPI document itself, the course's
 * HTTP agent protocol (tag `course`), and health, metrics and the dashboard (tag `ops`).
 */
import { CourseResultSchema } from '@expressionist/core';
import { BODY_ERRORS, routeTable, type RouteDoc } from './route-doc.js';

/** `GET /api/v1/openapi.json`. */
export const OPENAPI_DOCS: readonly RouteDoc[] = routeTable('api', [
  {
    route: 'GET /api/v1/openapi.json',
    summary: 'This document.',
    success: [
      {
        status: 200,
        description: 'The OpenAPI 3.1 document.',
        body: { media: { 'application/json': { type: 'object' } } },
      },
    ],
  },
]);

/** The course's standard HTTP agent protocol. */
export const COURSE_DOCS: readonly RouteDoc[] = routeTable('course', [
  {
    route: 'GET /internal/task',
    summary: "Course agent protocol: lease one task (the agent's X-Agent-Id header names it).",
    ok: ['A task to compute.', 'CourseTaskReply'],
    // TASK_NOT_FOUND: nothing to do right now; AGENT_QUARANTINED: this agent is quarantined.
    errors: ['TASK_NOT_FOUND', 'AGENT_QUARANTINED'],
  },
  {
    route: 'POST /internal/task',
    summary: 'Course agent protocol: the result of a leased task.',
    body: CourseResultSchema,
    ok: ['Verified and stored.', 'CourseAccepted'],
    errors: [
      ...BODY_ERRORS,
      'TASK_RESULT_INVALID',
      'TASK_NOT_FOUND',
      'TASK_RESULT_WRONG',
      'AGENT_QUARANTINED',
    ],
  },
]);

/** Health, readiness, metrics and the dashboard. */
export const OPS_DOCS: readonly RouteDoc[] = routeTable('ops', [
  {
    route: 'GET /healthz',
    summary: 'Liveness: the process answers and the store is reachable.',
    success: [
      { status: 200, description: 'Healthy.', body: 'Health' },
      { status: 503, description: 'The store is unreachable.', body: 'Health' },
    ],
  },
  {
    route: 'GET /readyz',
    summary:
      'Readiness: the store is reachable and new work is accepted; with several orchestrators, the role of this instance and the leader it forwards to.',
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
    route: 'GET /metrics',
    auth: 'local-or-admin',
    summary: 'Prometheus metrics.',
    success: [
      {
        status: 200,
        description: 'Prometheus text exposition format.',
        body: { media: { 'text/plain': { type: 'string' } } },
      },
    ],
  },
  {
    route: 'GET /',
    summary:
      'The dashboard when it is built (client-side routes fall back to it), else a plain-text notice.',
    success: [
      {
        status: 200,
        description: 'The dashboard, or a notice that it is not built.',
        body: { media: { 'text/html': { type: 'string' }, 'text/plain': { type: 'string' } } },
      },
    ],
  },
]);
