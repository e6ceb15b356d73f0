/**
 * The embedded store's prepared statements: every query the store runs, prepared once per
 * database and typed by its parameters and row shape.
 */
import type Database from 'better-sqlite3';
import type {
  UserRow,
  UserPatchParams,
  CredentialRow,
  ExpressionRow,
  OpResultRow,
  PatchParams,
  QuarantineRow,
} from './sqlite-rows.js';

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
