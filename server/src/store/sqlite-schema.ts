/**
 * The embedded store's schema, its migrations, row shapes and prepared statements. Kept apart
 * from the store class so each reads on its own: the SQL here, the behaviour there.
 */
import type Database from 'better-sqlite3';
import type { ExpressionStatus, ErrorInfo } from '@expressionist/core';
import type { StoredCredential, StoredExpression, StoredOpResult, StoredUser } from './store.js';

/** File name of the database inside the data directory. */
export const SQLITE_FILE_NAME = 'expressionist.db';

/**
 * Bumped when the schema changes; stored in `PRAGMA user_version`. 3: long expressions keep their
 * text in `expression_texts` (an older build would read them as empty, so it must refuse). 4: users
 * can be disabled and their sessions ended (an older build would let a disabled user sign in). 5: a
 * finished expression's results are compacted into `expression_results` (an older build would show
 * its operations as never computed).
 */
export const SCHEMA_VERSION = 5;

/**
 * Expressions at least this long keep their source (and normalized form) in `expression_texts`,
 * with '' in `expressions`. SQLite rewrites a whole record on every UPDATE, overflow pages
 * included: with a 1 MB expression (and its 1 MB normalized form) inline, each status change
 * (pending → in_progress → done) held the event loop 20–30 ms of CPU (~100 ms on a loaded
 * machine). Out of line, the texts are written once and status changes touch a small row.
 */
export const OUT_OF_LINE_CHARS = 16_384;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS expressions (
  id          TEXT    PRIMARY KEY NOT NULL,
  expression  TEXT    NOT NULL,
  normalized  TEXT    NOT NULL,
  status      TEXT    NOT NULL,
  value       TEXT,
  error       TEXT,
  created_at  INTEGER NOT NULL,
  started_at  INTEGER,
  finished_at INTEGER,
  op_count    INTEGER NOT NULL,
  cached      INTEGER NOT NULL,
  owner       TEXT
);
CREATE INDEX IF NOT EXISTS expressions_by_created ON expressions (created_at DESC, id DESC);

-- normalized NULL: the same as expression (a long expression without spaces).
CREATE TABLE IF NOT EXISTS expression_texts (
  id         TEXT PRIMARY KEY NOT NULL,
  expression TEXT NOT NULL,
  normalized TEXT
);
CREATE INDEX IF NOT EXISTS expressions_by_status ON expressions (status, created_at, id);
-- Retention and "delete my finished": unfinished rows have no finish time and are not indexed.
CREATE INDEX IF NOT EXISTS expressions_by_finished ON expressions (finished_at, id)
  WHERE finished_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS op_results (
  expression_id TEXT    NOT NULL,
  op_id         INTEGER NOT NULL,
  value         TEXT    NOT NULL,
  agent_id      TEXT    NOT NULL,
  attempt       INTEGER NOT NULL,
  finished_at   INTEGER NOT NULL,
  PRIMARY KEY (expression_id, op_id)
) WITHOUT ROWID;

