/**
 * Strangers against the scheduler: agents nobody vouches for (guests, or a user's browser-tab
 * JWT) that lie, flood, squat on someone else's agent id, or linger after being replaced. Each
 * test runs its own real orchestrator on port 0 (an agent's strikes or cool-down must not leak
 * into the next test) and talks to it through real socket.io-clients and real HTTP. The scheduler
 * is only read (agent views, and how much state a flood left behind); the flood test alone hands
 * it its one expression directly, without an account.
 *
 * Every `it` starts with a note of what the orchestrator did before these attacks were fixed.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import {
  AGENT_PROTOCOL,
  CalculateReplySchema,
  CreateCredentialReplySchema,
  ExpressionReplySchema,
  compile,
  evaluatePlan,
  type ExpressionView,
  type Task,
  type TaskResult,
} from '@expressionist/core';
import {
  answerHonestly,
  api,
  CourseClient,
  manualAgent,
  request,
  waitFor,
  type AgentSocket,
  type ManualAgent,
} from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

const PASSWORD = 'Correct-horse-7';
const ADMIN = { ADMIN_LOGIN: 'root', ADMIN_PASSWORD: PASSWORD };
/** Short operations and leases; three strikes make an agent unresponsive for the whole test. */
const FAST: Record<string, string> = {
  TIME_ADDITION_MS: '50',
  TIME_SUBTRACTION_MS: '50',
  TIME_MULTIPLICATIONS_MS: '50',
  TIME_DIVISIONS_MS: '50',
  LEASE_GRACE_MS: '300',
  UNRESPONSIVE_AFTER: '3',
  UNRESPONSIVE_COOLDOWN_MS: '60000',
};
/** Five expressions of seven or eight operations each, none of whose steps is 999. */
const VICTIM_CASES = [
  '(11+22)*(33-4)+(5*6)-(7+8)*(9-1)',
  '(1.5+2.25)*(10-0.5)+(3*4)*(6-2)',
  '100/(7-3)+2*3-(8+9)*(10-11)',
  '((1+2)*(3+4))-(5*6)+(12-5)*(2+2)',
  '(13-6)*(4+5)-(2*8)+(21-1)/(3+2)',
];

const exact = (src: string): string => evaluatePlan(compile(src).plan);

let orch: TestOrchestrator | undefined;
/** Sockets and HTTP pools to close after each test, whatever happened. */
const open: { close(): void }[] = [];

afterEach(async () => {
  for (const item of open.splice(0)) item.close();
  await orch?.close();
  orch = undefined;
});

/** The running orchestrator (each test starts its own). */
function current(): TestOrchestrator {
  if (!orch) throw new Error('no orchestrator started');
  return orch;
}

/** A hand-driven agent, closed after the test. */
async function agent(
  id: string,
  concurrency: number,
  token?: string,
): Promise<ManualAgent & { id: string }> {
  const a = await manualAgent(current().url, id, concurrency, token);
  open.push(a.socket);
  await waitFor(
    () => current().scheduler.views.agentView(id)?.status === 'active',
    5000,
    `${id} to be active`,
  );
  return { ...a, id };
}

/** Answers every task `a` received and will receive with `answer(task)`, at once. */
function answerWith(a: ManualAgent, answer: (task: Task) => TaskResult): void {
  const reply = (tasks: readonly Task[]): void => {
    if (tasks.length > 0) a.socket.emit('results', tasks.map(answer));
  };
  reply(a.tasks);
  a.socket.on('tasks', reply);
}

const lie = (t: Task): TaskResult => ({
  taskId: t.taskId,
  attempt: t.attempt,
  error: { code: 'X', message: 'lie' },
});
const wrong = (t: Task): TaskResult => ({ taskId: t.taskId, attempt: t.attempt, value: '999' });

// ---------------------------------------------------------------- accounts over HTTP

interface Accounts {
  admin: string;
  victim: string;
  attacker: string;
}

let addresses = 0;

/** A user's JWT, registered from an address of its own (registrations are limited per address). */
async function userToken(login: string): Promise<string> {
  addresses += 1;
  const address = `strangers-${addresses}`;
  await current().auth.accounts.register({ login, password: PASSWORD }, address);
  return (await current().auth.accounts.login({ login, password: PASSWORD }, address)).token;
}

/** An orchestrator in accounts mode (guests on) with an admin, a victim and an attacker. */
async function startAccounts(env: Record<string, string>): Promise<Accounts> {
  orch = await startTestOrchestrator({ AUTH_MODE: 'accounts', ...ADMIN, ...env });
  const admin = (
    await current().auth.accounts.login({ login: 'root', password: PASSWORD }, 'test-admin')
  ).token;
  return { admin, victim: await userToken('victim'), attacker: await userToken('attacker') };
}

