/**
 * Accounts and trust on the sockets and the course protocol, against real orchestrators on port 0
 * and real socket.io-clients: who is admitted to `/agents` and `/ui`, what a user's dashboard
 * sees, revocation, guests, quarantine by credential, per-address caps, and fairness across users.
 * Tokens come straight from the orchestrator's AuthService (users through `register`/`login`,
 * credentials through `issueCredential`), so these tests do not lean on the HTTP routes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import {
  AGENT_PROTOCOL,
  execute,
  type ServerToUiEvents,
  type SubscribeReply,
  type UiDelta,
  type UiSnapshot,
  type UiToServerEvents,
} from '@expressionist/core';
import {
  answerHonestly,
  CourseClient,
  floatResult,
  manualAgent,
  waitFor,
  type CourseClientOptions,
  type ManualAgent,
} from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

const PASSWORD = 'Correct-horse-7';
const ADMIN = { ADMIN_LOGIN: 'root', ADMIN_PASSWORD: PASSWORD };

type UiSocket = Socket<ServerToUiEvents, UiToServerEvents>;
interface Dashboard {
  socket: UiSocket;
  snapshots: UiSnapshot[];
  deltas: UiDelta[];
}
interface Refusal {
  message: string;
  code: string | undefined;
}

const open: { close(): void }[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

let addresses = 0;
/** A user's id and JWT (register is rate-limited per address: each gets its own). */
async function user(orch: TestOrchestrator, login: string): Promise<{ id: string; token: string }> {
  addresses += 1;
  const address = `test-${addresses}`;
  const view = await orch.auth.accounts.register({ login, password: PASSWORD }, address);
  return {
    id: view.id,
    token: (await orch.auth.accounts.login({ login, password: PASSWORD }, address)).token,
  };
}

function uiSocket(url: string, token?: string): UiSocket {
  const socket: UiSocket = io(`${url}/ui`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  open.push(socket);
  return socket;
}

async function dashboard(url: string, token?: string): Promise<Dashboard> {
  const d: Dashboard = { socket: uiSocket(url, token), snapshots: [], deltas: [] };
  d.socket.on('snapshot', (s) => d.snapshots.push(s));
  d.socket.on('delta', (delta) => d.deltas.push(delta));
  await new Promise<void>((resolve, reject) => {
    d.socket.once('connect', () => resolve());
    d.socket.once('connect_error', reject);
  });
  return d;
}

/** The handshake's refusal (fails the test when it connects instead). */
function refusalOf(socket: { once: UiSocket['once'] }): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected, but should have been refused')));
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) =>
      resolve({ message: err.message, code: err.data?.code }),
    );
  });
}

/** A course client closed after the test. */
function course(url: string, options: CourseClientOptions = {}): CourseClient {
  const client = new CourseClient(url, options);
  open.push(client);
  return client;
}

async function agent(url: string, id: string, concurrency = 1, token?: string) {
  const a = await manualAgent(url, id, concurrency, token);
  open.push(a.socket);
  return a;
}

