/**
 * Typed REST client for `/api/v1`; every response body is validated before it is trusted. Every
 * call carries `Authorization: Bearer <token>` when the session has one (see session.svelte.ts
 * for why the token lives in localStorage and not in a cookie). An `UNAUTHENTICATED` answer ends
 * the session wherever it comes from; `RATE_LIMITED` carries the `Retry-After` seconds.
 */
import { z } from 'zod';
import {
  AgentsReplySchema,
  CreateCredentialReplySchema,
  CredentialsReplySchema,
  DeleteUserReplySchema,
  LoginReplySchema,
  LogoutReplySchema,
  MeReplySchema,
  PasswordReplySchema,
  UserReplySchema,
  UsersReplySchema,
  RegisterReplySchema,
  AgentCredentialViewSchema,
  CalculateReplySchema,
  DeletedReplySchema,
  ErrorBodySchema,
  ExpressionPageSchema,
  ExpressionReplySchema,
  OperationsReplySchema,
  ReleaseReplySchema,
  SettingsReplySchema,
  type AgentCredentialView,
  type AgentView,
  type ExpressionView,
  type LoginReply,
  type MeReply,
  type UserView,
  type OperationView,
  type Settings,
  type SettingsPatch,
} from '@expressionist/core';
import { retryAfterSeconds } from './auth';

/** A failed request: an error body from the orchestrator, or `NETWORK` when there was none. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly position: number | undefined;
  readonly field: string | undefined;
  /** Seconds the server asked us to wait (`Retry-After` of a 429), when it said. */
  readonly retryAfter: number | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    extra: {
      position?: number | undefined;
      field?: string | undefined;
      retryAfter?: number | undefined;
    } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.position = extra.position;
    this.field = extra.field;
    this.retryAfter = extra.retryAfter;
  }
}

/** What the client needs from the session, injected so that api.ts does not import it back. */
export interface AuthHooks {
  /** The current token, if signed in. */
  token(): string | null;
  /** Called when the server says the caller is not (or no longer) signed in. */
  unauthenticated(): void;
}

let hooks: AuthHooks = { token: () => null, unauthenticated: () => {} };

/** Connects the client to the session (called once by the session). */
export function useAuth(next: AuthHooks): void {
  hooks = next;
}

const BASE = '/api/v1';

