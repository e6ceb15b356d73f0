/** Typed REST client for `/api/v1`; every response body is validated before it is trusted. */
import type { z } from 'zod';
import {
  AgentsReplySchema,
  CalculateReplySchema,
  ErrorBodySchema,
  ExpressionPageSchema,
  ExpressionReplySchema,
  OperationsReplySchema,
  ReleaseReplySchema,
  SettingsReplySchema,
  type AgentView,
  type ExpressionView,
  type OperationView,
  type Settings,
  type SettingsPatch,
} from '@expressionist/core';

/** A failed request: an error body from the orchestrator, or `NETWORK` when there was none. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly position: number | undefined;
  readonly field: string | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    extra: { position?: number | undefined; field?: string | undefined } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.position = extra.position;
    this.field = extra.field;
  }
}

const BASE = '/api/v1';

async function request<T>(path: string, schema: z.ZodType<T>, init?: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${BASE}${path}`, {
      ...init,
      headers: {
        accept: 'application/json',
        ...(init?.body ? { 'content-type': 'application/json' } : {}),
      },
    });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', err instanceof Error ? err.message : String(err));
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // A proxy error page or an empty body: handled below as a bare status.
  }
  if (!response.ok) {
    const parsed = ErrorBodySchema.safeParse(body);
    if (parsed.success) {
      const { code, message, position, field } = parsed.data.error;
      throw new ApiError(response.status, code, message, { position, field });
    }
    throw new ApiError(response.status, 'INTERNAL', `HTTP ${response.status}`);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new ApiError(response.status, 'INTERNAL', `unexpected response from ${path}`);
  }
  return parsed.data;
}

/** Submits an expression; resolves with its id (also for an idempotent replay). */
export async function calculate(expression: string, id?: string): Promise<string> {
  const reply = await request('/calculate', CalculateReplySchema, {
    method: 'POST',
    body: JSON.stringify(id === undefined ? { expression } : { expression, id }),
  });
  return reply.id;
}

/** One page of expressions, newest first; pass the previous `nextCursor` to go on. */
export async function listExpressions(
  limit: number,
  cursor: string | null,
): Promise<{ expressions: ExpressionView[]; nextCursor: string | null }> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor !== null) query.set('cursor', cursor);
  const page = await request(`/expressions?${query.toString()}`, ExpressionPageSchema);
  return page;
}

export async function getExpression(id: string): Promise<ExpressionView> {
  return (await request(`/expressions/${encodeURIComponent(id)}`, ExpressionReplySchema))
    .expression;
}

export async function getOperations(id: string): Promise<OperationView[]> {
  const reply = await request(
    `/expressions/${encodeURIComponent(id)}/operations`,
    OperationsReplySchema,
  );
  return reply.operations;
}

export async function cancelExpression(id: string): Promise<ExpressionView> {
  const reply = await request(
    `/expressions/${encodeURIComponent(id)}/cancel`,
    ExpressionReplySchema,
    {
      method: 'POST',
    },
  );
  return reply.expression;
}

export async function getSettings(): Promise<Settings> {
  return (await request('/settings', SettingsReplySchema)).settings;
}

export async function putSettings(patch: SettingsPatch): Promise<Settings> {
  const reply = await request('/settings', SettingsReplySchema, {
    method: 'PUT',
    body: JSON.stringify(patch),
  });
  return reply.settings;
}

/** Lifts an agent's quarantine. */
export async function releaseAgent(id: string): Promise<void> {
  await request(`/agents/${encodeURIComponent(id)}/release`, ReleaseReplySchema, {
    method: 'POST',
  });
}

export async function getAgents(): Promise<AgentView[]> {
  return (await request('/agents', AgentsReplySchema)).agents;
}
