/**
 * The SQLite store adapter (the default, embedded): one file in the data directory.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AgentKind, ExpressionStatus, Settings } from '@expressionist/core';
import type {
  ExpressionPatch,
  FinishedRef,
  InsertOutcome,
  ListCursor,
  Store,
  StoredExpression,
  StoredOpResult,
  StoredCredential,
  StoredQuarantine,
  StoredSettings,
  StoredUser,
} from './store.js';
import { parseStoredSettings } from './store.js';
import { decodeCompact, encodeCompact, expandResults } from './compact-results.js';
import {
  SCHEMA,
  SCHEMA_VERSION,
  SQLITE_FILE_NAME,
  fromCredentialRow,
  fromOpRow,
  fromRow,
  fromUserRow,
  isOutOfLine,
  migrate,
  prepare,
  toRow,
  type ExpressionRow,
  type OpResultRow,
  type Statements,
} from './sqlite-schema.js';

export { SQLITE_FILE_NAME } from './sqlite-schema.js';

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
  private insertRow: ((expression: StoredExpression) => number) | null = null;

  constructor(readonly dataDir: string) {
    this.path = join(dataDir, SQLITE_FILE_NAME);
  }

  async init(): Promise<void> {
    if (this.db) return;
    // The data is users' expressions, password hashes and credentials: the owner's alone. SQLite
    // creates its -wal and -shm files with the database file's mode, so that one is made 0600
    // first (and an older, umask-made one is narrowed).
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    closeSync(openSync(this.path, 'a', 0o600));
    for (const file of [this.path, `${this.path}-wal`, `${this.path}-shm`])
      if (existsSync(file)) chmodSync(file, 0o600);
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
    const { insertExpression, insertText } = this.stmts;
    // The row and, for a long expression, its texts (see OUT_OF_LINE_CHARS), in one transaction.
    this.insertRow = db.transaction((e: StoredExpression): number => {
      const { changes } = insertExpression.run(toRow(e));
      if (changes === 1 && isOutOfLine(e))
        insertText.run(e.id, e.expression, e.normalized === e.expression ? null : e.normalized);
      return changes;
    });
    this.db = db;
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    this.stmts = null;
    this.saveMany = null;
    this.insertRow = null;
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
    if (this.insertRow!(expression) === 1) return { inserted: true };
    const existing = s.getExpression.get(expression.id);
    if (!existing) throw new Error(`expression ${expression.id} neither inserted nor found`);
    return { inserted: false, existing: fromRow(existing) };
  }

  async updateExpression(id: string, patch: ExpressionPatch): Promise<void> {
    const s = this.statements();
    const { status, value, error, startedAt, finishedAt, results } = patch;
    if (results !== undefined) {
      this.db!.transaction(() => {
        this.patchRow(id, patch);
        s.saveCompact.run(id, encodeCompact(results));
        s.deleteOpResultsOf.run(id);
      })();
      return;
    }
    if ([status, value, error, startedAt, finishedAt].every((v) => v === undefined)) return;
    this.patchRow(id, patch);
  }

  private patchRow(id: string, patch: ExpressionPatch): void {
    const { status, value, error, startedAt, finishedAt } = patch;
    this.statements().patchExpression.run({
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
      disabled_at: u.disabledAt,
      session_epoch: u.sessionEpoch,
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

  async listUsers(): Promise<StoredUser[]> {
    return this.statements().listUsers.all().map(fromUserRow);
  }

  async updateUser(
    id: string,
    patch: Partial<Pick<StoredUser, 'passwordHash' | 'disabledAt' | 'sessionEpoch'>>,
  ): Promise<boolean> {
    const { passwordHash, disabledAt, sessionEpoch } = patch;
    const { changes } = this.statements().patchUser.run({
      id,
      has_password_hash: passwordHash === undefined ? 0 : 1,
      password_hash: passwordHash ?? null,
      has_disabled_at: disabledAt === undefined ? 0 : 1,
      disabled_at: disabledAt ?? null,
      has_session_epoch: sessionEpoch === undefined ? 0 : 1,
      session_epoch: sessionEpoch ?? null,
    });
    return changes > 0;
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.statements().deleteUser.run(id).changes > 0;
  }

  async revokeToken(jti: string, expiresAt: number): Promise<void> {
    this.statements().revokeToken.run(jti, expiresAt);
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return this.statements().isTokenRevoked.get(jti) !== undefined;
  }

  async pruneRevokedTokens(now: number): Promise<number> {
    return this.statements().pruneRevokedTokens.run(now).changes;
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

  async listFinishedBefore(before: number, limit: number, owner?: string): Promise<FinishedRef[]> {
    const s = this.statements();
    if (!(limit >= 1)) return [];
    limit = Math.floor(limit);
    const rows =
      owner === undefined
        ? s.listFinishedBefore.all(before, limit)
        : s.listOwnFinishedBefore.all(owner, before, limit);
    return rows.map((r) => ({ id: r.id, owner: r.owner ?? null }));
  }

  async deleteExpression(id: string): Promise<boolean> {
    const s = this.statements();
    // One transaction here (SQLite has them); the interface promises no more than MongoDB gives.
    return this.db!.transaction(() => {
      s.deleteOpResultsOf.run(id);
      s.deleteCompact.run(id);
      s.deleteText.run(id);
      return s.deleteExpression.run(id).changes > 0;
    })();
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

  async getOpResults(expressionId: string, opIds?: readonly number[]): Promise<StoredOpResult[]> {
    if (opIds !== undefined && opIds.length === 0) return [];
    const compact = this.statements().getCompact.get(expressionId);
    if (compact) return expandResults(expressionId, decodeCompact(compact.data), opIds);
    if (opIds === undefined) return this.statements().getOpResults.all(expressionId).map(fromOpRow);
    return this.statements()
      .getSomeOpResults.all(expressionId, JSON.stringify(opIds))
      .map(fromOpRow);
  }

  async getOpResultsOfMany(expressionIds: readonly string[]): Promise<StoredOpResult[]> {
    // In-process SQLite has no round trips to save: the indexed per-id statement is the fast path.
    const statement = this.statements().getOpResults;
    return expressionIds.flatMap((id) => statement.all(id).map(fromOpRow));
  }

  async getSettings(): Promise<StoredSettings | null> {
    const row = this.statements().getSettings.get();
    return row ? parseStoredSettings(JSON.parse(row.data)) : null;
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
