import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AgentKind, ErrorInfo, ExpressionStatus, Settings } from '@expressionist/core';
import type {
  ExpressionPatch,
  InsertOutcome,
  ListCursor,
  Store,
  StoredExpression,
  StoredOpResult,
  StoredCredential,
  StoredQuarantine,
  StoredUser,
} from './store.js';

/** File name of the database inside the data directory. */
export const SQLITE_FILE_NAME = 'expressionist.db';

/** Bumped when the schema changes; stored in `PRAGMA user_version`. */
const SCHEMA_VERSION = 2;

const SCHEMA = `
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
CREATE INDEX IF NOT EXISTS expressions_by_status ON expressions (status, created_at, id);

CREATE TABLE IF NOT EXISTS op_results (
  expression_id TEXT    NOT NULL,
  op_id         INTEGER NOT NULL,
  value         TEXT    NOT NULL,
  agent_id      TEXT    NOT NULL,
  attempt       INTEGER NOT NULL,
  finished_at   INTEGER NOT NULL,
  PRIMARY KEY (expression_id, op_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS settings (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  data TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
  id            TEXT    PRIMARY KEY NOT NULL,
  login         TEXT    NOT NULL UNIQUE,
  password_hash TEXT    NOT NULL,
  role          TEXT    NOT NULL,
  created_at    INTEGER NOT NULL
);

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
function migrate(db: Database.Database): void {
  const columns = db.prepare<[], { name: string }>('PRAGMA table_info(expressions)').all();
  if (!columns.some((c) => c.name === 'owner'))
    db.exec('ALTER TABLE expressions ADD COLUMN owner TEXT');
  db.exec(
    'CREATE INDEX IF NOT EXISTS expressions_by_owner ON expressions (owner, created_at DESC, id DESC)',
  );
}

interface UserRow {
  id: string;
  login: string;
  password_hash: string;
  role: string;
  created_at: number;
}

interface CredentialRow {
  id: string;
  name: string;
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

interface ExpressionRow {
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

interface OpResultRow {
  expression_id: string;
  op_id: number;
  value: string;
  agent_id: string;
  attempt: number;
  finished_at: number;
}

/** Named parameters of the patch statement: a `has_*` flag per field plus its new value. */
interface PatchParams {
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

type Statement<P extends unknown[] | object, R = unknown> = Database.Statement<P, R>;

interface Statements {
  insertExpression: Statement<ExpressionRow>;
  getExpression: Statement<[string], ExpressionRow>;
  patchExpression: Statement<PatchParams>;
  listFirst: Statement<[number], ExpressionRow>;
  listAfter: Statement<[number, string, number], ExpressionRow>;
  listUnfinished: Statement<[], ExpressionRow>;
  countByStatus: Statement<[], { status: string; n: number }>;
  insertOpResult: Statement<OpResultRow>;
  getOpResults: Statement<[string], OpResultRow>;
  getSettings: Statement<[], { data: string }>;
  saveSettings: Statement<[string]>;
  saveQuarantine: Statement<QuarantineRow>;
  deleteQuarantine: Statement<[string]>;
  listQuarantines: Statement<[], QuarantineRow>;
  listOwnFirst: Statement<[string, number], ExpressionRow>;
  listOwnAfter: Statement<[string, number, string, number], ExpressionRow>;
  insertUser: Statement<UserRow>;
  getUserByLogin: Statement<[string], UserRow>;
  getUser: Statement<[string], UserRow>;
  anyAdmin: Statement<[], { id: string }>;
  saveCredential: Statement<CredentialRow>;
  getCredential: Statement<[string], CredentialRow>;
  listCredentials: Statement<[], CredentialRow>;
}

function fromUserRow(r: UserRow): StoredUser {
  return {
    id: r.id,
    login: r.login,
    passwordHash: r.password_hash,
    role: r.role === 'admin' ? 'admin' : 'user',
    createdAt: r.created_at,
  };
}

function fromCredentialRow(r: CredentialRow): StoredCredential {
  return {
    id: r.id,
    name: r.name,
    tokenHash: r.token_hash,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

interface QuarantineRow {
  agent_id: string;
  name: string;
  kind: string;
  reason: string;
  at: number;
}

function toRow(e: StoredExpression): ExpressionRow {
  return {
    id: e.id,
    expression: e.expression,
    normalized: e.normalized,
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

function fromRow(r: ExpressionRow): StoredExpression {
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

function fromOpRow(r: OpResultRow): StoredOpResult {
  return {
    expressionId: r.expression_id,
    opId: r.op_id,
    value: r.value,
    agentId: r.agent_id,
    attempt: r.attempt,
    finishedAt: r.finished_at,
  };
}

/**
 * The embedded default store: one SQLite file, `<dataDir>/expressionist.db`, through
 * better-sqlite3. better-sqlite3 is synchronous, so every method does its work before the
 * returned promise settles; errors surface as rejections.
 *
 * Durability: the database runs in WAL mode with `synchronous = NORMAL`. A commit is appended to
 * the WAL file (a write(2) into the OS page cache) before the call returns, so a committed row
 * survives a crash or SIGKILL of the process; it is fsynced at the next checkpoint. Across a
 * power loss or kernel crash the last transactions before the failure may roll back (the
 * database itself stays consistent). That is the trade-off we take for the default store:
 * `synchronous = FULL` would fsync the WAL on every commit and cost a disk flush per batch of
 * results. Deployments that must survive power loss use the MongoDB store.
 */
export class SqliteStore implements Store {
  readonly path: string;
  private db: Database.Database | null = null;
  private stmts: Statements | null = null;
  private saveMany: ((rows: OpResultRow[]) => number) | null = null;

  constructor(readonly dataDir: string) {
    this.path = join(dataDir, SQLITE_FILE_NAME);
  }

  async init(): Promise<void> {
    if (this.db) return;
    mkdirSync(this.dataDir, { recursive: true });
    const db = new Database(this.path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true });
      if (typeof version === 'number' && version > SCHEMA_VERSION) {
        throw new Error(
          `${this.path} has schema version ${version}, newer than this build supports (${SCHEMA_VERSION})`,
        );
      }
      db.exec(SCHEMA);
      migrate(db);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      this.stmts = prepare(db);
    } catch (err) {
      db.close();
      throw err;
    }
    const insertOpResult = this.stmts.insertOpResult;
    this.saveMany = db.transaction((rows: OpResultRow[]): number => {
      let added = 0;
      for (const row of rows) added += insertOpResult.run(row).changes;
      return added;
    });
    this.db = db;
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    this.stmts = null;
    this.saveMany = null;
    if (db?.open) db.close();
  }

  async ping(): Promise<boolean> {
    try {
      return this.db?.prepare('SELECT 1 AS ok').get() !== undefined;
    } catch {
      return false;
    }
  }

  async insertExpression(expression: StoredExpression): Promise<InsertOutcome> {
    const s = this.statements();
    const { changes } = s.insertExpression.run(toRow(expression));
    if (changes === 1) return { inserted: true };
    const existing = s.getExpression.get(expression.id);
    if (!existing) throw new Error(`expression ${expression.id} neither inserted nor found`);
    return { inserted: false, existing: fromRow(existing) };
  }

  async updateExpression(id: string, patch: ExpressionPatch): Promise<void> {
    const s = this.statements();
    const { status, value, error, startedAt, finishedAt } = patch;
    if ([status, value, error, startedAt, finishedAt].every((v) => v === undefined)) return;
    s.patchExpression.run({
      id,
      has_status: status === undefined ? 0 : 1,
      status: status ?? null,
      has_value: value === undefined ? 0 : 1,
      value: value ?? null,
      has_error: error === undefined ? 0 : 1,
      error: error === undefined || error === null ? null : JSON.stringify(error),
      has_started_at: startedAt === undefined ? 0 : 1,
      started_at: startedAt ?? null,
      has_finished_at: finishedAt === undefined ? 0 : 1,
      finished_at: finishedAt ?? null,
    });
  }

  async getExpression(id: string): Promise<StoredExpression | null> {
    const row = this.statements().getExpression.get(id);
    return row ? fromRow(row) : null;
  }

  async listExpressions(
    limit: number,
    cursor?: ListCursor,
    owner?: string,
  ): Promise<StoredExpression[]> {
    const s = this.statements();
    if (!(limit >= 1)) return [];
    limit = Math.floor(limit);
    let rows: ExpressionRow[];
    if (owner === undefined)
      rows = cursor ? s.listAfter.all(cursor.createdAt, cursor.id, limit) : s.listFirst.all(limit);
    else
      rows = cursor
        ? s.listOwnAfter.all(owner, cursor.createdAt, cursor.id, limit)
        : s.listOwnFirst.all(owner, limit);
    return rows.map(fromRow);
  }

  async createUser(u: StoredUser): Promise<'created' | 'taken'> {
    const { changes } = this.statements().insertUser.run({
      id: u.id,
      login: u.login.toLowerCase(),
      password_hash: u.passwordHash,
      role: u.role,
      created_at: u.createdAt,
    });
    return changes > 0 ? 'created' : 'taken';
  }

  async getUserByLogin(login: string): Promise<StoredUser | null> {
    const row = this.statements().getUserByLogin.get(login.toLowerCase());
    return row ? fromUserRow(row) : null;
  }

  async getUser(id: string): Promise<StoredUser | null> {
    const row = this.statements().getUser.get(id);
    return row ? fromUserRow(row) : null;
  }

  async hasAdmin(): Promise<boolean> {
    return this.statements().anyAdmin.get() !== undefined;
  }

  async saveCredential(c: StoredCredential): Promise<void> {
    this.statements().saveCredential.run({
      id: c.id,
      name: c.name,
      token_hash: c.tokenHash,
      created_at: c.createdAt,
      last_used_at: c.lastUsedAt,
      revoked_at: c.revokedAt,
    });
  }

  async getCredential(id: string): Promise<StoredCredential | null> {
    const row = this.statements().getCredential.get(id);
    return row ? fromCredentialRow(row) : null;
  }

  async listCredentials(): Promise<StoredCredential[]> {
    return this.statements().listCredentials.all().map(fromCredentialRow);
  }

  async updateCredential(
    id: string,
    patch: Partial<Pick<StoredCredential, 'lastUsedAt' | 'revokedAt'>>,
  ): Promise<void> {
    const current = await this.getCredential(id);
    if (!current) return;
    await this.saveCredential({ ...current, ...patch });
  }

  async listUnfinished(): Promise<StoredExpression[]> {
    return this.statements().listUnfinished.all().map(fromRow);
  }

  async countByStatus(): Promise<Partial<Record<ExpressionStatus, number>>> {
    const counts: Partial<Record<ExpressionStatus, number>> = {};
    for (const { status, n } of this.statements().countByStatus.all()) {
      counts[status as ExpressionStatus] = n;
    }
    return counts;
  }

  async saveOpResults(results: StoredOpResult[]): Promise<number> {
    this.statements();
    if (results.length === 0) return 0;
    return this.saveMany!(
      results.map((r) => ({
        expression_id: r.expressionId,
        op_id: r.opId,
        value: r.value,
        agent_id: r.agentId,
        attempt: r.attempt,
        finished_at: r.finishedAt,
      })),
    );
  }

  async getOpResults(expressionId: string): Promise<StoredOpResult[]> {
    return this.statements().getOpResults.all(expressionId).map(fromOpRow);
  }

  async getOpResultsOfMany(expressionIds: readonly string[]): Promise<StoredOpResult[]> {
    // In-process SQLite has no round trips to save: the indexed per-id statement is the fast path.
    const statement = this.statements().getOpResults;
    return expressionIds.flatMap((id) => statement.all(id).map(fromOpRow));
  }

  async getSettings(): Promise<Settings | null> {
    const row = this.statements().getSettings.get();
    return row ? (JSON.parse(row.data) as Settings) : null;
  }

  async saveSettings(settings: Settings): Promise<void> {
    this.statements().saveSettings.run(JSON.stringify(settings));
  }

  async saveQuarantine(q: StoredQuarantine): Promise<void> {
    this.statements().saveQuarantine.run({
      agent_id: q.agentId,
      name: q.name,
      kind: q.kind,
      reason: q.reason,
      at: q.at,
    });
  }

  async deleteQuarantine(agentId: string): Promise<boolean> {
    return this.statements().deleteQuarantine.run(agentId).changes > 0;
  }

  async listQuarantines(): Promise<StoredQuarantine[]> {
    return this.statements()
      .listQuarantines.all()
      .map((r) => ({
        agentId: r.agent_id,
        name: r.name,
        kind: r.kind as AgentKind,
        reason: r.reason,
        at: r.at,
      }));
  }

  private statements(): Statements {
    if (!this.stmts) throw new Error('SqliteStore is not open: call init() first');
    return this.stmts;
  }
}

const EXPRESSION_COLUMNS =
  'id, expression, normalized, status, value, error, created_at, started_at, finished_at, op_count, cached, owner';

function prepare(db: Database.Database): Statements {
  return {
    insertExpression: db.prepare<ExpressionRow>(
      `INSERT OR IGNORE INTO expressions (${EXPRESSION_COLUMNS})
       VALUES (@id, @expression, @normalized, @status, @value, @error, @created_at, @started_at,
               @finished_at, @op_count, @cached, @owner)`,
    ),
    getExpression: db.prepare<[string], ExpressionRow>(
      `SELECT ${EXPRESSION_COLUMNS} FROM expressions WHERE id = ?`,
    ),
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
      `SELECT ${EXPRESSION_COLUMNS} FROM expressions
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    ),
    listAfter: db.prepare<[number, string, number], ExpressionRow>(
      `SELECT ${EXPRESSION_COLUMNS} FROM expressions
       WHERE (created_at, id) < (?, ?)
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    ),
    listUnfinished: db.prepare<[], ExpressionRow>(
      `SELECT ${EXPRESSION_COLUMNS} FROM expressions
       WHERE status IN ('pending', 'in_progress')
       ORDER BY created_at ASC, id ASC`,
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
      `SELECT ${EXPRESSION_COLUMNS} FROM expressions WHERE owner = ?
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    ),
    listOwnAfter: db.prepare<[string, number, string, number], ExpressionRow>(
      `SELECT ${EXPRESSION_COLUMNS} FROM expressions
       WHERE owner = ? AND (created_at, id) < (?, ?)
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    ),
    insertUser: db.prepare<UserRow>(
      `INSERT OR IGNORE INTO users (id, login, password_hash, role, created_at)
       VALUES (@id, @login, @password_hash, @role, @created_at)`,
    ),
    getUserByLogin: db.prepare<[string], UserRow>(
      'SELECT id, login, password_hash, role, created_at FROM users WHERE login = ?',
    ),
    getUser: db.prepare<[string], UserRow>(
      'SELECT id, login, password_hash, role, created_at FROM users WHERE id = ?',
    ),
    anyAdmin: db.prepare<[], { id: string }>("SELECT id FROM users WHERE role = 'admin' LIMIT 1"),
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