function agentRefusal(url: string, id: string, token?: string): Promise<Refusal> {
  const socket = io(`${url}/agents`, {
    auth: {
      agentId: id,
      name: id,
      kind: 'node',
      concurrency: 1,
      protocol: AGENT_PROTOCOL,
      ...(token ? { token } : {}),
    },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  open.push(socket);
  return refusalOf(socket);
}

async function submit(orch: TestOrchestrator, expression: string, owner?: string) {
  return (await orch.scheduler.submit(expression, undefined, owner)).id;
}

async function finished(orch: TestOrchestrator, id: string, timeoutMs = 10_000) {
  return waitFor(
    async () => {
      const view = await orch.scheduler.views.expressionView(id);
      return view && view.status !== 'pending' && view.status !== 'in_progress' ? view : null;
    },
    timeoutMs,
    `expression ${id} to finish`,
  );
}

const subscribe = (socket: UiSocket, id: string): Promise<SubscribeReply> =>
  new Promise((resolve) => socket.emit('subscribe', id, resolve));

// ------------------------------------------------------------------------------------------

describe('accounts mode with GUEST_AGENTS=off', () => {
  let orch: TestOrchestrator;
  beforeAll(async () => {
    orch = await startTestOrchestrator({ AUTH_MODE: 'accounts', GUEST_AGENTS: 'off', ...ADMIN });
  });
  afterAll(() => orch.close());

  it('refuses /agents and /ui without credentials, and with bad ones', async () => {
    expect(await agentRefusal(orch.url, 'no-token')).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await agentRefusal(orch.url, 'bad-cred', 'eat_nope.nope')).toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect(await agentRefusal(orch.url, 'bad-jwt', 'not.a.jwt')).toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect(await refusalOf(uiSocket(orch.url))).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await refusalOf(uiSocket(orch.url, 'not.a.jwt'))).toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    // A credential and a user's JWT are both admitted, with their trust.
    const { token } = await orch.auth.issueCredential('rack-1');
    await agent(orch.url, 'cred-agent', 1, token);
    const alice = await user(orch, 'alice');
    await agent(orch.url, 'tab-agent', 1, alice.token);
    await waitFor(() => orch.scheduler.views.agentView('tab-agent'), 5000, 'tab agent');
    expect(orch.scheduler.views.agentView('cred-agent')?.trust).toBe('credential');
    expect(orch.scheduler.views.agentView('tab-agent')?.trust).toBe('user');
  });

  it('course protocol: only an agent credential, never a JWT or nothing', async () => {
    const alice = await user(orch, 'alice2');
    expect(await course(orch.url).pull()).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect((await course(orch.url, { token: alice.token }).pull()).status).toBe(401);
    const { credential, token } = await orch.auth.issueCredential('course-rack');
    const id = await submit(orch, '6*7');
    const rack = course(orch.url, { token, agentId: 'ignored-name' });
    const task = await rack.nextTask();
    const view = orch.scheduler.views.agentView(`http-cred-${credential.id}`);
    expect(view).toMatchObject({ kind: 'http', trust: 'credential' });
    expect(await rack.post(task.id, 42)).toEqual({ status: 200 });
    expect(await finished(orch, id)).toMatchObject({ status: 'done', value: '42' });
  });
});

