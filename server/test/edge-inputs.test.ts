/**
 * The edge, as a client with the README in hand would try it: huge inputs that must not stall the
 * event loop (operation views paged, stored expressions re-planned off the loop, prefixes in
 * deltas, subscribe and in-flight operations limited) and small leaks (issue 20, items 6 and 7).
 * Real orchestrators on port 0, real socket.io-clients, nothing of ours mocked.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import {
  EXPRESSION_PREFIX_CHARS,
  LIVE_OPERATIONS_WINDOW,
  type ServerToUiEvents,
  type SubscribeReply,
  type UiDelta,
  type UiSnapshot,
  type UiToServerEvents,
} from '@expressionist/core';
import {
  answerHonestly,
  api,
  manualAgent,
  request,
  tempDir,
  waitFor,
  type ManualAgent,
} from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

/** 1+1+…+1, 999,999 characters: 499,999 operations. */
const MEGABYTE_SUM = `${'1+'.repeat(499_999)}1`;
const PASSWORD = 'Correct-horse-7';

type UiSocket = Socket<ServerToUiEvents, UiToServerEvents>;

const closing: { close(): unknown }[] = [];
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c.close();
});

async function orchestrator(env: Record<string, string> = {}): Promise<TestOrchestrator> {
  const orch = await startTestOrchestrator(env);
  closing.push(orch);
  return orch;
}

async function dashboard(
  url: string,
  token?: string,
): Promise<{ socket: UiSocket; deltas: UiDelta[]; snapshots: UiSnapshot[] }> {
  const socket: UiSocket = io(`${url}/ui`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  closing.push(socket);
  const deltas: UiDelta[] = [];
  const snapshots: UiSnapshot[] = [];
  socket.on('delta', (d) => deltas.push(d));
  socket.on('snapshot', (d) => snapshots.push(d));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, deltas, snapshots };
}

function subscribe(socket: UiSocket, id: string): Promise<SubscribeReply> {
  return new Promise((resolve) => socket.emit('subscribe', id, resolve));
}

async function agent(url: string, id: string, concurrency = 4): Promise<ManualAgent> {
  const a = await manualAgent(url, id, concurrency);
  closing.push(a.socket);
  return a;
}

/** An admin-issued agent credential's token. */
async function credential(orch: TestOrchestrator): Promise<string> {
  return (await orch.auth.issueCredential('lab')).token;
}

let addresses = 0;
/** A user's id and JWT (register is rate-limited per address: each gets its own). */
async function user(orch: TestOrchestrator, login: string): Promise<{ id: string; token: string }> {
  addresses += 1;
  const address = `edge-${addresses}`;
  const view = await orch.auth.accounts.register({ login, password: PASSWORD }, address);
  const { token } = await orch.auth.accounts.login({ login, password: PASSWORD }, address);
  return { id: view.id, token };
}

