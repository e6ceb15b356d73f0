// Issue 22: every query the embedded store makes is answered through an index, so no request and
// no restart slows down with history. SQLite's own planner says so: `EXPLAIN QUERY PLAN` of each
// prepared statement must not scan a growing table without an index. (MongoDB's indexes are
// created in MongoStore.init next to the queries; FerretDB 1.24's explain does not report index
// use, so the check here is SQLite's.)
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SCHEMA, migrate, prepare } from '../src/store/sqlite-schema.js';

/** Tables that grow with use; the others hold settings and admin-sized lists. */
const GROWING = ['expressions', 'expression_texts', 'op_results', 'revoked_tokens'];

/** Parameters that bind every placeholder of `sql` to null (the plan does not depend on them). */
function nullParams(sql: string): unknown[] {
  const named = [...sql.matchAll(/@(\w+)/g)].map((m) => m[1]!);
  if (named.length > 0) return [Object.fromEntries(named.map((n) => [n, null]))];
  return Array.from(sql.matchAll(/\?/g), () => null);
}

describe('embedded store: every query uses an index', () => {
  it('no statement scans a growing table without one', () => {
    const db = new Database(':memory:');
    db.exec(SCHEMA);
    migrate(db);
    const statements = prepare(db);
    const offenders: string[] = [];
    let checked = 0;
    for (const [name, statement] of Object.entries(statements)) {
      const sql = statement.source;
      if (!/^\s*(SELECT|UPDATE|DELETE|WITH)/i.test(sql)) continue;
      checked += 1;
      const plan = db
        .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...nullParams(sql));
      for (const { detail } of plan) {
        const scan = /^SCAN (\w+)(?: AS \w+)?(.*)$/.exec(detail);
        if (!scan) continue;
        const table = scan[1]!;
        const aliasOf = (alias: string): string =>
          new RegExp(`\\b(\\w+)\\s+${alias}\\b`).exec(sql)?.[1] ?? alias;
        const real = GROWING.includes(table) ? table : aliasOf(table);
        if (GROWING.includes(real) && !/USING (COVERING )?INDEX/.test(scan[2] ?? ''))
          offenders.push(`${name}: ${detail}`);
      }
    }
    db.close();
    expect(checked).toBeGreaterThan(10);
    expect(offenders).toEqual([]);
  });
});
