/**
 * The contract every Store implementation passes. Each test gets a fresh, empty store from
 * `makeStore`; `reopen` opens a second instance on the same data (same directory / database)
 * and `cleanup` closes everything the harness opened and removes the data.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExpressionStatus, Settings } from '@expressionist/core';
import type {
  Store,
  StoredCredential,
  StoredExpression,
  StoredOpResult,
  StoredUser,
} from '../src/store/store.js';
import { compactResults } from '../src/store/compact-results.js';

export interface StoreHarness {
  store: Store;
  /** A new, initialized store instance on the same data as `store`. */
  reopen: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

export function expr(
  id: string,
  createdAt: number,
  overrides: Partial<StoredExpression> = {},
): StoredExpression {
  return {
    id,
    expression: `(1 + 2) * ${id.length}`,
    normalized: `(1+2)*${id.length}`,
    status: 'pending',
    value: null,
    error: null,
    createdAt,
    startedAt: null,
    finishedAt: null,
    opCount: 2,
    cached: false,
    owner: null,
    ...overrides,
  };
}

export function opResult(
  expressionId: string,
  opId: number,
  overrides: Partial<StoredOpResult> = {},
): StoredOpResult {
  return {
    expressionId,
    opId,
    value: `${opId}.5`,
    agentId: 'agent-1',
    attempt: 1,
    finishedAt: 1_700_000_000_000 + opId,
    ...overrides,
  };
}

const SETTINGS: Settings = {
  additionMs: 10,
  subtractionMs: 20,
  multiplicationMs: 30,
  divisionMs: 40,
  lostAgentRetentionMs: 50_000,
  retentionMs: 86_400_000,
};

/** Newest first: createdAt desc, then id desc (plain code-unit order; ids are ASCII). */
function newestFirst(a: StoredExpression, b: StoredExpression): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function byOpId(a: StoredOpResult, b: StoredOpResult): number {
  return a.opId - b.opId;
}