describe('big inputs: operation views are paged', () => {
  it('GET …/operations answers one page at a time and continues from nextCursor', async () => {
    const orch = await orchestrator();
    const client = api(orch.url);
    // 2,999 operations; nobody computes them, the views say so.
    const id = await client.submit(`${'1+'.repeat(2999)}1`);
    const first = await client.operationsPage(id, { limit: 1000 });
    expect(first.operations).toHaveLength(1000);
    expect(first.operations.map((op) => op.id)).toEqual([...Array(1000).keys()]);
    expect(first.nextCursor).not.toBeNull();
    const ids = first.operations.map((op) => op.id);
    let cursor = first.nextCursor;
    while (cursor !== null) {
      const page = await client.operationsPage(id, { limit: 1000, cursor });
      expect(page.operations.length).toBeLessThanOrEqual(1000);
      ids.push(...page.operations.map((op) => op.id));
      cursor = page.nextCursor;
    }
    expect(ids).toEqual([...Array(2999).keys()]);
    // Without a limit, a page is bounded all the same.
    const unasked = await client.call('GET', `/api/v1/expressions/${id}/operations`);
    expect(unasked.status).toBe(200);
    expect((unasked.body.operations as unknown[]).length).toBe(500);
    for (const query of ['limit=0', 'limit=100000', 'cursor=abc', 'cursor=-1']) {
      const bad = await client.call('GET', `/api/v1/expressions/${id}/operations?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body.error?.code, query).toBe('QUERY_INVALID');
    }
  });

  it('subscribe answers the first page and a cursor; lists and deltas carry a prefix of the text', async () => {
    const orch = await orchestrator();
    const client = api(orch.url);
    const source = `${'1+'.repeat(2999)}1`;
    const id = await client.submit(source);
    const ui = await dashboard(orch.url);
    const reply = await subscribe(ui.socket, id);
    if (!reply.ok) throw new Error(reply.error.message);
    expect(reply.operations.length).toBeLessThan(2999);
    expect(reply.operations[0]!.id).toBe(0);
    expect(reply.nextCursor).toBe(String(reply.operations.length));
    expect(reply.expression.expression).toBe(source.slice(0, EXPRESSION_PREFIX_CHARS));
    expect(reply.expression.expressionLength).toBe(source.length);
    const listed = await client.call('GET', '/api/v1/expressions');
    const rows = listed.body.expressions as { id: string; expression: string }[];
    expect(rows.find((e) => e.id === id)?.expression).toHaveLength(EXPRESSION_PREFIX_CHARS);
    // The whole text is one GET away.
    expect((await client.expression(id)).expression).toBe(source);
    // Computing it sends deltas: each expression view a prefix, operations only in the window.
    answerHonestly(await agent(orch.url, 'prefix-agent', 64));
    await client.finished(id, 20_000);
    await waitFor(
      () => ui.deltas.some((d) => d.expressions?.some((e) => e.id === id && e.status === 'done')),
      5000,
      'the done delta',
    );
    const views = ui.deltas.flatMap((d) => d.expressions ?? []).filter((e) => e.id === id);
    expect(views.every((e) => e.expression.length === EXPRESSION_PREFIX_CHARS)).toBe(true);
    const ops = ui.deltas.flatMap((d) => d.operations ?? []).flatMap((o) => o.operations);
    expect(ops.length).toBeGreaterThan(0);
    expect(ops.every((op) => op.id < LIVE_OPERATIONS_WINDOW)).toBe(true);
  });

  it('subscribe is rate-limited per user', async () => {
    const orch = await orchestrator({ SUBSCRIBES_PER_MINUTE: '5' });
    const id = await api(orch.url).submit('1+2');
    const ui = await dashboard(orch.url);
    const replies: SubscribeReply[] = [];
    for (let i = 0; i < 6; i += 1) replies.push(await subscribe(ui.socket, id));
    expect(replies.slice(0, 5).every((r) => r.ok)).toBe(true);
    const last = replies[5]!;
    expect(last.ok ? 'ok' : last.error.code).toBe('RATE_LIMITED');
    // Another socket of the same caller shares the count.
    const other = await dashboard(orch.url);
    const again = await subscribe(other.socket, id);
    expect(again.ok ? 'ok' : again.error.code).toBe('RATE_LIMITED');
  });

  it('MAX_UNFINISHED_OPS_PER_USER bounds the operations one user has in flight', async () => {
    const orch = await orchestrator({
      AUTH_MODE: 'accounts',
      MAX_UNFINISHED_OPS_PER_USER: '25',
    });
    const alice = await user(orch, 'alice');
    const bob = await user(orch, 'bob');
    const submit = (token: string, expression: string) =>
      request(orch.url, 'POST', '/api/v1/calculate', {
        json: { expression },
        headers: { authorization: `Bearer ${token}` },
      });
    // Nobody computes: 20 operations stay in flight.
    expect((await submit(alice.token, `${'1+'.repeat(20)}1`)).status).toBe(201);
    const over = await submit(alice.token, `${'2+'.repeat(10)}1`);
    expect(over.status).toBe(429);
    expect(over.json).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    // Still room for a small one, and for other users.
    expect((await submit(alice.token, '3+4+5')).status).toBe(201);
    expect((await submit(bob.token, `${'2+'.repeat(10)}1`)).status).toBe(201);
    // Finished work frees the room.
    answerHonestly(await agent(orch.url, 'ops-agent', 16));
    await waitFor(
      async () => (await submit(alice.token, `${'2+'.repeat(10)}1`)).status === 201,
      10_000,
      'room again after the work finished',
    );
  });
});

describe('big inputs: the loop holds', () => {
  it('hammering a stored 1 MB expression over REST and subscribe drops no agent', async () => {
    // Heartbeats tight enough that a second of blocked loop drops an agent.
    const orch = await orchestrator({ HEARTBEAT_INTERVAL_MS: '250', HEARTBEAT_TIMEOUT_MS: '500' });
    const client = api(orch.url);
    const big = await client.submit(MEGABYTE_SUM);
    await client.cancel(big);
    // Out of the recent runs: now only the store has it, and a view must re-plan it.
    for (let i = 0; i < 201; i += 1) {
      const { id } = await orch.scheduler.submit(`${i}+1`);
      await orch.scheduler.cancel(id);
    }
    expect(orch.scheduler.views.liveView(big)).toBeNull();
    // Half of it had been computed before the cancel: 250,000 stored results (reading them all on
    // the event loop takes seconds).
    for (let from = 0; from < 250_000; from += 25_000)
      await orch.store.saveOpResults(
        Array.from({ length: 25_000 }, (_, i) => ({
          expressionId: big,
          opId: from + i,
          value: '2',
          agentId: 'earlier',
          attempt: 1,
          finishedAt: Date.now(),
        })),
      );

    const worker = await agent(orch.url, 'steady', 2);
    answerHonestly(worker);
    let disconnected = 0;
    const dropped = new Promise<'dropped'>((resolve) =>
      worker.socket.on('disconnect', () => {
        disconnected += 1;
        resolve('dropped');
      }),
    );
    const ui = await dashboard(orch.url);
    const lost = () =>
      ui.deltas.some((d) => d.agents?.some((a) => a.id === 'steady' && a.status !== 'active'));

    const until = Date.now() + 4000;
    let rounds = 0;
    while (Date.now() < until && disconnected === 0) {
      const round = await Promise.race([
        dropped,
        Promise.all([
          client.call(
            'GET',
            `/api/v1/expressions/${big}/operations?limit=2000&cursor=${rounds * 2000}`,
          ),
          client.call('GET', `/api/v1/expressions/${big}/operations`),
          subscribe(ui.socket, big),
          client.call('GET', '/api/v1/expressions?limit=500'),
        ]),
      ]);
      if (round === 'dropped') break;
      const [page, ...others] = round;
      expect(page.status).toBe(200);
      const first = (page.body.operations as { id: number; state: string; result: string }[])[0];
      expect(first?.state).toBe(first!.id < 250_000 ? 'done' : 'canceled');
      expect(others).toHaveLength(3);
      rounds += 1;
    }
    expect(disconnected).toBe(0);
    // Work still flows through the agent that was connected all along.
    const small = await client.submit('6*7');
    expect((await client.finished(small, 10_000)).value).toBe('42');
    expect(lost()).toBe(false);
    expect(orch.scheduler.views.agentView('steady')?.status).toBe('active');
    expect(rounds).toBeGreaterThan(1);
  }, 120_000);
});

describe('hygiene', () => {
  it('a setup token of the right length in non-ASCII characters is refused, not a 500', async () => {
    const orch = await orchestrator({ AUTH_MODE: 'accounts' });
    const token = orch.setupToken;
    if (token === null) throw new Error('no setup link');
    const admin = { login: 'root', password: PASSWORD };
    for (const forged of ['é'.repeat(token.length), `${token.slice(0, -1)}€`, '💥'.repeat(8)]) {
      const reply = await request(orch.url, 'POST', '/api/v1/setup', {
        json: { token: forged, ...admin },
      });
      expect([reply.status, reply.json], forged).toEqual([
        403,
        { error: expect.objectContaining({ code: 'SETUP_INVALID' }) },
      ]);
    }
    // The link still works.
    const ok = await request(orch.url, 'POST', '/api/v1/setup', { json: { token, ...admin } });
    expect(ok.status).toBe(200);
  });

  it('the result cache is per owner: nobody learns that someone else computed it', async () => {
    const orch = await orchestrator({ AUTH_MODE: 'accounts' });
    const alice = await user(orch, 'alice');
    const bob = await user(orch, 'bob');
    const first = await orch.scheduler.submit('(17*19)+23', undefined, alice.id);
    answerHonestly(await agent(orch.url, 'cache-agent', 4));
    const view = async (id: string) => (await orch.scheduler.views.expressionView(id))!;
    await waitFor(async () => (await view(first.id)).status === 'done', 10_000, 'first done');
    const again = await orch.scheduler.submit('17*19 + 23', undefined, alice.id);
    expect(await view(again.id)).toMatchObject({ status: 'done', cached: true, value: '346' });
    const theirs = await orch.scheduler.submit('(17*19)+23', undefined, bob.id);
    expect((await view(theirs.id)).cached).toBe(false);
    await waitFor(async () => (await view(theirs.id)).status === 'done', 10_000, 'bob done');
    expect(await view(theirs.id)).toMatchObject({ cached: false, value: '346' });
  });

  it('users see other agents under aliases and no task ids; admins and owners of a tab see them whole', async () => {
    const orch = await orchestrator({
      AUTH_MODE: 'accounts',
      ADMIN_LOGIN: 'root',
      ADMIN_PASSWORD: PASSWORD,
    });
    const { token: admin } = await orch.auth.accounts.login(
      { login: 'root', password: PASSWORD },
      'edge-admin',
    );
    const alice = await user(orch, 'alice');
    const bob = await user(orch, 'bob');
    // A host's agent (its name a host name), holding one of bob's tasks; and alice's browser tab.
    const host = await manualAgent(orch.url, 'lab-host-17.example.org', 1, await credential(orch));
    closing.push(host.socket);
    const tab = await manualAgent(orch.url, 'browser-0a1b2c3d', 1, alice.token);
    closing.push(tab.socket);
    const bobs = await orch.scheduler.submit('5*5', undefined, bob.id);
    await waitFor(() => host.tasks.length + tab.tasks.length > 0, 5000, 'a task handed out');
    const holder = host.tasks.length > 0 ? 'lab-host-17.example.org' : 'browser-0a1b2c3d';
    const agentsAs = async (token: string) =>
      (
        await request(orch.url, 'GET', '/api/v1/agents', {
          headers: { authorization: `Bearer ${token}` },
        })
      ).json as { agents: { id: string; name: string; running: string[]; runningCount: number }[] };

    const whole = (await agentsAs(admin)).agents;
    expect(whole.map((a) => a.id).sort()).toEqual(['browser-0a1b2c3d', 'lab-host-17.example.org']);
    expect(whole.find((a) => a.id === holder)?.running).toHaveLength(1);

    const seen = JSON.stringify(await agentsAs(alice.token));
    expect(seen).not.toContain('lab-host-17');
    expect(seen).not.toContain(bobs.id);
    expect(seen).not.toContain(bob.id);
    const mine = (await agentsAs(alice.token)).agents;
    expect(mine.find((a) => a.id === 'browser-0a1b2c3d')?.name).toBe('browser-0a1b2c3d');
    expect(mine.filter((a) => /^agent-[0-9a-f]{12}$/.test(a.id))).toHaveLength(1);
    expect(mine.reduce((n, a) => n + a.runningCount, 0)).toBe(1);
    expect(mine.every((a) => a.running.length === 0)).toBe(true);

    // The same on the dashboard socket: snapshot and deltas.
    const ui = await dashboard(orch.url, alice.token);
    const snapshot = await waitFor(() => ui.snapshots[0], 5000, 'snapshot');
    answerHonestly(host);
    answerHonestly(tab);
    await waitFor(
      async () => (await orch.scheduler.views.expressionView(bobs.id))?.status === 'done',
      5000,
      "bob's expression done",
    );
    await waitFor(() => ui.deltas.some((d) => d.agents !== undefined), 5000, 'an agents delta');
    const onSocket = JSON.stringify([snapshot, ui.deltas]);
    expect(onSocket).not.toContain('lab-host-17');
    expect(onSocket).not.toContain(bobs.id);

    // Bob's operations name the agent that computed them by its alias, unless it was his.
    const ops = (
      await request(orch.url, 'GET', `/api/v1/expressions/${bobs.id}/operations`, {
        headers: { authorization: `Bearer ${bob.token}` },
      })
    ).json as { operations: { agentName: string }[] };
    expect(ops.operations[0]?.agentName).toMatch(/^agent-[0-9a-f]{12}$/);
  });

  it('task ids name no expression, owner or idempotency key, and stay the same across attempts', async () => {
    const orch = await orchestrator({ AUTH_MODE: 'accounts', LEASE_GRACE_MS: '100' });
    const alice = await user(orch, 'alice');
    const { id } = await orch.scheduler.submit('6*7', 'my-secret-key', alice.id);
    const token = await credential(orch);
    const silent = await manualAgent(orch.url, 'silent-one', 1, token);
    closing.push(silent.socket);
    await waitFor(() => silent.tasks[0], 5000, 'a task');
    const taskId = silent.tasks[0]!.taskId;
    for (const secret of [id, alice.id, 'my-secret-key', ':0'])
      expect(taskId).not.toContain(secret);
    expect(taskId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Its lease expires unanswered: the retry, elsewhere, carries the same id and attempt 2.
    // Another actor (a retry goes around the one that let it expire).
    const other = await manualAgent(orch.url, 'other-one', 1, await credential(orch));
    closing.push(other.socket);
    const retry = await waitFor(() => other.tasks[0], 10_000, 'the retry');
    expect(retry).toMatchObject({ taskId, attempt: 2 });
    answerHonestly(other);
    await waitFor(
      async () => (await orch.scheduler.views.expressionView(id))?.value === '42',
      5000,
      'the answer',
    );
  });

  it('creates DATA_DIR 0700 and the database files 0600, whatever the umask', async () => {
    const base = tempDir('edge-modes-');
    closing.push({ close: () => base.remove() });
    const dataDir = path.join(base.dir, 'fresh', 'data');
    const before = process.umask(0o022);
    try {
      const orch = await orchestrator({ DATA_DIR: dataDir, AUTH_MODE: 'accounts' });
      // A write, so the WAL files exist too.
      await orch.auth.accounts.register({ login: 'writer', password: PASSWORD }, 'modes');
    } finally {
      process.umask(before);
    }
    expect((statSync(dataDir).mode & 0o777).toString(8)).toBe('700');
    const files = readdirSync(dataDir);
    expect(files).toEqual(
      expect.arrayContaining(['expressionist.db', 'expressionist.db-wal', 'jwt-secret']),
    );
    for (const file of files)
      expect((statSync(path.join(dataDir, file)).mode & 0o777).toString(8), file).toBe('600');
  });
});
