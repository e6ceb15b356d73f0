import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoStore } from '../src/store/mongo-store.js';
import { createStore } from '../src/store/index.js';
import type { Store } from '../src/store/store.js';
import { storeContract } from './store-contract.js';

const uri = process.env['MONGODB_URI'];
/** Unique per test file and run; every store of this run gets `${prefix}_${n}`. */
const prefix = `exprtest_${process.pid}_${Date.now()}`;

if (!uri)
  console.log(
    'MongoDB store suite skipped: set MONGODB_URI (e.g. eval "$(scripts/ferretdb.sh start)") to enable',
  );

describe.skipIf(!uri)('MongoDB store (MONGODB_URI)', () => {
  const mongoUri = uri ?? '';
  let n = 0;
  let admin: MongoClient;

  beforeAll(() => {
    admin = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 5000 });
  });

  afterAll(async () => {
    // Safety net: drop whatever a failed test may have left behind.
    try {
      const { databases } = await admin.db('admin').admin().listDatabases({ nameOnly: true });
      for (const { name } of databases) {
        if (name.startsWith(prefix)) await admin.db(name).dropDatabase();
      }
    } finally {
      await admin.close();
    }
  });

  storeContract('MongoDB', async () => {
    const dbName = `${prefix}_${n++}`;
    const opened: Store[] = [];
    const open = async (): Promise<Store> => {
      const store = new MongoStore(mongoUri, dbName, { connectTimeoutMs: 10_000 });
      opened.push(store);
      await store.init();
      return store;
    };
    return {
      store: await open(),
      reopen: open,
      cleanup: async () => {
        for (const store of opened) await store.close();
        await admin.db(dbName).dropDatabase();
      },
    };
  });

  describe('MongoStore specifics', () => {
    it('createStore picks MongoDB when a URI is set', async () => {
      const store = createStore({
        mongodbUri: mongoUri,
        mongodbDb: `${prefix}_cs`,
        dataDir: '/nonexistent',
      });
      expect(store).toBeInstanceOf(MongoStore);
      await store.close();
    });
  });
});

describe('MongoStore with an unreachable database', () => {
  it('ping() is false and init() fails with a clear message within its timeout', async () => {
    const store = new MongoStore('mongodb://app:s3cret@127.0.0.1:1/?directConnection=true', 'x', {
      connectTimeoutMs: 1500,
    });
    try {
      expect(await store.ping()).toBe(false);
      const started = Date.now();
      const err: unknown = await store.init().then(
        () => null,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(Error);
      const message = (err as Error).message;
      expect(message).toMatch(
        /^MongoDB at mongodb:\/\/app:\*\*\*@127\.0\.0\.1:1\/\S* unreachable after 1\.5 s: /,
      );
      expect(message).not.toContain('s3cret');
      // Bounded: it gives up instead of hanging (generous margin for a loaded machine).
      expect(elapsed).toBeLessThan(1500 + 10_000);
      expect(await store.ping()).toBe(false);
    } finally {
      await store.close();
    }
  });
});
