import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { SQLITE_FILE_NAME, SqliteStore } from '../src/store/sqlite-store.js';
import { OUT_OF_LINE_CHARS } from '../src/store/sqlite-schema.js';
import { createStore } from '../src/store/index.js';
import type { Store } from '../src/store/store.js';
import { expr, storeContract } from './store-contract.js';

storeContract('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'expr-sqlite-'));
  // A not-yet-existing subdirectory: init() creates it.
  const dataDir = join(dir, 'data');
  const opened: Store[] = [];
  const open = async (): Promise<Store> => {
    const store = new SqliteStore(dataDir);
    opened.push(store);
    await store.init();
    return store;
  };
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const store of opened) await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStore specifics', () => {
  it('keeps its data in <dataDir>/expressionist.db, and createStore picks it without a URI', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'expr-sqlite-'));
    try {
      const store = createStore({ dataDir: dir, mongodbDb: 'unused' });
      expect(store).toBeInstanceOf(SqliteStore);
      await store.init();
      expect(existsSync(join(dir, SQLITE_FILE_NAME))).toBe(true);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps long texts out of line, so a status change rewrites a small row', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'expr-sqlite-'));
    const store = new SqliteStore(dir);
    try {
      await store.init();
      const sum = `${'1+'.repeat(OUT_OF_LINE_CHARS)}1`;
      await store.insertExpression(expr('long', 1, { expression: sum, normalized: sum }));
      await store.insertExpression(expr('short', 2));
      await store.updateExpression('long', { status: 'in_progress', startedAt: 3 });
      const db = new Database(join(dir, SQLITE_FILE_NAME), { readonly: true });
      try {
        const rows = db.prepare('SELECT id, length(expression) AS n FROM expressions').all();
        expect(rows).toEqual([
          { id: 'long', n: 0 },
          { id: 'short', n: expr('short', 2).expression.length },
        ]);
        const texts = db.prepare(
          'SELECT id, length(expression) AS n, normalized FROM expression_texts',
        );
        expect(texts.all()).toEqual([{ id: 'long', n: sum.length, normalized: null }]);
      } finally {
        db.close();
      }
      expect((await store.getExpression('long'))?.expression).toBe(sum);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects calls before init()', async () => {
    const store = new SqliteStore(join(tmpdir(), 'never-created'));
    await expect(store.getExpression('x')).rejects.toThrow(/init\(\)/);
    expect(await store.ping()).toBe(false);
  });
});
