// Issue 22: finished expressions leave the store — deleted by their owner (one, or all their
// finished ones), by an admin, or by the retention sweeper — with their operation results, and
// open dashboards drop the rows live. Real orchestrators on port 0, real HTTP and socket.io.
import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import type { ServerToUiEvents, UiDelta, UiToServerEvents } from '@expressionist/core';
import {
  answerHonestly,
  api,
  manualAgent,
  waitFor,
  type ManualAgent,
} from '@expressionist/testkit';
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
  const view = await o.auth.register({ login, password: PASSWORD }, `retention-${users}`);
  const { token } = await o.auth.login({ login, password: PASSWORD }, `retention-${users}`);
  return { id: view.id, client: api(o.url, token), token };
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