-- A finished expression's operation results in one record (compact-results.ts); its op_results
-- rows are deleted when this is written. Out of the expressions table, like long texts.
CREATE TABLE IF NOT EXISTS expression_results (
  id   TEXT PRIMARY KEY NOT NULL,
  data TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS settings (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  data TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
  id            TEXT    PRIMARY KEY NOT NULL,
  login         TEXT    NOT NULL UNIQUE,
  password_hash TEXT    NOT NULL,
  role          TEXT    NOT NULL,
  created_at    INTEGER NOT NULL,
  disabled_at   INTEGER,
  session_epoch INTEGER NOT NULL DEFAULT 0
);

-- Signed-out session tokens, until the token's own expiry.
CREATE TABLE IF NOT EXISTS revoked_tokens (
  jti        TEXT    PRIMARY KEY NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
-- The hourly prune deletes by expiry (found by store-indexes.test.ts: it scanned the table).
CREATE INDEX IF NOT EXISTS revoked_tokens_by_expiry ON revoked_tokens (expires_at);

CREATE TABLE IF NOT EXISTS credentials (
  id           TEXT    PRIMARY KEY NOT NULL,
  name         TEXT    NOT NULL,
  token_hash   TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);

CREATE TABLE IF NOT EXISTS quarantines (
  agent_id TEXT    PRIMARY KEY NOT NULL,
  name     TEXT    NOT NULL,
  kind     TEXT    NOT NULL,
  reason   TEXT    NOT NULL,
  at       INTEGER NOT NULL
);
`;

/** Changes to tables that exist since an earlier schema version. */
export function migrate(db: Database.Database): void {
  const columns = db.prepare<[], { name: string }>('PRAGMA table_info(expressions)').all();
  if (!columns.some((c) => c.name === 'owner'))
    db.exec('ALTER TABLE expressions ADD COLUMN owner TEXT');
  db.exec(
    'CREATE INDEX IF NOT EXISTS expressions_by_owner ON expressions (owner, created_at DESC, id DESC)',
  );
  const userColumns = db.prepare<[], { name: string }>('PRAGMA table_info(users)').all();
  if (!userColumns.some((c) => c.name === 'disabled_at'))
    db.exec('ALTER TABLE users ADD COLUMN disabled_at INTEGER');
  if (!userColumns.some((c) => c.name === 'session_epoch'))
    db.exec('ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0');
}

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

export type Statement<P extends unknown[] | object, R = unknown> = Database.Statement<P, R>;

export interface Statements {
  insertExpression: Statement<ExpressionRow>;
  insertText: Statement<[string, string, string | null]>;
  getExpression: Statement<[string], ExpressionRow>;
  patchExpression: Statement<PatchParams>;
  listFirst: Statement<[number], ExpressionRow>;
  listAfter: Statement<[number, string, number], ExpressionRow>;
  listUnfinished: Statement<[], ExpressionRow>;
  countByStatus: Statement<[], { status: string; n: number }>;
  insertOpResult: Statement<OpResultRow>;
  getOpResults: Statement<[string], OpResultRow>;
  /** Results of the op ids in a JSON array (one statement for any number of ids). */
  getSomeOpResults: Statement<[string, string], OpResultRow>;
  getSettings: Statement<[], { data: string }>;
  saveSettings: Statement<[string]>;
  saveQuarantine: Statement<QuarantineRow>;
  deleteQuarantine: Statement<[string]>;
  listQuarantines: Statement<[], QuarantineRow>;
  listOwnFirst: Statement<[string, number], ExpressionRow>;
  listOwnAfter: Statement<[string, number, string, number], ExpressionRow>;
  listFinishedBefore: Statement<[number, number], { id: string; owner: string | null }>;
  listOwnFinishedBefore: Statement<[string, number, number], { id: string; owner: string | null }>;
  deleteOpResultsOf: Statement<[string]>;
  saveCompact: Statement<[string, string]>;
  getCompact: Statement<[string], { data: string }>;
  deleteCompact: Statement<[string]>;
  deleteText: Statement<[string]>;
  deleteExpression: Statement<[string]>;
  insertUser: Statement<UserRow>;
  getUserByLogin: Statement<[string], UserRow>;
  getUser: Statement<[string], UserRow>;
  anyAdmin: Statement<[], { id: string }>;
  listUsers: Statement<[], UserRow>;
  patchUser: Statement<UserPatchParams>;
  deleteUser: Statement<[string]>;
  revokeToken: Statement<[string, number]>;
  isTokenRevoked: Statement<[string], { jti: string }>;
  pruneRevokedTokens: Statement<[number]>;
  saveCredential: Statement<CredentialRow>;
  getCredential: Statement<[string], CredentialRow>;
  listCredentials: Statement<[], CredentialRow>;
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

const USER_COLUMNS = 'id, login, password_hash, role, created_at, disabled_at, session_epoch';

export const EXPRESSION_COLUMNS =
  'id, expression, normalized, status, value, error, created_at, started_at, finished_at, op_count, cached, owner';

/** Expression rows with their texts wherever they are kept (`e`: expressions, `t`: texts). */
const SELECT_EXPRESSIONS = `SELECT e.id, COALESCE(t.expression, e.expression) AS expression,
    COALESCE(t.normalized, t.expression, e.normalized) AS normalized, e.status, e.value, e.error,
    e.created_at, e.started_at, e.finished_at, e.op_count, e.cached, e.owner
  FROM expressions e LEFT JOIN expression_texts t ON t.id = e.id`;

export function prepare(db: Database.Database): Statements {
  return {
    insertExpression: db.prepare<ExpressionRow>(
      `INSERT OR IGNORE INTO expressions (${EXPRESSION_COLUMNS})
       VALUES (@id, @expression, @normalized, @status, @value, @error, @created_at, @started_at,
               @finished_at, @op_count, @cached, @owner)`,
    ),
    insertText: db.prepare<[string, string, string | null]>(
      'INSERT OR IGNORE INTO expression_texts (id, expression, normalized) VALUES (?, ?, ?)',
    ),
    getExpression: db.prepare<[string], ExpressionRow>(`${SELECT_EXPRESSIONS} WHERE e.id = ?`),
    patchExpression: db.prepare<PatchParams>(
      `UPDATE expressions SET
         status      = CASE WHEN @has_status      THEN @status      ELSE status      END,
         value       = CASE WHEN @has_value       THEN @value       ELSE value       END,
         error       = CASE WHEN @has_error       THEN @error       ELSE error       END,
         started_at  = CASE WHEN @has_started_at  THEN @started_at  ELSE started_at  END,
         finished_at = CASE WHEN @has_finished_at THEN @finished_at ELSE finished_at END
       WHERE id = @id`,
    ),
    listFirst: db.prepare<[number], ExpressionRow>(
      `${SELECT_EXPRESSIONS}
       ORDER BY e.created_at DESC, e.id DESC LIMIT ?`,
    ),
    listAfter: db.prepare<[number, string, number], ExpressionRow>(
      `${SELECT_EXPRESSIONS}
       WHERE (e.created_at, e.id) < (?, ?)
       ORDER BY e.created_at DESC, e.id DESC LIMIT ?`,
    ),
    listUnfinished: db.prepare<[], ExpressionRow>(
      `${SELECT_EXPRESSIONS}
       WHERE e.status IN ('pending', 'in_progress')
       ORDER BY e.created_at ASC, e.id ASC`,
    ),
    countByStatus: db.prepare<[], { status: string; n: number }>(
      'SELECT status, COUNT(*) AS n FROM expressions GROUP BY status',
    ),
    insertOpResult: db.prepare<OpResultRow>(
      `INSERT OR IGNORE INTO op_results
         (expression_id, op_id, value, agent_id, attempt, finished_at)
       VALUES (@expression_id, @op_id, @value, @agent_id, @attempt, @finished_at)`,
    ),
    getOpResults: db.prepare<[string], OpResultRow>(
      `SELECT expression_id, op_id, value, agent_id, attempt, finished_at FROM op_results
       WHERE expression_id = ? ORDER BY op_id`,
    ),
    getSomeOpResults: db.prepare<[string, string], OpResultRow>(
      `SELECT expression_id, op_id, value, agent_id, attempt, finished_at FROM op_results
       WHERE expression_id = ? AND op_id IN (SELECT value FROM json_each(?)) ORDER BY op_id`,
    ),
    getSettings: db.prepare<[], { data: string }>('SELECT data FROM settings WHERE id = 1'),
    saveSettings: db.prepare<[string]>(
      `INSERT INTO settings (id, data) VALUES (1, ?)
       ON CONFLICT (id) DO UPDATE SET data = excluded.data`,
    ),
    saveQuarantine: db.prepare<QuarantineRow>(
      `INSERT INTO quarantines (agent_id, name, kind, reason, at)
       VALUES (@agent_id, @name, @kind, @reason, @at)
       ON CONFLICT (agent_id) DO UPDATE SET
         name = excluded.name, kind = excluded.kind, reason = excluded.reason, at = excluded.at`,
    ),
    deleteQuarantine: db.prepare<[string]>('DELETE FROM quarantines WHERE agent_id = ?'),
    listOwnFirst: db.prepare<[string, number], ExpressionRow>(
      `${SELECT_EXPRESSIONS} WHERE e.owner = ?
       ORDER BY e.created_at DESC, e.id DESC LIMIT ?`,
    ),
    listFinishedBefore: db.prepare<[number, number], { id: string; owner: string | null }>(
      `SELECT id, owner FROM expressions WHERE finished_at IS NOT NULL AND finished_at < ?
       ORDER BY finished_at, id LIMIT ?`,
    ),
    listOwnFinishedBefore: db.prepare<
      [string, number, number],
      { id: string; owner: string | null }
    >(
      `SELECT id, owner FROM expressions WHERE owner = ? AND finished_at IS NOT NULL AND finished_at < ?
       ORDER BY finished_at, id LIMIT ?`,
    ),
    deleteOpResultsOf: db.prepare<[string]>('DELETE FROM op_results WHERE expression_id = ?'),
    saveCompact: db.prepare<[string, string]>(
      `INSERT INTO expression_results (id, data) VALUES (?, ?)
       ON CONFLICT (id) DO UPDATE SET data = excluded.data`,
    ),
    getCompact: db.prepare<[string], { data: string }>(
      'SELECT data FROM expression_results WHERE id = ?',
    ),
    deleteCompact: db.prepare<[string]>('DELETE FROM expression_results WHERE id = ?'),
    deleteText: db.prepare<[string]>('DELETE FROM expression_texts WHERE id = ?'),
    deleteExpression: db.prepare<[string]>('DELETE FROM expressions WHERE id = ?'),
    listOwnAfter: db.prepare<[string, number, string, number], ExpressionRow>(
      `${SELECT_EXPRESSIONS}
       WHERE e.owner = ? AND (e.created_at, e.id) < (?, ?)
       ORDER BY e.created_at DESC, e.id DESC LIMIT ?`,
    ),
    insertUser: db.prepare<UserRow>(
      `INSERT OR IGNORE INTO users (${USER_COLUMNS})
       VALUES (@id, @login, @password_hash, @role, @created_at, @disabled_at, @session_epoch)`,
    ),
    getUserByLogin: db.prepare<[string], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE login = ?`,
    ),
    getUser: db.prepare<[string], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`),
    anyAdmin: db.prepare<[], { id: string }>("SELECT id FROM users WHERE role = 'admin' LIMIT 1"),
    listUsers: db.prepare<[], UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY created_at, id`),
    patchUser: db.prepare<UserPatchParams>(
      `UPDATE users SET
         password_hash = CASE WHEN @has_password_hash THEN @password_hash ELSE password_hash END,
         disabled_at   = CASE WHEN @has_disabled_at   THEN @disabled_at   ELSE disabled_at   END,
         session_epoch = CASE WHEN @has_session_epoch THEN @session_epoch ELSE session_epoch END
       WHERE id = @id`,
    ),
    deleteUser: db.prepare<[string]>('DELETE FROM users WHERE id = ?'),
    revokeToken: db.prepare<[string, number]>(
      'INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)',
    ),
    isTokenRevoked: db.prepare<[string], { jti: string }>(
      'SELECT jti FROM revoked_tokens WHERE jti = ?',
    ),
    pruneRevokedTokens: db.prepare<[number]>('DELETE FROM revoked_tokens WHERE expires_at <= ?'),
    saveCredential: db.prepare<CredentialRow>(
      `INSERT INTO credentials (id, name, token_hash, created_at, last_used_at, revoked_at)
       VALUES (@id, @name, @token_hash, @created_at, @last_used_at, @revoked_at)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, token_hash = excluded.token_hash,
         last_used_at = excluded.last_used_at, revoked_at = excluded.revoked_at`,
    ),
    getCredential: db.prepare<[string], CredentialRow>(
      `SELECT id, name, token_hash, created_at, last_used_at, revoked_at FROM credentials
       WHERE id = ?`,
    ),
    listCredentials: db.prepare<[], CredentialRow>(
      `SELECT id, name, token_hash, created_at, last_used_at, revoked_at FROM credentials
       ORDER BY created_at, id`,
    ),
    listQuarantines: db.prepare<[], QuarantineRow>(
      'SELECT agent_id, name, kind, reason, at FROM quarantines ORDER BY at, agent_id',
    ),
  };
}