export function storeContract(name: string, makeStore: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });

    afterEach(async () => {
      await h.cleanup();
    });

    it('pings after init and not after close', async () => {
      expect(await store.ping()).toBe(true);
      await store.close();
      expect(await store.ping()).toBe(false);
      await store.close(); // idempotent
    });

    it('inserts and gets an expression with every field intact', async () => {
      expect(await store.getExpression('nope')).toBeNull();
      const a = expr('a-1', 1_700_000_000_001, {
        expression: ' 2 /  0 ',
        normalized: '2/0',
        status: 'error',
        error: { code: 'EXPR_DIV_ZERO', message: 'Division by zero.', position: 3 },
        startedAt: 1_700_000_000_002,
        finishedAt: 1_700_000_000_003,
        opCount: 1,
      });
      const b = expr('b:2', 1_700_000_000_004, {
        status: 'done',
        value: '-12345678901234567890.000000000000000000001',
        opCount: 0,
        cached: true,
        finishedAt: 1_700_000_000_004,
      });
      expect(await store.insertExpression(a)).toEqual({ inserted: true });
      expect(await store.insertExpression(b)).toEqual({ inserted: true });
      expect(await store.getExpression('a-1')).toEqual(a);
      expect(await store.getExpression('b:2')).toEqual(b);
    });

    it('an insert with an existing id returns the existing expression and writes nothing', async () => {
      const original = expr('dup', 1000);
      await store.insertExpression(original);
      const other = expr('dup', 2000, { expression: '9 - 9', normalized: '9-9', status: 'done' });
      expect(await store.insertExpression(other)).toEqual({ inserted: false, existing: original });
      expect(await store.getExpression('dup')).toEqual(original);
      expect(await store.listExpressions(10)).toEqual([original]);
      expect(await store.countByStatus()).toEqual({ pending: 1 });
    });

    it('keeps long expressions whole through inserts, patches, lists and a reopen', async () => {
      // Long enough to be kept out of line by the embedded store (OUT_OF_LINE_CHARS).
      const sum = `${'1+'.repeat(40_000)}1`;
      const spaced = expr('long-spaced', 3000, {
        expression: sum.replace(/\+/g, ' + '),
        normalized: sum,
        opCount: 40_000,
        owner: 'u1',
      });
      const bare = expr('long-bare', 3001, { expression: sum, normalized: sum, opCount: 40_000 });
      expect(await store.insertExpression(spaced)).toEqual({ inserted: true });
      expect(await store.insertExpression(bare)).toEqual({ inserted: true });
      const again = expr('long-bare', 4000, { expression: `${sum}+2`, normalized: `${sum}+2` });
      expect(await store.insertExpression(again)).toEqual({ inserted: false, existing: bare });
      expect(await store.getExpression('long-spaced')).toEqual(spaced);
      expect(await store.listUnfinished()).toEqual([spaced, bare]);
      await store.updateExpression('long-bare', { status: 'in_progress', startedAt: 3002 });
      const started = { ...bare, status: 'in_progress' as const, startedAt: 3002 };
      expect(await store.getExpression('long-bare')).toEqual(started);
      expect(await store.listExpressions(10)).toEqual([started, spaced]);
      expect(await store.listExpressions(10, undefined, 'u1')).toEqual([spaced]);
      await store.close();
      const reopened = await h.reopen();
      expect(await reopened.getExpression('long-spaced')).toEqual(spaced);
      expect(await reopened.getExpression('long-bare')).toEqual(started);
    });

    it('applies patches field by field and ignores unknown ids', async () => {
      const e = expr('p', 1000);
      await store.insertExpression(e);

      await store.updateExpression('p', { status: 'in_progress', startedAt: 1100 });
      expect(await store.getExpression('p')).toEqual({
        ...e,
        status: 'in_progress',
        startedAt: 1100,
      });

      await store.updateExpression('p', {});
      await store.updateExpression('p', { status: 'done', value: '42', finishedAt: 1200 });
      const done = {
        ...e,
        status: 'done' as const,
        startedAt: 1100,
        value: '42',
        finishedAt: 1200,
      };
      expect(await store.getExpression('p')).toEqual(done);

      await store.updateExpression('p', {
        status: 'error',
        value: null,
        error: { code: 'EXPR_OP_FAILED', message: 'op 3 failed' },
      });
      expect(await store.getExpression('p')).toEqual({
        ...done,
        status: 'error',
        value: null,
        error: { code: 'EXPR_OP_FAILED', message: 'op 3 failed' },
      });

      await store.updateExpression('p', { error: null, startedAt: null, finishedAt: null });
      expect(await store.getExpression('p')).toEqual({
        ...done,
        status: 'error',
        value: null,
        error: null,
        startedAt: null,
        finishedAt: null,
      });

      await store.updateExpression('ghost', { status: 'done', value: '1' });
      expect(await store.getExpression('ghost')).toBeNull();
      expect(await store.listExpressions(10)).toHaveLength(1);
    });

    it('lists newest first with keyset pagination, ties broken by id', async () => {
      expect(await store.listExpressions(5)).toEqual([]);
      const all: StoredExpression[] = [];
      // 3 timestamps x 7 ids (ties), plus a few unique ones; inserted in a scrambled order.
      for (const t of [5000, 3000, 4000]) {
        for (const id of ['m', 'a', 'z', 'b9', 'b10', 'Q', '0']) all.push(expr(`${id}-${t}`, t));
      }
      all.push(expr('solo-1', 1), expr('solo-9999', 9999), expr('solo-4000x', 4000));
      const scrambled = [...all].sort(
        (x, y) => ((x.id.length * 7 + x.createdAt) % 11) - ((y.id.length * 7 + y.createdAt) % 11),
      );
      for (const e of scrambled) await store.insertExpression(e);
      const expected = [...all].sort(newestFirst);

      expect(await store.listExpressions(1000)).toEqual(expected);
      expect(await store.listExpressions(3)).toEqual(expected.slice(0, 3));
      expect(await store.listExpressions(0)).toEqual([]);

      const pages: StoredExpression[][] = [];
      let page = await store.listExpressions(4);
      while (page.length > 0) {
        expect(page.length).toBeLessThanOrEqual(4);
        pages.push(page);
        const last = page[page.length - 1]!;
        page = await store.listExpressions(4, { createdAt: last.createdAt, id: last.id });
      }
      expect(pages.flat()).toEqual(expected);
      expect(pages).toHaveLength(Math.ceil(expected.length / 4));

      // The cursor row itself is excluded; a cursor need not be an existing row.
      expect(await store.listExpressions(2, { createdAt: 4000, id: 'm-4000' })).toEqual(
        expected.slice(expected.findIndex((e) => e.id === 'm-4000') + 1).slice(0, 2),
      );
      expect(await store.listExpressions(100, { createdAt: 4000, id: 'n' })).toEqual(
        expected.filter((e) => e.createdAt < 4000 || (e.createdAt === 4000 && e.id < 'n')),
      );
      expect(await store.listExpressions(10, { createdAt: 1, id: 'solo-1' })).toEqual([]);
    });

    it('lists unfinished expressions oldest first', async () => {
      const statuses: ExpressionStatus[] = ['pending', 'in_progress', 'done', 'error', 'canceled'];
      const all: StoredExpression[] = [];
      for (let i = 0; i < 20; i++) {
        const createdAt = 10_000 - (i % 4) * 100;
        all.push(expr(`u${String(i).padStart(2, '0')}`, createdAt, { status: statuses[i % 5]! }));
      }
      for (const e of all) await store.insertExpression(e);
      const expected = all
        .filter((e) => e.status === 'pending' || e.status === 'in_progress')
        .sort((a, b) => -newestFirst(a, b));
      expect(await store.listUnfinished()).toEqual(expected);

      await store.updateExpression(expected[0]!.id, { status: 'done', value: '1' });
      await store.updateExpression('u02', { status: 'pending' });
      const now = await store.listUnfinished();
      expect(now.map((e) => e.id)).not.toContain(expected[0]!.id);
      expect(now.map((e) => e.id)).toContain('u02');
      expect(now).toHaveLength(expected.length);
    });

    it('counts expressions by status', async () => {
      const counts = await store.countByStatus();
      expect(Object.values(counts).every((n) => n === 0)).toBe(true);
      const plan: [ExpressionStatus, number][] = [
        ['pending', 3],
        ['in_progress', 2],
        ['done', 5],
        ['error', 1],
      ];
      let n = 0;
      for (const [status, count] of plan) {
        for (let i = 0; i < count; i++)
          await store.insertExpression(expr(`c${n++}`, n, { status }));
      }
      expect(await store.countByStatus()).toEqual({
        pending: 3,
        in_progress: 2,
        done: 5,
        error: 1,
      });
      await store.updateExpression('c0', { status: 'canceled' });
      expect(await store.countByStatus()).toEqual({
        pending: 2,
        in_progress: 2,
        done: 5,
        error: 1,
        canceled: 1,
      });
    });

    it('saves op results once per (expressionId, opId) and counts only new rows', async () => {
      expect(await store.saveOpResults([])).toBe(0);
      expect(await store.getOpResults('e1')).toEqual([]);

      const first = [opResult('e1', 0), opResult('e1', 1), opResult('e2', 0)];
      expect(await store.saveOpResults(first)).toBe(3);
      expect(await store.saveOpResults(first)).toBe(0);

      // Overlapping batch: op 1 is already stored (its first value wins), op 2 is new; a key
      // repeated inside one batch is stored once.
      const second = [
        opResult('e1', 1, { value: '999', agentId: 'agent-2', attempt: 2 }),
        opResult('e1', 2, { agentId: 'agent-2' }),
        opResult('e1', 2, { value: '-1', agentId: 'agent-3' }),
      ];
      expect(await store.saveOpResults(second)).toBe(1);

      const e1 = (await store.getOpResults('e1')).sort(byOpId);
      expect(e1).toHaveLength(3);
      expect(e1.slice(0, 2)).toEqual([opResult('e1', 0), opResult('e1', 1)]);
      expect([second[1], second[2]]).toContainEqual(e1[2]);
      expect(await store.getOpResults('e2')).toEqual([opResult('e2', 0)]);
      expect(await store.getOpResults('e3')).toEqual([]);
    });

    it('reads only the results of the op ids asked for, by op id', async () => {
      const rows = Array.from({ length: 50 }, (_, i) => opResult('some', i));
      await store.saveOpResults([...rows, opResult('other', 3)]);
      expect(await store.getOpResults('some', [])).toEqual([]);
      expect(await store.getOpResults('some', [42, 3, 7, 99])).toEqual([
        opResult('some', 3),
        opResult('some', 7),
        opResult('some', 42),
      ]);
      expect(await store.getOpResults('none', [3])).toEqual([]);
    });

    it('reads the results of many expressions at once', async () => {
      expect(await store.getOpResultsOfMany([])).toEqual([]);
      const rows = [opResult('m1', 0), opResult('m1', 1), opResult('m2', 0), opResult('m3', 4)];
      await store.saveOpResults(rows);
      const got = await store.getOpResultsOfMany(['m1', 'm3', 'missing']);
      const key = (r: { expressionId: string; opId: number }): string =>
        `${r.expressionId}:${r.opId}`;
      expect(got.map(key).sort()).toEqual(['m1:0', 'm1:1', 'm3:4']);
      expect(got.find((r) => key(r) === 'm3:4')).toEqual(opResult('m3', 4));
    });

    it('keeps op results of ids that share prefixes apart', async () => {
      const rows = [opResult('x', 11), opResult('x:1', 1), opResult('x1', 1), opResult('x', 1)];
      expect(await store.saveOpResults(rows)).toBe(4);
      expect((await store.getOpResults('x')).sort(byOpId)).toEqual([
        opResult('x', 1),
        opResult('x', 11),
      ]);
      expect(await store.getOpResults('x:1')).toEqual([opResult('x:1', 1)]);
      expect(await store.getOpResults('x1')).toEqual([opResult('x1', 1)]);
    });

    it('stores each key exactly once under concurrent saves of the same keys', async () => {
      const keys = 300;
      const writers = 6;
      const batches = Array.from({ length: writers }, (_, w) =>
        Array.from({ length: keys }, (_, i) =>
          opResult('conc', i, { value: `${i}.${w}`, agentId: `agent-${w}`, attempt: w + 1 }),
        ),
      );
      const added = await Promise.all(batches.map((b) => store.saveOpResults(b)));
      expect(added.reduce((a, b) => a + b, 0)).toBe(keys);

      const stored = (await store.getOpResults('conc')).sort(byOpId);
      expect(stored).toHaveLength(keys);
      stored.forEach((r, i) => {
        expect(r.opId).toBe(i);
        const w = Number(r.agentId.slice('agent-'.length));
        // Every row is one writer's row, whole.
        expect(r).toEqual(batches[w]![i]);
      });
    });

    it('saves 10,000 results in one call', async () => {
      const rows = Array.from({ length: 10_000 }, (_, i) => opResult('big', i));
      expect(await store.saveOpResults(rows)).toBe(10_000);
      const stored = await store.getOpResults('big');
      expect(stored).toHaveLength(10_000);
      expect(stored.sort(byOpId)).toEqual(rows);
      expect(await store.saveOpResults(rows)).toBe(0);
    });

    it('round-trips settings (null before the first save)', async () => {
      expect(await store.getSettings()).toBeNull();
      await store.saveSettings(SETTINGS);
      expect(await store.getSettings()).toEqual(SETTINGS);
      const changed = { ...SETTINGS, divisionMs: 0, lostAgentRetentionMs: 1 };
      await store.saveSettings(changed);
      expect(await store.getSettings()).toEqual(changed);
    });

    it('records, replaces, lists and lifts quarantines', async () => {
      expect(await store.listQuarantines()).toEqual([]);
      const liar = { agentId: 'liar', name: 'Liar', kind: 'node' as const, reason: 'r1', at: 10 };
      const other = { agentId: 'http-x', name: 'x', kind: 'http' as const, reason: 'r2', at: 5 };
      await store.saveQuarantine(liar);
      await store.saveQuarantine(other);
      expect(await store.listQuarantines()).toEqual([other, liar]);
      const again = { ...liar, reason: 'r3', at: 20 };
      await store.saveQuarantine(again);
      expect(await store.listQuarantines()).toEqual([other, again]);
      expect(await store.deleteQuarantine('liar')).toBe(true);
      expect(await store.deleteQuarantine('liar')).toBe(false);
      expect(await store.listQuarantines()).toEqual([other]);
    });

    it('keeps everything across close and reopen', async () => {
      const done = expr('keep-1', 100, { status: 'done', value: '3', opCount: 2, finishedAt: 150 });
      const pending = expr('keep-2', 200);
      await store.insertExpression(done);
      await store.insertExpression(pending);
      await store.updateExpression('keep-2', { status: 'in_progress', startedAt: 210 });
      await store.saveOpResults([opResult('keep-2', 0), opResult('keep-2', 1)]);
      await store.saveSettings(SETTINGS);
      const quarantine = { agentId: 'q', name: 'Q', kind: 'browser' as const, reason: 'x', at: 1 };
      await store.saveQuarantine(quarantine);
      await store.close();

      const again = await h.reopen();
      const inProgress = { ...pending, status: 'in_progress' as const, startedAt: 210 };
      expect(await again.ping()).toBe(true);
      expect(await again.getExpression('keep-1')).toEqual(done);
      expect(await again.listExpressions(10)).toEqual([inProgress, done]);
      expect(await again.listUnfinished()).toEqual([inProgress]);
      expect(await again.countByStatus()).toEqual({ done: 1, in_progress: 1 });
      expect((await again.getOpResults('keep-2')).sort(byOpId)).toEqual([
        opResult('keep-2', 0),
        opResult('keep-2', 1),
      ]);
      expect(await again.getSettings()).toEqual(SETTINGS);
      expect(await again.listQuarantines()).toEqual([quarantine]);
      // The reopened store is fully usable: idempotency still holds against old data.
      expect(await again.insertExpression(expr('keep-1', 999))).toEqual({
        inserted: false,
        existing: done,
      });
      expect(await again.saveOpResults([opResult('keep-2', 1), opResult('keep-2', 2)])).toBe(1);
    });

    it('users: unique logins, lookup by login and id, admin presence, survives reopen', async () => {
      const user = (id: string, login: string, role: StoredUser['role']): StoredUser => ({
        id,
        login,
        passwordHash: `scrypt$32768$8$1$salt-${id}$hash-${id}`,
        role,
        createdAt: 1_700_000_000_000,
        disabledAt: null,
        sessionEpoch: 0,
      });
      expect(await store.hasAdmin()).toBe(false);
      expect(await store.createUser(user('u1', 'ada', 'user'))).toBe('created');
      expect(await store.createUser(user('u2', 'ada', 'admin'))).toBe('taken');
      expect(await store.hasAdmin()).toBe(false);
      expect(await store.createUser(user('u3', 'root', 'admin'))).toBe('created');
      expect(await store.hasAdmin()).toBe(true);
      expect(await store.getUserByLogin('ada')).toEqual(user('u1', 'ada', 'user'));
      expect(await store.getUser('u3')).toEqual(user('u3', 'root', 'admin'));
      expect(await store.getUserByLogin('nobody')).toBeNull();
      expect(await store.getUser('nope')).toBeNull();
      const again = await h.reopen();
      expect(await again.getUserByLogin('root')).toEqual(user('u3', 'root', 'admin'));
      expect(await again.hasAdmin()).toBe(true);
    });

    it('users: listed oldest first, patched field by field, deleted; survive reopen', async () => {
      const user = (id: string, login: string, createdAt: number): StoredUser => ({
        id,
        login,
        passwordHash: `scrypt$32768$8$1$salt-${id}$hash-${id}`,
        role: 'user',
        createdAt,
        disabledAt: null,
        sessionEpoch: 0,
      });
      await store.createUser(user('u2', 'bea', 2000));
      await store.createUser(user('u1', 'ada', 1000));
      await store.createUser(user('u0', 'cyd', 2000));
      expect((await store.listUsers()).map((u) => u.id)).toEqual(['u1', 'u0', 'u2']);
      expect(await store.updateUser('u2', { disabledAt: 5000, sessionEpoch: 1 })).toBe(true);
      expect(await store.getUser('u2')).toEqual({
        ...user('u2', 'bea', 2000),
        disabledAt: 5000,
        sessionEpoch: 1,
      });
      // Only the fields given change; null is a value (enabled again), undefined is "leave it".
      expect(await store.updateUser('u2', { passwordHash: 'scrypt$new', disabledAt: null })).toBe(
        true,
      );
      expect(await store.getUser('u2')).toEqual({
        ...user('u2', 'bea', 2000),
        passwordHash: 'scrypt$new',
        sessionEpoch: 1,
      });
      expect(await store.updateUser('u2', {})).toBe(true);
      expect(await store.updateUser('nobody', { sessionEpoch: 3 })).toBe(false);
      expect(await store.deleteUser('u1')).toBe(true);
      expect(await store.deleteUser('u1')).toBe(false);
      expect(await store.getUser('u1')).toBeNull();
      expect(await store.getUserByLogin('ada')).toBeNull();
      // The login is free again, for a new account with a new id.
      expect(await store.createUser(user('u9', 'ada', 9000))).toBe('created');
      const again = await h.reopen();
      expect((await again.listUsers()).map((u) => [u.id, u.disabledAt, u.sessionEpoch])).toEqual([
        ['u0', null, 0],
        ['u2', null, 1],
        ['u9', null, 0],
      ]);
    });

    it('revoked tokens: recorded once, looked up, pruned at their expiry, survive reopen', async () => {
      expect(await store.isTokenRevoked('jti-1')).toBe(false);
      await store.revokeToken('jti-1', 1000);
      await store.revokeToken('jti-1', 1000);
      await store.revokeToken('jti-2', 3000);
      expect(await store.isTokenRevoked('jti-1')).toBe(true);
      expect(await store.isTokenRevoked('jti-2')).toBe(true);
      expect(await store.isTokenRevoked('jti-3')).toBe(false);
      expect(await store.pruneRevokedTokens(999)).toBe(0);
      expect(await store.pruneRevokedTokens(1000)).toBe(1);
      expect(await store.isTokenRevoked('jti-1')).toBe(false);
      expect(await store.isTokenRevoked('jti-2')).toBe(true);
      const again = await h.reopen();
      expect(await again.isTokenRevoked('jti-2')).toBe(true);
      expect(await again.pruneRevokedTokens(5000)).toBe(1);
      expect(await again.isTokenRevoked('jti-2')).toBe(false);
    });

    it('credentials: saved, listed oldest first, updated, survive reopen', async () => {
      const cred = (id: string, createdAt: number): StoredCredential => ({
        id,
        name: `rack ${id}`,
        tokenHash: 'ab'.repeat(32),
        createdAt,
        lastUsedAt: null,
        revokedAt: null,
      });
      await store.saveCredential(cred('c2', 2000));
      await store.saveCredential(cred('c1', 1000));
      expect((await store.listCredentials()).map((c) => c.id)).toEqual(['c1', 'c2']);
      await store.updateCredential('c1', { lastUsedAt: 1500 });
      await store.updateCredential('c1', { revokedAt: 1600 });
      await store.updateCredential('unknown', { revokedAt: 1 });
      expect(await store.getCredential('c1')).toEqual({
        ...cred('c1', 1000),
        lastUsedAt: 1500,
        revokedAt: 1600,
      });
      expect(await store.getCredential('unknown')).toBeNull();
      const again = await h.reopen();
      expect((await again.listCredentials()).map((c) => [c.id, c.revokedAt])).toEqual([
        ['c1', 1600],
        ['c2', null],
      ]);
    });

    it("expressions keep their owner; listing by owner shows only that owner's", async () => {
      await store.insertExpression(expr('o-1', 1000, { owner: 'u1' }));
      await store.insertExpression(expr('o-2', 2000, { owner: 'u2' }));
      await store.insertExpression(expr('o-3', 3000, { owner: 'u1' }));
      await store.insertExpression(expr('o-4', 4000));
      expect((await store.getExpression('o-2'))?.owner).toBe('u2');
      expect((await store.getExpression('o-4'))?.owner).toBeNull();
      expect((await store.listExpressions(10, undefined, 'u1')).map((e) => e.id)).toEqual([
        'o-3',
        'o-1',
      ]);
      const page = await store.listExpressions(1, undefined, 'u1');
      expect(page.map((e) => e.id)).toEqual(['o-3']);
      expect(
        (await store.listExpressions(10, { createdAt: 3000, id: 'o-3' }, 'u1')).map((e) => e.id),
      ).toEqual(['o-1']);
      expect((await store.listExpressions(10)).map((e) => e.id)).toEqual([
        'o-4',
        'o-3',
        'o-2',
        'o-1',
      ]);
      expect(await store.listExpressions(10, undefined, 'nobody')).toEqual([]);
    });

    it('lists finished expressions by finish time (never unfinished ones), all or one owner’s', async () => {
      const finished = (id: string, finishedAt: number, owner: string | null = null) =>
        expr(id, 1000, { status: 'done', value: '1', finishedAt, owner });
      await store.insertExpression(finished('f-3', 3000, 'u1'));
      await store.insertExpression(finished('f-1', 1000, 'u2'));
      await store.insertExpression(finished('f-2', 2000, 'u1'));
      await store.insertExpression(expr('running', 500, { status: 'in_progress' }));
      await store.insertExpression(
        expr('canceled', 900, { status: 'canceled', finishedAt: 1500, owner: 'u1' }),
      );
      const ids = async (before: number, limit: number, owner?: string) =>
        (await store.listFinishedBefore(before, limit, owner)).map((r) => r.id);
      expect(await store.listFinishedBefore(2500, 10)).toEqual([
        { id: 'f-1', owner: 'u2' },
        { id: 'canceled', owner: 'u1' },
        { id: 'f-2', owner: 'u1' },
      ]);
      expect(await ids(2500, 2)).toEqual(['f-1', 'canceled']);
      expect(await ids(10_000, 10, 'u1')).toEqual(['canceled', 'f-2', 'f-3']);
      expect(await ids(0, 10)).toEqual([]);
      // A patch that finishes an expression makes it listable.
      await store.updateExpression('running', { status: 'done', value: '2', finishedAt: 100 });
      expect(await store.listFinishedBefore(1000, 10)).toEqual([{ id: 'running', owner: null }]);
    });

    it('deletes an expression with its op results and nothing else', async () => {
      const long = `1+${'2+'.repeat(20_000)}3`;
      await store.insertExpression(expr('gone', 1000, { expression: long, normalized: long }));
      await store.insertExpression(expr('kept', 2000));
      await store.saveOpResults([opResult('gone', 0), opResult('gone', 1), opResult('kept', 0)]);
      expect(await store.deleteExpression('gone')).toBe(true);
      expect(await store.getExpression('gone')).toBeNull();
      expect(await store.getOpResults('gone')).toEqual([]);
      expect(await store.getExpression('kept')).not.toBeNull();
      expect(await store.getOpResults('kept')).toHaveLength(1);
      expect(await store.deleteExpression('gone')).toBe(false);
      // The id is free again: the same client id may be submitted anew.
      expect((await store.insertExpression(expr('gone', 3000))).inserted).toBe(true);
      expect((await store.getExpression('gone'))?.expression).toBe(expr('gone', 3000).expression);
    });

    it("compacts a finished expression's results into one record: same reads, no rows left", async () => {
      await store.insertExpression(expr('c', 1000, { status: 'in_progress', opCount: 4 }));
      await store.insertExpression(expr('other', 1000, { status: 'in_progress' }));
      const rows = [
        opResult('c', 0, { agentId: 'a' }),
        opResult('c', 1, { agentId: 'b', attempt: 2, value: '-12345678901234567890.5' }),
        opResult('c', 3, { agentId: 'a' }),
      ];
      await store.saveOpResults([...rows, opResult('other', 0)]);
      const results = compactResults(rows, 4);
      expect(results).not.toBeNull();
      await store.updateExpression('c', {
        status: 'canceled',
        finishedAt: 5000,
        ...(results ? { results } : {}),
      });
      const finished = await store.getExpression('c');
      expect(finished?.status).toBe('canceled');
      expect(finished).not.toHaveProperty('results');
      // Reads answer as the rows did: all, some (op 2 never finished), none.
      expect(await store.getOpResults('c')).toEqual(rows);
      expect(await store.getOpResults('c', [3, 2, 1])).toEqual([rows[1], rows[2]]);
      expect(await store.getOpResults('c', [])).toEqual([]);
      // The rows are gone (recovery reads rows only), and other expressions' rows are untouched.
      expect(await store.getOpResultsOfMany(['c'])).toEqual([]);
      expect(await store.getOpResults('other')).toEqual([opResult('other', 0)]);
      // A late row (a result already on the wire when it was canceled) changes no read.
      await store.saveOpResults([opResult('c', 2)]);
      expect(await store.getOpResults('c')).toEqual(rows);
      expect((await store.listExpressions(10)).map((e) => e.id).sort()).toEqual(['c', 'other']);
      // Deleting it takes the record and any late row with it.
      expect(await store.deleteExpression('c')).toBe(true);
      expect(await store.getOpResults('c')).toEqual([]);
      expect(await store.getOpResultsOfMany(['c'])).toEqual([]);
      await store.insertExpression(expr('c', 6000));
      expect(await store.getOpResults('c')).toEqual([]);
    });

    it('gives back settings stored before a field existed without it (the caller fills it)', async () => {
      const older: Partial<Settings> = { ...SETTINGS };
      delete older.retentionMs;
      await store.saveSettings(older as Settings);
      expect(await store.getSettings()).toEqual(older);
    });
  });
}