async function request<T>(path: string, schema: z.ZodType<T>, init?: RequestInit): Promise<T> {
  let response: Response;
  const token = hooks.token();
  try {
    response = await fetch(`${BASE}${path}`, {
      ...init,
      headers: {
        accept: 'application/json',
        ...(init?.body ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
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
    const retryAfter =
      response.status === 429
        ? (retryAfterSeconds(response.headers.get('retry-after'), Date.now()) ?? undefined)
        : undefined;
    if (parsed.success) {
      const { code, message, position, field } = parsed.data.error;
      // Any call may find the token expired or revoked: the session ends and the login page
      // opens. LOGIN_FAILED (a wrong password, also 401) is an answer, not a lost session.
      if (code === 'UNAUTHENTICATED') hooks.unauthenticated();
      throw new ApiError(response.status, code, message, { position, field, retryAfter });
    }
    if (response.status === 429) {
      throw new ApiError(429, 'RATE_LIMITED', `HTTP 429`, { retryAfter });
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

/** One page of an expression's operations, from `cursor` (a `nextCursor` of the last page). */
export async function getOperations(
  id: string,
  cursor: string | null = null,
  limit = 2000,
): Promise<{ operations: OperationView[]; nextCursor: string | null }> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor !== null) query.set('cursor', cursor);
  return request(
    `/expressions/${encodeURIComponent(id)}/operations?${query.toString()}`,
    OperationsReplySchema,
  );
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

/** Deletes one finished expression (409 EXPRESSION_RUNNING while it runs). */
export async function deleteExpression(id: string): Promise<number> {
  return (
    await request(`/expressions/${encodeURIComponent(id)}`, DeletedReplySchema, {
      method: 'DELETE',
    })
  ).deleted;
}

/** Deletes every finished expression of the signed-in user; resolves with how many. */
export async function deleteFinished(): Promise<number> {
  return (await request('/expressions', DeletedReplySchema, { method: 'DELETE' })).deleted;
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

/** Every agent listed, page after page (`GET /api/v1/agents` answers at most 1,000 at a time). */
export async function getAgents(): Promise<AgentView[]> {
  const agents: AgentView[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `?cursor=${encodeURIComponent(cursor)}`;
    const page = await request(`/agents${query}`, AgentsReplySchema);
    agents.push(...page.agents);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return agents;
}

/** Disconnects an agent (admin); it may connect again. */
export async function kickAgent(id: string): Promise<void> {
  await request(`/agents/${encodeURIComponent(id)}/kick`, z.unknown(), { method: 'POST' });
}

/**
 * How this orchestrator is run and who we are. An orchestrator from before accounts has no
 * `/me` (404): it is open, as it always was.
 */
export async function getMe(): Promise<MeReply> {
  try {
    return await request('/me', MeReplySchema);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === 'NOT_FOUND') {
      return { mode: 'open', user: null, guestAgents: true, setupPending: false, exposed: false };
    }
    throw err;
  }
}

/**
 * Signs in, with this device's token for the login when it has one (a known device is not locked
 * out by others' failed attempts); resolves with the JWT and a fresh device token.
 */
export async function login(
  login: string,
  password: string,
  deviceToken: string | null,
): Promise<LoginReply> {
  return request('/login', LoginReplySchema, {
    method: 'POST',
    body: JSON.stringify({ login, password, ...(deviceToken ? { deviceToken } : {}) }),
  });
}

/** Signs out on the server: this token stops working (and its sockets are disconnected). */
export async function logout(): Promise<void> {
  await request('/logout', LogoutReplySchema, { method: 'POST' });
}

/** Changes the password; every other session ends. Resolves with this session's new JWT. */
export async function changePassword(
  currentPassword: string,
  newPassword: string,
): Promise<string> {
  const reply = await request('/password', PasswordReplySchema, {
    method: 'POST',
    body: JSON.stringify({ currentPassword, newPassword }),
  });
  return reply.token;
}

export async function listUsers(): Promise<UserView[]> {
  return (await request('/users', UsersReplySchema)).users;
}

/** Disables or enables an account; resolves with it as it is now. */
export async function setUserDisabled(id: string, disabled: boolean): Promise<UserView> {
  const action = disabled ? 'disable' : 'enable';
  const reply = await request(`/users/${encodeURIComponent(id)}/${action}`, UserReplySchema, {
    method: 'POST',
  });
  return reply.user;
}

export async function deleteUser(id: string): Promise<void> {
  await request(`/users/${encodeURIComponent(id)}`, DeleteUserReplySchema, { method: 'DELETE' });
}

/** Creates a user account (not signed in yet: call `login` next). */
export async function register(login: string, password: string): Promise<UserView> {
  const reply = await request('/register', RegisterReplySchema, {
    method: 'POST',
    body: JSON.stringify({ login, password }),
  });
  return reply.user;
}

/**
 * Creates the first admin with the one-time token of the setup link; resolves with its JWT and a
 * device token.
 */
export async function setupAdmin(
  token: string,
  login: string,
  password: string,
): Promise<LoginReply> {
  return request('/setup', LoginReplySchema, {
    method: 'POST',
    body: JSON.stringify({ token, login, password }),
  });
}

export async function listCredentials(): Promise<AgentCredentialView[]> {
  return (await request('/agent-credentials', CredentialsReplySchema)).credentials;
}

/** Issues an agent credential; its token is in this answer only. */
export async function createCredential(
  name: string,
): Promise<{ credential: AgentCredentialView; token: string }> {
  return request('/agent-credentials', CreateCredentialReplySchema, {
    method: 'POST',
    body: JSON.stringify({ name }),
  });
}

export async function revokeCredential(id: string): Promise<AgentCredentialView> {
  const reply = await request(
    `/agent-credentials/${encodeURIComponent(id)}/revoke`,
    z.object({ credential: AgentCredentialViewSchema }),
    { method: 'POST' },
  );
  return reply.credential;
}
