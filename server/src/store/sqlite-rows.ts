/**
 * The embedded store's row shapes and their conversions to and from the `Stored*` records of
 * store.ts (including where a long expression's text is kept).
 */
import type { ExpressionStatus, ErrorInfo } from '@expressionist/core';
import type { StoredCredential, StoredExpression, StoredOpResult, StoredUser } from './records.js';

/**
 * Expressions at least this long keep their source (and normalized form) in `expression_texts`,
 * with '' in `expressions`. SQLite rewrites a whole record on every UPDATE, overflow pages
 * included: with a 1 MB expression (and its 1 MB normalized form) inline, each status change
 * (pending → in_progress → done) held the event loop 20–30 ms of CPU (~100 ms on a loaded
 * machine). Out of line, the texts are written once and status changes touch a small row.
 */
export const OUT_OF_LINE_CHARS = 16_384;

export interface UserRow {
  id: string;
  login: string;
  password_hash: string;
  role: string;
  created_at: number;
  disabled_at: number | null;
  session_epoch: number;
}

/** Named parameters of the user patch statement: a `has_*` flag per field plus its new value. */
export interface UserPatchParams {
  id: string;
  has_password_hash: number;
  password_hash: string | null;
  has_disabled_at: number;
  disabled_at: number | null;
  has_session_epoch: number;
  session_epoch: number | null;
}

export interface CredentialRow {
  id: string;
  name: string;
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface ExpressionRow {
  id: string;
  expression: string;
  normalized: string;
  status: string;
  value: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  op_count: number;
  cached: number;
  owner: string | null;
}

export interface OpResultRow {
  expression_id: string;
  op_id: number;
  value: string;
  agent_id: string;
  attempt: number;
  finished_at: number;
}

/** Named parameters of the patch statement: a `has_*` flag per field plus its new value. */
export interface PatchParams {
  id: string;
  has_status: number;
  status: string | null;
  has_value: number;
  value: string | null;
  has_error: number;
  error: string | null;
  has_started_at: number;
  started_at: number | null;
  has_finished_at: number;
  finished_at: number | null;
}

export function fromUserRow(r: UserRow): StoredUser {
  return {
    id: r.id,
    login: r.login,
    passwordHash: r.password_hash,
    role: r.role === 'admin' ? 'admin' : 'user',
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
    sessionEpoch: r.session_epoch,
  };
}

export function fromCredentialRow(r: CredentialRow): StoredCredential {
  return {
    id: r.id,
    name: r.name,
    tokenHash: r.token_hash,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

export interface QuarantineRow {
  agent_id: string;
  name: string;
  kind: string;
  reason: string;
  at: number;
}

/** The `expressions` row; a long expression's texts are '' here (see `OUT_OF_LINE_CHARS`). */
export function toRow(e: StoredExpression): ExpressionRow {
  const inline = !isOutOfLine(e);
  return {
    id: e.id,
    expression: inline ? e.expression : '',
    normalized: inline ? e.normalized : '',
    status: e.status,
    value: e.value,
    error: e.error === null ? null : JSON.stringify(e.error),
    created_at: e.createdAt,
    started_at: e.startedAt,
    finished_at: e.finishedAt,
    op_count: e.opCount,
    cached: e.cached ? 1 : 0,
    owner: e.owner,
  };
}

export function isOutOfLine(e: StoredExpression): boolean {
  return e.expression.length >= OUT_OF_LINE_CHARS || e.normalized.length >= OUT_OF_LINE_CHARS;
}

export function fromRow(r: ExpressionRow): StoredExpression {
  return {
    id: r.id,
    expression: r.expression,
    normalized: r.normalized,
    status: r.status as ExpressionStatus,
    value: r.value,
    error: r.error === null ? null : (JSON.parse(r.error) as ErrorInfo),
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    opCount: r.op_count,
    cached: r.cached !== 0,
    owner: r.owner ?? null,
  };
}

export function fromOpRow(r: OpResultRow): StoredOpResult {
  return {
    expressionId: r.expression_id,
    opId: r.op_id,
    value: r.value,
    agentId: r.agent_id,
    attempt: r.attempt,
    finishedAt: r.finished_at,
  };
}