/** An agent credential, issued by the admin over `POST /api/v1/agent-credentials`. */
async function credential(admin: string, name: string): Promise<string> {
  const reply = await request(current().url, 'POST', '/api/v1/agent-credentials', {
    json: { name },
    headers: { authorization: `Bearer ${admin}` },
  });
  expect(reply.status, reply.text).toBe(201);
  return CreateCredentialReplySchema.parse(reply.json).token;
}

/** `POST /api/v1/calculate` as the user holding `token`; resolves with the expression's id. */
async function submitAs(token: string, expression: string): Promise<string> {
  const reply = await request(current().url, 'POST', '/api/v1/calculate', {
    json: { expression },
    headers: { authorization: `Bearer ${token}` },
  });
  expect(reply.status, reply.text).toBe(201);
  return CalculateReplySchema.parse(reply.json).id;
}

/** `GET /api/v1/expressions/:id` as its owner. */
async function viewAs(token: string, id: string): Promise<ExpressionView> {
  const reply = await request(current().url, 'GET', `/api/v1/expressions/${id}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return ExpressionReplySchema.parse(reply.json).expression;
}

/** Polls the expression as its owner until it is done, failed or canceled. */
async function finishedAs(token: string, id: string, timeoutMs = 30_000): Promise<ExpressionView> {
  return waitFor(
    async () => {
      const view = await viewAs(token, id);
      return view.status === 'pending' || view.status === 'in_progress' ? null : view;
    },
    timeoutMs,
    `expression ${id} to finish`,
  );
}

/** Waits until the scheduler lists `id` as unresponsive. */
async function unresponsive(id: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    () => {
      const status = current().scheduler.views.agentView(id)?.status;
      if (status !== 'unresponsive') throw new Error(`${id} is ${status ?? 'not listed'}`);
      return true;
    },
    timeoutMs,
    `${id} to be unresponsive`,
  );
}

/** The handshake of an agent claiming `agentId`: its refusal message, or 'admitted'. */
function handshake(agentId: string, token?: string): Promise<string> {
  const socket: AgentSocket = io(`${current().url}/agents`, {
    auth: {
      agentId,
      name: agentId,
      kind: 'node',
      concurrency: 1,
      protocol: AGENT_PROTOCOL,
      ...(token === undefined ? {} : { token }),
    },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  open.push(socket);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve('admitted'));
    socket.once('connect_error', (err) => resolve(`refused: ${err.message}`));
  });
}

// ---------------------------------------------------------------- the attacks

describe('strangers cannot spoil the work of others', () => {
  it("liars (guests and a user's tabs) reporting errors cannot fail anyone's expressions", async () => {
    // Before the fix: every error report counted as a failed attempt, so the liars used up the
    // attempts of the victim's operations within a second: four of the five expressions had
    // already ended `error` EXPR_OP_FAILED "Operation + at column 3 failed on 5 attempts (last:
    // agent error X: lie)." at the first look (with an honest agent beside the liars from the
    // start, one or two of the five, run to run), and the liars stayed active: an error report
    // was no strike.
    const accounts = await startAccounts(FAST);
    const liars: (ManualAgent & { id: string })[] = [];
    for (let i = 0; i < 4; i += 1) liars.push(await agent(`guest-liar-${i}`, 4));
    for (let i = 0; i < 4; i += 1) liars.push(await agent(`tab-liar-${i}`, 4, accounts.attacker));
    expect(liars.map((l) => current().scheduler.views.agentView(l.id)?.trust)).toEqual([
      ...Array<string>(4).fill('guest'),
      ...Array<string>(4).fill('user'),
    ]);
    for (const liar of liars) answerWith(liar, lie);

    // The liars alone get the victim's work first: each keeps getting it until lying costs it its
    // standing, and meanwhile no expression may fail.
    const ids: string[] = [];
    for (const src of VICTIM_CASES) ids.push(await submitAs(accounts.victim, src));
    const ended = await waitFor(
      async () => {
        const views = await Promise.all(ids.map((id) => viewAs(accounts.victim, id)));
        const over = views.filter((v) => v.status === 'error' || v.status === 'canceled');
        if (over.length > 0) return over;
        const standing = liars.map((l) => current().scheduler.views.agentView(l.id)?.status);
        if (standing.some((status) => status !== 'unresponsive'))
          throw new Error(`liars are ${standing.join(', ')}`);
        return [];
      },
      15_000,
      'every liar to be unresponsive (or an expression to fail)',
    );
    expect(ended.map((v) => `${v.expression}: ${v.status} ${v.error?.message ?? ''}`)).toEqual([]);

    // An honest agent finishes everything, exact.
    const honest = await agent('honest', 4, await credential(accounts.admin, 'honest-rack'));
    answerHonestly(honest);
    for (const [i, id] of ids.entries()) {
      const view = await finishedAs(accounts.victim, id);
      const src = VICTIM_CASES[i]!;
      expect(view.error?.message ?? '', src).not.toContain('lie');
      expect({ status: view.status, value: view.value, error: view.error }, src).toEqual({
        status: 'done',
        value: exact(src),
        error: null,
      });
    }
    for (const liar of liars)
      expect(current().scheduler.views.agentView(liar.id)?.status, liar.id).toBe('unresponsive');
  });

  it('guests returning wrong values are charged per identity: one operation reaches one guest', async () => {
    // Before the fix: a guest's wrong value was refused and the operation retried avoiding only
    // that one socket, so the same task went from guest to guest (all four guests from one
    // address saw it), and lying guests stayed active forever.
    const accounts = await startAccounts(FAST);
    const honest = await agent('honest', 4, await credential(accounts.admin, 'honest-rack'));
    answerHonestly(honest);
    const guests: (ManualAgent & { id: string })[] = [];
    for (let i = 0; i < 4; i += 1) guests.push(await agent(`guest-wrong-${i}`, 4));
    expect(guests.map((g) => current().scheduler.views.agentView(g.id)?.trust)).toEqual(
      Array<string>(4).fill('guest'),
    );
    for (const guest of guests) answerWith(guest, wrong);

    const ids: string[] = [];
    for (const src of VICTIM_CASES) ids.push(await submitAs(accounts.victim, src));
    for (const [i, id] of ids.entries()) {
      const view = await finishedAs(accounts.victim, id);
      expect({ status: view.status, value: view.value }, VICTIM_CASES[i]).toEqual({
        status: 'done',
        value: exact(VICTIM_CASES[i]!),
      });
    }
    expect(guests.some((g) => g.tasks.length > 0)).toBe(true);
    // How many of the guests each operation was sent to.
    const guestsPerTask = new Map<string, Set<string>>();
    for (const guest of guests)
      for (const t of guest.tasks) {
        const seen = guestsPerTask.get(t.taskId) ?? new Set<string>();
        seen.add(guest.id);
        guestsPerTask.set(t.taskId, seen);
      }
    const spread = [...guestsPerTask].filter(([, seen]) => seen.size > 1);
    expect(
      spread.map(([taskId, seen]) => `${taskId} → ${[...seen].join(', ')}`),
      'operations sent to more than one guest of 127.0.0.1',
    ).toEqual([]);
    for (const guest of guests) await unresponsive(guest.id);
  });

  it('a guest cannot take the listed id of a credentialed agent; its owner can come back', async () => {
    // Before the fix: once 'lab-1' was lost (still listed), a guest connecting as 'lab-1' was
    // admitted, took the id over (trust 'guest') and so shut its owner out of it.
    const accounts = await startAccounts(FAST);
    const token = await credential(accounts.admin, 'lab');
    const first = await agent('lab-1', 2, token);
    expect(current().scheduler.views.agentView('lab-1')?.trust).toBe('credential');
    first.socket.close();
    await waitFor(
      () => current().scheduler.views.agentView('lab-1')?.status === 'lost',
      5000,
      'lab-1 to be lost',
    );

    expect(await handshake('lab-1')).toMatch(/^refused: /);
    expect(current().scheduler.views.agentView('lab-1')).toMatchObject({
      status: 'lost',
      trust: 'credential',
    });

    // The owner, with the same credential, takes its id back and gets work.
    const back = await agent('lab-1', 2, token);
    answerHonestly(back);
    expect(current().scheduler.views.agentView('lab-1')).toMatchObject({
      status: 'active',
      trust: 'credential',
    });
    const id = await submitAs(accounts.victim, '(2+3)*(4+5)');
    expect(await finishedAs(accounts.victim, id)).toMatchObject({ status: 'done', value: '45' });
    expect(back.tasks.length).toBeGreaterThan(0);
  });

  it('a replaced socket is closed; its task goes to the new connection and finishes exact', async () => {
    // Before the fix: the replaced socket S1 stayed connected (it could still send results as
    // 'w') while S2 took over the id; S1 never saw a disconnect.
    const accounts = await startAccounts({
      TIME_ADDITION_MS: '5000',
      TIME_SUBTRACTION_MS: '5000',
      TIME_MULTIPLICATIONS_MS: '5000',
      TIME_DIVISIONS_MS: '5000',
    });
    const token = await credential(accounts.admin, 'replaced');
    const s1 = await agent('w', 1, token);
    let s1Closed = false;
    s1.socket.on('disconnect', () => (s1Closed = true));
    const id = await submitAs(accounts.victim, '2+3');
    const held = await waitFor(() => s1.tasks[0], 5000, 'S1 to hold the task');

    const s2 = await agent('w', 1, token);
    await waitFor(() => s1Closed, 5000, 'the replaced socket S1 to be disconnected');
    expect(s1.socket.connected).toBe(false);
    const requeued = await waitFor(
      () => s2.tasks.find((t) => t.taskId === held.taskId),
      5000,
      'S2 to receive the requeued task',
    );
    expect(requeued.attempt).toBeGreaterThan(held.attempt);
    answerHonestly(s2);
    expect(await finishedAs(accounts.victim, id)).toMatchObject({ status: 'done', value: '5' });
    expect(current().scheduler.views.agentView('w')).toMatchObject({
      status: 'active',
      completed: 1,
    });
  });
});

describe('strangers cannot grow what the orchestrator keeps', () => {
  it('2,000 fresh X-Agent-Id labels from one address leave bounded state and 4 tasks out', async () => {
    // Before the fix: every label was a new agent (`http-guest-flood-<i>@127.0.0.1`), so the
    // registry grew by one per label the per-address pull limit let through (hundreds here), each
    // leased a task of its own (32, every ready one, instead of GUEST_MAX_SLOTS = 4 for the
    // address), and `scheduler.course.tableSizes()` did not exist.
    await startAccounts({
      GUEST_PULLS_PER_SECOND: '1000000',
      LEASE_GRACE_MS: '100',
      TIME_ADDITION_MS: '60000',
    });
    // 2,000 labels, 30 times every bound checked below (10,000 showed nothing more, in 5 s more).
    const LABELS = 2_000;
    const terms = Array.from({ length: 64 }, (_, i) => String(i + 1)).join('+');
    await current().scheduler.submit(terms);
    const pool = new http.Agent({ keepAlive: true, maxSockets: 20 });
    open.push({ close: () => pool.destroy() });
    const statuses = new Map<number, number>();
    const pull = async (i: number): Promise<number> =>
      (await new CourseClient(current().url, { agentId: `flood-${i}`, pool }).pull()).status;
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < LABELS; i = next++) {
        const status = await pull(i);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(LABELS);
    // Some labels did get work: the flood reached the leasing, not only a rate limit.
    expect(statuses.get(200) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(0);

    const registry = current().scheduler.agents.registry;
    expect(registry.size, 'agents listed after the flood').toBeLessThanOrEqual(64);
    const inFlight = [...registry.all()].reduce((sum, a) => sum + a.inFlight, 0);
    expect(inFlight, 'tasks leased to the flood of labels from one address').toBeLessThanOrEqual(4);
    const sizes = tableSizesOf(current().scheduler.course);
    expect(sizes, 'scheduler.course.tableSizes() (the course protocol maps)').not.toBeNull();
    expect(Object.keys(sizes ?? {}).length).toBeGreaterThan(0);
    for (const [table, size] of Object.entries(sizes ?? {}))
      expect(size, `course table ${table}`).toBeLessThanOrEqual(64);
  });
});

/** What the course protocol reports of its own maps, once it can. */
interface SizedTables {
  tableSizes(): Record<string, number>;
}

/** `course.tableSizes()` when it exists (null when it does not). */
function tableSizesOf(course: unknown): Record<string, number> | null {
  const sized = course as Partial<SizedTables> | null;
  if (typeof sized !== 'object' || sized === null || typeof sized.tableSizes !== 'function')
    return null;
  return sized.tableSizes();
}

describe('a fresh agent', () => {
  it('alone with 8 slots holds 8 tasks at once', async () => {
    // Before the fix: slow start held a fresh agent to 2 tasks until it had answered, so a lone
    // agent with 8 slots ran 2 of 8 independent operations and left the rest waiting.
    orch = await startTestOrchestrator({ TIME_MULTIPLICATIONS_MS: '5000' });
    const silent = await agent('eight', 8);
    const client = api(current().url);
    for (let k = 1; k <= 8; k += 1) await client.submit(`${k}*${k + 1}`);
    await waitFor(
      () => {
        const distinct = new Set(silent.tasks.map((t) => t.taskId)).size;
        const running = current().scheduler.views.agentView('eight')?.running.length ?? 0;
        if (distinct < 8 || running < 8)
          throw new Error(`received ${distinct} distinct tasks, holds ${running}`);
        return true;
      },
      4000,
      'the agent to hold 8 tasks at once',
    );
  });
});
