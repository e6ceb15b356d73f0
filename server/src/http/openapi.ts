/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the same zod schemas in `core` that
 * the handlers validate with and the dashboard parses with — never written by hand, so it cannot
 * drift from the code.
 *
 * OpenAPI 3.1 schemas are JSON Schema 2020-12, which is zod's default target.
 * Response-side schemas are converted once into `components.schemas` (as zod's *output* type:
 * what the server sends); request bodies are converted inline as the *input* type (what a client
 * may send). Error responses list the registry codes each route can answer with, grouped by the
 * status `ERROR_CODES` gives them, and pin the `code` field to exactly those codes.
 */
import { Router } from 'express';
import { ERROR_CODES, type ErrorCode } from '@expressionist/core';
import { ROUTES } from './openapi-routes.js';
import { componentSchemas, ref } from './openapi/components.js';
import { bare, input, type JsonSchema } from './openapi/json-schema.js';
import { AUTH_ERRORS, idParam, type RouteDoc } from './openapi/route-doc.js';

export { ROUTES } from './openapi-routes.js';
export type { JsonSchema } from './openapi/json-schema.js';
export type { RouteDoc } from './openapi/route-doc.js';

export {
  CourseAcceptedSchema,
  CourseTaskReplySchema,
  HealthSchema,
  ReadinessSchema,
  type ComponentName,
} from './openapi/components.js';

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
