/**
 * The SQLite store adapter (the default, embedded): one file in the data directory.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ComposedStore } from './composed-store.js';
import type { StoreRepositories } from './repositories.js';
import {
  SCHEMA,
  SCHEMA_VERSION,
  SQLITE_FILE_NAME,
  migrate,
  prepare,
  type Statements,
} from './sqlite-schema.js';
import { SqliteAccounts } from './sqlite/accounts.js';
import { SqliteExpressions } from './sqlite/expressions.js';
import { SqliteOpResults } from './sqlite/op-results.js';
import { SqliteQuarantines } from './sqlite/quarantines.js';
import { SqliteSettings } from './sqlite/settings.js';

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
export class SqliteStore extends ComposedStore {
  readonly path: string;
  private db: Database.Database | null = null;
  /** Made by init() over the open database's statements; null while closed. */
  private repos: StoreRepositories | null = null;

  constructor(readonly dataDir: string) {
    super();
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
    let statements: Statements;
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
      statements = prepare(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.repos = {
      expressions: new SqliteExpressions(db, statements),
      opResults: new SqliteOpResults(db, statements),
      accounts: new SqliteAccounts(statements),
      quarantines: new SqliteQuarantines(statements),
      settings: new SqliteSettings(statements),
    };
    this.db = db;
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    this.repos = null;
    if (db?.open) db.close();
  }

  async ping(): Promise<boolean> {
    try {
      return this.db?.prepare('SELECT 1 AS ok').get() !== undefined;
    } catch {
      return false;
    }
  }

  protected repositories(): StoreRepositories {
    if (!this.repos) throw new Error('SqliteStore is not open: call init() first');
    return this.repos;
  }
}
