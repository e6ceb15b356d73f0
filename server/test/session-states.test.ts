/**
 * What the session checks read while the store is unreachable: a real SQLite store, closed to
 * stand for an outage, and the clock moved with fake Date only (no process, no sleeps).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExpressionistError } from '@expressionist/core';
import { tempDir } from '@expressionist/testkit';
import { CACHE_MS, SessionStates } from '../src/auth/session-states.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

let data: ReturnType<typeof tempDir>;
let store: SqliteStore;

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(1_800_000_000_000);
  data = tempDir('expr-session-states-');
  store = new SqliteStore(data.dir);
  await store.init();
  await store.createUser({
    id: 'u1',
    login: 'ada',
    passwordHash: 'scrypt$x',
    role: 'user',
    createdAt: 1,
    disabledAt: null,
    sessionEpoch: 0,
  });
});
afterEach(async () => {
  vi.useRealTimers();
  await store.close();
  data.remove();
});

const code = (err: unknown): string | undefined =>
  err instanceof ExpressionistError ? err.code : undefined;

describe('session states', () => {
  it('re-read after CACHE_MS; forgotten at once when told', async () => {
    const states = new SessionStates(store);
    expect((await states.user('u1'))?.disabledAt).toBeNull();
    await store.updateUser('u1', { disabledAt: 5 });
    // Cached: the change is not seen until the entry is stale or forgotten.
    expect((await states.user('u1'))?.disabledAt).toBeNull();
    vi.setSystemTime(Date.now() + CACHE_MS);
    expect((await states.user('u1'))?.disabledAt).toBe(5);
    await store.updateUser('u1', { disabledAt: null });
    states.forgetUser('u1');
    expect((await states.user('u1'))?.disabledAt).toBeNull();
    expect(await states.isRevoked('j1')).toBe(false);
    await store.revokeToken('j1', Date.now() + 60_000);
    states.forgetToken('j1');
    expect(await states.isRevoked('j1')).toBe(true);
  });

  it('store down: a stale entry serves, a forgotten one never comes back, none is 503', async () => {
    const states = new SessionStates(store);
    await states.user('u1');
    await states.isRevoked('j1');
    await store.close();
    vi.setSystemTime(Date.now() + 10 * CACHE_MS);
    expect((await states.user('u1'))?.login).toBe('ada');
    expect(await states.isRevoked('j1')).toBe(false);
    states.forgetUser('u1');
    states.forgetToken('j1');
    expect(code(await states.user('u1').catch((e: unknown) => e))).toBe('STORE_UNAVAILABLE');
    expect(code(await states.isRevoked('j1').catch((e: unknown) => e))).toBe('STORE_UNAVAILABLE');
    expect(code(await states.user('u2').catch((e: unknown) => e))).toBe('STORE_UNAVAILABLE');
  });
});
