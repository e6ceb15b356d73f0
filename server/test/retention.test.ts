// Issue 22: finished expressions leave the store — deleted by their owner (one, or all their
// finished ones), by an admin, or by the retention sweeper — with their operation results, and
// open dashboards drop the rows live. Real orchestrators on port 0, real HTTP and socket.io.
import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import type { ServerToUiEvents, UiDelta, UiToServerEvents } from '@expressionist/core';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  answerHonestly,
  api,
  manualAgent,
  tempDir,
  waitFor,
  type ManualAgent,
} from '@expressionist/testkit';
import { SQLITE_FILE_NAME } from '../src/store/sqlite-store.js';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

const PASSWORD = 'Correct-horse-7';
const ADMIN = { ADMIN_LOGIN: 'root', ADMIN_PASSWORD: PASSWORD };

let orch: TestOrchestrator | undefined;
const closers: { close(): unknown }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c.close();
  await orch?.close();
  orch = undefined;
});

async function start(env: Record<string, string> = {}): Promise<TestOrchestrator> {
  orch = await startTestOrchestrator({ AUTH_MODE: 'accounts', ...ADMIN, ...env });
  return orch;
}

let users = 0;
async function signedIn(o: TestOrchestrator, login: string) {
  users += 1;
  const view = await o.auth.accounts.register({ login, password: PASSWORD }, `retention-${users}`);
  const { token } = await o.auth.accounts.login(
    { login, password: PASSWORD },
    `retention-${users}`,
  );
  return { id: view.id, client: api(o.url, token), token };
}

async function admin(o: TestOrchestrator) {
  const { token } = await o.auth.accounts.login(
    { login: 'root', password: PASSWORD },
    'retention-admin',
  );
  return api(o.url, token);
}

async function honestAgent(o: TestOrchestrator): Promise<ManualAgent> {
  const { token } = await o.auth.issueCredential('retention-agent');
  const agent = await manualAgent(o.url, 'retention-agent', 4, token);
  closers.push(agent.socket);
  answerHonestly(agent);
  return agent;
}

