/**
 * The embedded store's tables (DDL) and the migrations that bring a database made by an earlier
 * schema version up to this one.
 */
import type Database from 'better-sqlite3';

/**
 * Bumped when the schema changes; stored in `PRAGMA user_version`. 3: long expressions keep their
 * text in `expression_texts` (an older build would read them as empty, so it must refuse). 4: users
 * can be disabled and their sessions ended (an older build would let a disabled user sign in). 5: a
 * finished expression's results are compacted into `expression_results` (an older build would show
 * its operations as never computed).
 */
export const SCHEMA_VERSION = 5;

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