describe('accounts mode with guests', () => {
  let orch: TestOrchestrator;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let admin: string;
  beforeAll(async () => {
    // 3: neither a fresh agent's window (2 tasks, 4 with prefetch) nor a course agent's after one
    // result (3, then 4 after two), so only the cap can stop a guest there.
    orch = await startTestOrchestrator({ AUTH_MODE: 'accounts', GUEST_MAX_SLOTS: '3', ...ADMIN });
    alice = await user(orch, 'alice');
    bob = await user(orch, 'bob');
    admin = (await orch.auth.accounts.login({ login: 'root', password: PASSWORD }, 'test-admin'))
      .token;
  });
  afterAll(() => orch.close());

  it("a user's dashboard sees only their own expressions; an admin sees all", async () => {
    const aliceOld = await submit(orch, '1+100', alice.id);
    const bobOld = await submit(orch, '2+100', bob.id);
    const aliceUi = await dashboard(orch.url, alice.token);
    const bobUi = await dashboard(orch.url, bob.token);
    const adminUi = await dashboard(orch.url, admin);
    const snapshot = await waitFor(() => aliceUi.snapshots[0], 5000, 'snapshot');
    expect(snapshot.expressions.map((e) => e.id)).toEqual([aliceOld]);
    const adminSnapshot = await waitFor(() => adminUi.snapshots[0], 5000, 'admin snapshot');
    expect(adminSnapshot.expressions.map((e) => e.id)).toEqual(
      expect.arrayContaining([aliceOld, bobOld]),
    );

    expect(await subscribe(aliceUi.socket, bobOld)).toMatchObject({
      ok: false,
      error: { code: 'EXPRESSION_NOT_FOUND' },
    });
    expect(await subscribe(aliceUi.socket, aliceOld)).toMatchObject({ ok: true });

    const { token } = await orch.auth.issueCredential('ui-rack');
    const worker = await agent(orch.url, 'ui-worker', 4, token);
    answerHonestly(worker);
    const aliceNew = await submit(orch, '3*100', alice.id);
    const bobNew = await submit(orch, '4*100', bob.id);
    for (const id of [aliceOld, bobOld, aliceNew, bobNew]) await finished(orch, id);
    const seen = (d: Dashboard): Set<string> =>
      new Set(d.deltas.flatMap((delta) => delta.expressions?.map((e) => e.id) ?? []));
    await waitFor(() => seen(adminUi).has(bobNew) && seen(aliceUi).has(aliceNew), 5000, 'deltas');
    await waitFor(() => seen(bobUi).has(bobNew), 5000, "bob's deltas");
    // A last expression each, after everything else: once a dashboard has seen its owner's done,
    // every earlier change has reached it too (deltas go out in order), so nothing more can leak.
    const aliceLast = await submit(orch, '5*100', alice.id);
    const bobLast = await submit(orch, '6*100', bob.id);
    const seenDone = (d: Dashboard, id: string): boolean =>
      d.deltas.some((delta) => delta.expressions?.some((e) => e.id === id && e.status === 'done'));
    await waitFor(() => seenDone(aliceUi, aliceLast), 5000, "alice's last delta");
    await waitFor(() => seenDone(bobUi, bobLast), 5000, "bob's last delta");
    await waitFor(
      () => seenDone(adminUi, aliceLast) && seenDone(adminUi, bobLast),
      5000,
      "the admin's last deltas",
    );
    expect([...seen(aliceUi)].sort()).toEqual([aliceOld, aliceNew, aliceLast].sort());
    expect([...seen(bobUi)].sort()).toEqual([bobOld, bobNew, bobLast].sort());
    expect(seen(adminUi)).toEqual(
      new Set([aliceOld, bobOld, aliceNew, bobNew, aliceLast, bobLast]),
    );
    // Operation deltas only for the expression alice subscribed to; agents for everyone.
    const opsFor = new Set(
      aliceUi.deltas.flatMap((d) => d.operations?.map((o) => o.expressionId) ?? []),
    );
    expect([...opsFor].every((id) => id === aliceOld)).toBe(true);
    // Agents for everyone: whole for the admin, under an alias for users (a credential's agent is
    // nobody's tab), never its id or name.
    expect(adminUi.deltas.some((delta) => delta.agents?.some((a) => a.id === 'ui-worker'))).toBe(
      true,
    );
    for (const d of [aliceUi, bobUi]) {
      expect(d.deltas.some((delta) => delta.agents?.some((a) => /^agent-/.test(a.id)))).toBe(true);
      expect(JSON.stringify(d.deltas)).not.toContain('ui-worker');
    }
  });

  it('a revoked credential is cut off within 1 s; its task finishes exact on another agent', async () => {
    const revoked = await orch.auth.issueCredential('to-revoke');
    const keeper = await orch.auth.issueCredential('keeper');
    const victim = await agent(orch.url, 'rev-victim', 1, revoked.token);
    const id = await submit(orch, '123*456', alice.id);
    await waitFor(() => victim.tasks.length === 1, 5000, 'the victim to hold the task');
    const honest = await agent(orch.url, 'rev-honest', 1, keeper.token);
    answerHonestly(honest);
    const disconnected = new Promise<void>((resolve) =>
      victim.socket.once('disconnect', () => resolve()),
    );
    await orch.auth.revokeCredential(revoked.credential.id);
    // The time is what is under test: cut off within 1 s (+ 500 ms of slack for a busy machine).
    await waitFor(() => victim.socket.disconnected, 1500, 'the revoked agent to be cut off');
    await disconnected;
    expect(victim.socket.connected).toBe(false);
    expect(orch.scheduler.views.agentView('rev-victim')?.status).toBe('lost');
    expect(await finished(orch, id)).toMatchObject({ status: 'done', value: String(123 * 456) });
    expect(honest.tasks.map((t) => t.taskId)).toContain(victim.tasks[0]!.taskId);
    // And it cannot come back.
    expect(await agentRefusal(orch.url, 'rev-victim', revoked.token)).toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it('a guest holds at most GUEST_MAX_SLOTS tasks; its wrong result is refused, it is not quarantined', async () => {
    const guest = await agent(orch.url, 'guest-1', 8);
    await waitFor(() => orch.scheduler.views.agentView('guest-1'), 5000, 'guest to join');
    expect(orch.scheduler.views.agentView('guest-1')).toMatchObject({
      trust: 'guest',
      concurrency: 3,
    });
    // Eight operations ready at once: without the cap the guest would take 4 within its window
    // and borrow the rest.
    const id = await submit(orch, '(1+2)*(3+4)*(5+6)*(7+8)*(9+10)*(11+12)*(13+14)*(15+16)', bob.id);
    await waitFor(() => guest.tasks.length >= 3, 5000, 'guest tasks');
    // A trusted agent joins and takes the rest of the ready work: the dispatcher has run with
    // the guest at its cap, and the guest got nothing more.
    const { token } = await orch.auth.issueCredential('finisher');
    const finisher = await agent(orch.url, 'guest-finisher', 4, token);
    await waitFor(() => finisher.tasks.length >= 5, 5000, 'the rest to go to the finisher');
    expect(guest.tasks).toHaveLength(3);
    expect(orch.scheduler.views.agentView('guest-1')!.running).toHaveLength(3);
    const [wrong, right] = guest.tasks as [
      ManualAgent['tasks'][number],
      ManualAgent['tasks'][number],
    ];
    guest.socket.emit('results', [
      { taskId: wrong.taskId, attempt: wrong.attempt, value: '999999' },
      { taskId: right.taskId, attempt: right.attempt, value: execute(right.op, right.a, right.b) },
    ]);
    // Another agent gets the refused operation once it has room (the answer stays exact), and
    // the guest's right answer is taken: the batch was handled, and the guest not quarantined.
    answerHonestly(finisher);
    await waitFor(
      () => finisher.tasks.some((t) => t.taskId === wrong.taskId),
      5000,
      'the refused operation to go to another agent',
    );
    await waitFor(
      () => orch.scheduler.views.agentView('guest-1')?.completed === 1,
      5000,
      'right one',
    );
    expect(guest.quarantined).toEqual([]);
    expect(guest.socket.connected).toBe(true);
    expect(orch.scheduler.views.agentView('guest-1')?.status).toBe('active');
    answerHonestly(guest);
    expect(await finished(orch, id)).toMatchObject({
      status: 'done',
      value: String(3 * 7 * 11 * 15 * 19 * 23 * 27 * 31),
    });
  });

  it('quarantine sticks to the credential: every process holding it, and newcomers, until release', async () => {
    const shared = await orch.auth.issueCredential('shared');
    const first = await agent(orch.url, 'q-first', 1, shared.token);
    const id = await submit(orch, '77+1', alice.id);
    await waitFor(() => first.tasks.length === 1, 5000, 'a task');
    // A second process with the same credential joins beside it; neither replaces the other.
    const second = await agent(orch.url, 'q-second', 1, shared.token);
    await waitFor(
      () => orch.scheduler.views.agentView('q-second')?.status === 'active',
      5000,
      'second',
    );
    expect(orch.scheduler.views.agentView('q-first')?.status).toBe('active');
    // Nobody else may take over an id a credential holds.
    expect((await agentRefusal(orch.url, 'q-first')).message).toMatch(
      /held by another agent identity/,
    );

    const task = first.tasks[0]!;
    first.socket.emit('results', [{ taskId: task.taskId, attempt: task.attempt, value: '5' }]);
    await waitFor(
      () => first.quarantined.length > 0 && second.quarantined.length > 0,
      5000,
      'both',
    );
    expect(orch.scheduler.views.agentView('q-first')?.status).toBe('quarantined');
    expect(orch.scheduler.views.agentView('q-second')?.status).toBe('quarantined');
    const third = await agent(orch.url, 'q-third', 1, shared.token);
    await waitFor(() => third.quarantined.length > 0, 5000, 'a newcomer to be refused');
    expect(orch.scheduler.views.agentView('q-third')).toBeNull();

    expect(await orch.scheduler.agents.release('q-second')).toBe(true);
    const back = await agent(orch.url, 'q-back', 1, shared.token);
    answerHonestly(back);
    expect(await finished(orch, id)).toMatchObject({ status: 'done', value: '78' });
    expect(orch.scheduler.views.agentView('q-back')?.status).toBe('active');
    expect(back.quarantined).toEqual([]);
  });

  it('course guests: X-Agent-Id is only a label; capped at GUEST_MAX_SLOTS; a wrong result is refused', async () => {
    const id = await submit(orch, '(1+1)*(2+2)*(3+3)*(4+4)*(5+5)*(6+6)', bob.id);
    const labelled = course(orch.url, { agentId: 'labelled' });
    // Until it has posted a result it may not decode our ids: one task at a time.
    const probe = await labelled.pull();
    expect(probe.status).toBe(200);
    expect((await labelled.pull()).status).toBe(404);
    expect((await labelled.post(probe.task!.id, floatResult(probe.task!))).status).toBe(200);
    // A second accepted result widens its window to 4, past the cap.
    const another = await labelled.nextTask();
    expect((await labelled.post(another.id, floatResult(another))).status).toBe(200);
    // It holds at most GUEST_MAX_SLOTS (3) at once.
    const pulls = [];
    for (let i = 0; i < 4; i += 1) pulls.push(await labelled.pull());
    expect(pulls.map((p) => p.status)).toEqual([200, 200, 200, 404]);
    const view = orch.scheduler.views.agentView('http-guest-labelled@127.0.0.1');
    expect(view).toMatchObject({ trust: 'guest', concurrency: 3, window: 4 });
    const [first, ...held] = pulls.slice(0, 3).flatMap((p) => (p.task ? [p.task] : []));
    expect(await labelled.post(first!.id, -1)).toEqual({ status: 422, code: 'TASK_RESULT_WRONG' });
    expect(orch.scheduler.views.agentView('http-guest-labelled@127.0.0.1')?.status).toBe('active');
    const { token } = await orch.auth.issueCredential('course-finisher');
    const finisher = await agent(orch.url, 'course-finisher', 4, token);
    answerHonestly(finisher);
    for (const task of held) await labelled.post(task.id, floatResult(task));
    expect(await finished(orch, id)).toMatchObject({ status: 'done', value: '46080' });
  });

  it('course guests: rate-limited per address with Retry-After', async () => {
    const answers = await Promise.all(
      Array.from({ length: 80 }, () => fetch(`${orch.url}/internal/task`)),
    );
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    for (const a of answers) await a.body?.cancel();
  });

  it('spreads work fairly across users: one expression is not starved by 40 of another', async () => {
    // Submitted before any agent is there, so the whole backlog is queued at once.
    const many = [];
    for (let i = 0; i < 40; i += 1) many.push(await submit(orch, `((${i}+1)+2)+3`, alice.id));
    const single = await submit(orch, '((500+1)+2)+3', bob.id);
    const { token } = await orch.auth.issueCredential('fair');
    const worker = await agent(orch.url, 'fair-worker', 1, token);
    answerHonestly(worker);
    await finished(orch, single, 20_000);
    for (const id of many) await finished(orch, id, 20_000);
    // Task ids are opaque: bob's tasks are the ones whose left operand is 500 or more.
    const order = worker.tasks.map((t) => (Number(t.a) >= 500 ? single : 'alice'));
    const lastOfSingle = order.lastIndexOf(single);
    // 123 tasks in all; round-robin over expressions alone would serve bob's three last of all.
    expect(order).toHaveLength(123);
    expect(lastOfSingle).toBeLessThan(40);
  });
});

describe('per-address socket cap', () => {
  let orch: TestOrchestrator;
  beforeAll(async () => {
    orch = await startTestOrchestrator({ MAX_SOCKETS_PER_ADDRESS: '3' });
  });
  afterAll(() => orch.close());

  it('refuses the N+1th connection from one address, across both namespaces', async () => {
    await dashboard(orch.url);
    const a = await agent(orch.url, 'cap-1');
    await agent(orch.url, 'cap-2');
    await expect(manualAgent(orch.url, 'cap-3')).rejects.toThrow();
    await expect(dashboard(orch.url)).rejects.toThrow();
    a.socket.close();
    // Its slot frees once the server has seen the close.
    await waitFor(() => agent(orch.url, 'cap-4'), 5000, 'a slot freed by the closed socket');
  });
});

describe('message size', () => {
  let orch: TestOrchestrator;
  beforeAll(async () => {
    orch = await startTestOrchestrator();
  });
  afterAll(() => orch.close());

  it('takes a results batch of 10,000; closes a connection that sends more than 4 MiB', async () => {
    const a = await agent(orch.url, 'big-batch');
    const batch = (n: number, digits: number) =>
      Array.from({ length: n }, (_, i) => ({
        taskId: `mx5cr21t-637676ee55:${100_000 + i}`,
        attempt: 1,
        value: '9'.repeat(digits),
      }));
    // The largest legit message (stale results here, so they are ignored), with 60-digit values.
    a.socket.emit('results', batch(10_000, 60));
    // Messages are handled in order: once the drain after it is, the batch was taken.
    a.socket.emit('drain');
    await waitFor(
      () => orch.scheduler.views.agentView('big-batch')?.status === 'draining',
      5000,
      'the batch and the drain after it to be handled',
    );
    expect(a.socket.connected).toBe(true);
    const closed = new Promise<void>((resolve) => a.socket.once('disconnect', () => resolve()));
    a.socket.emit('results', batch(10_000, 500));
    await closed;
  });
});