type UiSocket = Socket<ServerToUiEvents, UiToServerEvents>;
async function dashboard(url: string, token: string): Promise<UiDelta[]> {
  const socket: UiSocket = io(`${url}/ui`, {
    auth: { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  closers.push(socket);
  const deltas: UiDelta[] = [];
  socket.on('delta', (d) => deltas.push(d));
  await new Promise<void>((resolve, reject) => {
    socket.once('snapshot', () => resolve());
    socket.once('connect_error', reject);
  });
  return deltas;
}

const removedIn = (deltas: readonly UiDelta[]): string[] =>
  deltas.flatMap((d) => d.expressionsRemoved ?? []);

describe('deleting expressions', () => {
  it("an owner deletes a finished one (with its op results); others' answer 404, running ones 409", async () => {
    const o = await start();
    const alice = await signedIn(o, 'alice');
    const bob = await signedIn(o, 'bob');
    const watching = await dashboard(o.url, alice.token);
    const bobWatching = await dashboard(o.url, bob.token);
    const agent = await honestAgent(o);
    const done = await alice.client.submit('(1+2)*(3+4)');
    expect((await alice.client.finished(done)).value).toBe('21');
    expect(await o.store.getOpResults(done)).toHaveLength(3);

    // Bob cannot see it, so he cannot delete it either.
    const foreign = await bob.client.call('DELETE', `/api/v1/expressions/${done}`);
    expect(foreign.status).toBe(404);

    const reply = await alice.client.call('DELETE', `/api/v1/expressions/${done}`);
    expect(reply).toEqual({ status: 200, body: { deleted: 1 } });
    expect((await alice.client.call('GET', `/api/v1/expressions/${done}`)).status).toBe(404);
    expect(await o.store.getOpResults(done)).toEqual([]);
    await waitFor(() => removedIn(watching).includes(done), 5000, 'the dashboard to drop the row');
    // Another user's dashboard is not told about alice's expressions.
    expect(removedIn(bobWatching)).toEqual([]);

    // A running one must be canceled first (with no agent left, it waits).
    agent.socket.close();
    const running = await alice.client.submit('6*7');
    const refused = await alice.client.call('DELETE', `/api/v1/expressions/${running}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error?.code).toBe('EXPRESSION_RUNNING');
    await alice.client.cancel(running);
    expect((await alice.client.call('DELETE', `/api/v1/expressions/${running}`)).status).toBe(200);
  });

  it("DELETE /expressions removes every finished expression of the caller, and no one else's", async () => {
    const o = await start();
    const alice = await signedIn(o, 'alice2');
    const bob = await signedIn(o, 'bob2');
    const agent = await honestAgent(o);
    const mine = await Promise.all(['1+1', '2+2', '3+3'].map((e) => alice.client.submit(e)));
    const his = await bob.client.submit('4+4');
    for (const id of mine) await alice.client.finished(id);
    await bob.client.finished(his);
    agent.socket.close();
    const pending = await alice.client.submit('5+5');

    expect(await alice.client.call('DELETE', '/api/v1/expressions')).toEqual({
      status: 200,
      body: { deleted: 3 },
    });
    for (const id of mine) expect(await o.store.getExpression(id)).toBeNull();
    expect((await o.store.getExpression(his))?.status).toBe('done');
    expect((await o.store.getExpression(pending))?.status).not.toBe('done');
  });
});

describe('retention', () => {
  it('the sweeper deletes expressions finished longer ago than RETENTION_DAYS, never unfinished ones', async () => {
    // 0.00002 days is 1.7 s; the sweeper looks every 100 ms.
    const o = await start({ RETENTION_DAYS: '0.00002', RETENTION_SWEEP_MS: '100' });
    const alice = await signedIn(o, 'carol');
    const watching = await dashboard(o.url, alice.token);
    const agent = await honestAgent(o);
    const old = await alice.client.submit('7*8');
    expect((await alice.client.finished(old)).value).toBe('56');
    agent.socket.close();
    const unfinished = await alice.client.submit('9+10');
    await waitFor(
      async () => (await o.store.getExpression(old)) === null,
      10_000,
      'the finished expression to be swept',
    );
    expect(await o.store.getOpResults(old)).toEqual([]);
    await waitFor(() => removedIn(watching).includes(old), 5000, 'the dashboard to drop the row');
    expect((await o.store.getExpression(unfinished))?.finishedAt).toBeNull();
  });

  it('RETENTION_DAYS=0 keeps everything', async () => {
    const o = await start({ RETENTION_DAYS: '0', RETENTION_SWEEP_MS: '100' });
    const alice = await signedIn(o, 'dave');
    await honestAgent(o);
    const id = await alice.client.submit('2*3');
    await alice.client.finished(id);
    // Nothing to wait for but the sweep that must not happen: run one by hand.
    expect(await o.scheduler.retention.sweep(Date.now() + 1e12)).toBe(0);
    expect((await o.store.getExpression(id))?.value).toBe('6');
  });
});

describe('retention as an admin setting', () => {
  it('an admin shortens it at run time and the next sweep applies it; bad values are refused', async () => {
    const o = await start({ RETENTION_SWEEP_MS: '100' });
    const root = await admin(o);
    expect((await root.currentSettings()).retentionMs).toBe(30 * 86_400_000);
    const alice = await signedIn(o, 'erin');
    await honestAgent(o);
    const id = await alice.client.submit('3*4');
    await alice.client.finished(id);
    // Thirty days: a sweep now leaves it.
    expect(await o.scheduler.retention.sweep()).toBe(0);
    for (const bad of [-1, 1.5, 36_501 * 86_400_000])
      expect((await root.call('PUT', '/api/v1/settings', { retentionMs: bad })).status).toBe(422);
    expect((await root.settings({ retentionMs: 1000 })).retentionMs).toBe(1000);
    await waitFor(
      async () => (await o.store.getExpression(id)) === null,
      10_000,
      'the sweeper to apply the new retention',
    );
    // A user may not change it.
    expect((await alice.client.call('PUT', '/api/v1/settings', { retentionMs: 0 })).status).toBe(
      403,
    );
  });

  it('settings stored before retention existed take RETENTION_DAYS from the environment', async () => {
    const data = tempDir('expr-retention-');
    try {
      const first = await start({ DATA_DIR: data.dir });
      await (await admin(first)).settings({ additionMs: 123 });
      await first.close();
      orch = undefined;
      // As an older build stored them: every field it knew, no retentionMs.
      const db = new Database(join(data.dir, SQLITE_FILE_NAME));
      const row = db.prepare<[], { data: string }>('SELECT data FROM settings').get();
      const older = JSON.parse(row?.data ?? '{}') as Record<string, unknown>;
      delete older['retentionMs'];
      db.prepare('UPDATE settings SET data = ?').run(JSON.stringify(older));
      db.close();

      const second = await start({ DATA_DIR: data.dir, RETENTION_DAYS: '2.5' });
      const settings = await (await admin(second)).currentSettings();
      expect(settings.additionMs).toBe(123);
      expect(settings.retentionMs).toBe(2.5 * 86_400_000);
    } finally {
      data.remove();
    }
  });
});

describe('compaction', () => {
  it('a finished expression keeps one record of its results; its operations read the same after a restart', async () => {
    const data = tempDir('expr-compact-');
    try {
      const first = await start({ DATA_DIR: data.dir });
      const alice = await signedIn(first, 'frank');
      await honestAgent(first);
      const id = await alice.client.submit('(1+2)*(3+4)-5/2');
      expect((await alice.client.finished(id)).value).toBe('18.5');
      const live = await alice.client.operations(id);
      await waitFor(
        async () => (await first.store.getOpResultsOfMany([id])).length === 0,
        10_000,
        'the result rows to be compacted away',
      );
      expect(await first.store.getOpResults(id)).toHaveLength(5);
      await first.close();
      orch = undefined;

      const second = await start({ DATA_DIR: data.dir });
      const { token } = await second.auth.accounts.login(
        { login: 'frank', password: PASSWORD },
        'again',
      );
      const stored = await api(second.url, token).operations(id);
      const essentials = (ops: typeof live) =>
        ops.map((op) => [op.id, op.state, op.aValue, op.bValue, op.result, op.attempt]);
      expect(essentials(stored)).toEqual(essentials(live));
      // Who computed each op is kept too (named by an alias of this process, so not compared).
      expect(stored.every((op) => op.state === 'done' && op.agentName !== null)).toBe(true);
    } finally {
      data.remove();
    }
  });
});
