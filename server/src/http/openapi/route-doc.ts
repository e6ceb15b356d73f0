/**
 * One documented route (`RouteDoc`), `routeTable` that builds an area's routes from short
 * entries, and the error-code lists, page query and path parameter the route tables share.
 */
import type { ErrorCode } from '@expressionist/core';
import { z } from 'zod';
import type { ComponentName } from './components.js';
import { input, type JsonSchema } from './json-schema.js';

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

/** One route as a table writes it: `routeTable` adds the area's tag. */
export type RouteEntry = Omit<RouteDoc, 'method' | 'path' | 'tag' | 'success'> & {
  /** Method and path template, e.g. `POST /api/v1/login`. */
  route: `${Uppercase<RouteDoc['method']>} /${string}`;
} & (
    | {
        /** The one answer, `200` with this description and component (most routes). */
        ok: readonly [description: string, body: ComponentName];
      }
    | { success: Success[] }
  );

const METHODS = ['get', 'post', 'put', 'delete'] as const;

/** The routes of one area (`tag`), in the table's order. */
export function routeTable(tag: RouteDoc['tag'], entries: readonly RouteEntry[]): RouteDoc[] {
  return entries.map(({ route, ...entry }) => {
    const method = METHODS.find((m) => route.startsWith(`${m.toUpperCase()} `));
    if (!method) throw new Error(`${route}: starts with no HTTP method`);
    const path = route.slice(method.length + 1);
    if (!('ok' in entry)) return { ...entry, method, path, tag };
    const { ok, ...rest } = entry;
    return {
      ...rest,
      method,
      path,
      tag,
      success: [{ status: 200, description: ok[0], body: ok[1] }],
    };
  });
}

/** The `limit` and `cursor` query of a paged list, from the list's query schema. */
export function pageQuery(query: {
  shape: { limit: z.ZodType; cursor: z.ZodType };
}): NonNullable<RouteDoc['query']> {
  return {
    limit: { schema: z.toJSONSchema(query.shape.limit), description: 'Page size.' },
    cursor: {
      schema: input(query.shape.cursor),
      description: '`nextCursor` of the previous page.',
    },
  };
}
