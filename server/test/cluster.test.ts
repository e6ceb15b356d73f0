/**
 * Several orchestrators as one service: three real orchestrator processes on loopback sharing
 * FerretDB (MongoDB) and a private redis-server, real agent-node processes, a real dashboard
 * socket. Skipped, with a notice, without MONGODB_URI or a redis-server binary.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import {
  compile,
  evaluatePlan,
  execute,
  type ExpressionView,
  type Plan,
  type ServerToUiEvents,
  type UiToServerEvents,
  AGENT_PROTOCOL,
} from '@expressionist/core';
import { MongoStore } from '../src/store/mongo-store.js';
import { STEPPED_DOWN_EXIT } from '../src/cluster/leadership.js';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import {
  clusterUnavailable,
  CourseClient,
  freePort,
  kill,
  killAll,
  answerHonestly,
  manualAgent,
  rng,
  spawnAgent,
  spawnOrchestrator,
  startRedis,
  waitFor,
  type AgentProcess,
  type ChildHandle,
  type ManualAgent,
  type OrchestratorProcess,
} from '@expressionist/testkit';

const mongoUri = process.env.MONGODB_URI;
const missing = clusterUnavailable(mongoUri);
const enabled = missing === null;
if (missing) console.log(`several-orchestrators suite skipped: ${missing}`);

const db = `exprtest_cluster_${process.pid}_${Date.now()}`;
const accountsDb = `${db}_acc`;
const LEASE_MS = 2000;
const children: ChildHandle[] = [];
let redisUrl = '';

interface Instance extends OrchestratorProcess {
  name: string;
}

const instances: Instance[] = [];
const agents: AgentProcess[] = [];
let started = 0;

async function startInstance(extra: Record<string, string> = {}): Promise<Instance> {
  started += 1;
  const orch = await spawnOrchestrator({
    env: {
      MONGODB_URI: mongoUri ?? '',
      MONGODB_DB: db,
      REDIS_URL: redisUrl,
      JWT_SECRET: 'cluster-test-secret-0123456789abcdef',
      LEADER_LEASE_MS: String(LEASE_MS),
      TIME_ADDITION_MS: '40',
      TIME_SUBTRACTION_MS: '40',
      TIME_MULTIPLICATIONS_MS: '60',
      TIME_DIVISIONS_MS: '60',
      ...extra,
    },
    readyTimeoutMs: 60_000,
  });
  const instance = { ...orch, name: `i${started}` };
  instances.push(instance);
  return instance;
}

interface Ready {
  role: string;
  leader: { instance: string; epoch: number } | null;
  instance: string;
}

async function readyz(i: Instance): Promise<Ready | null> {
  try {
    const res = await fetch(`${i.url}/readyz`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as Ready;
  } catch {
    return null;
  }
}

const alive = (): Instance[] => instances.filter((i) => i.alive());

/** The instance that says it leads (waits for one). */
async function leader(): Promise<Instance> {
  let found: Instance | undefined;
  await waitFor(
    async () => {
      for (const i of alive()) if ((await readyz(i))?.role === 'leader') found = i;
      return found !== undefined;
    },
    30_000,
    'a leader',
    50,
  );
  return found!;
}

async function gateways(): Promise<Instance[]> {
  const lead = await leader();
  return alive().filter((i) => i !== lead);
}

/** One HTTP call through any live instance, retried through a takeover (503, refused). */
async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  let last = '';
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const list = alive();
    const target = list[attempt % list.length]!;
    try {
      const res = await fetch(`${target.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(5000),
      });
      const json: unknown = await res.json();
      if (res.status < 500) return json;
      last = `${res.status} ${JSON.stringify(json)}`;
    } catch (err) {
      last = String(err);
    }
    // Retried while a failover is under way (the retry interval, not a synchronization).
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${method} ${path} kept failing: ${last}`);
}

let submissions = 0;

/**
 * Submits with a client id, so a retry of `call` (a 5xx or a 5-s timeout during a failover, after
 * the leader may have accepted it) names the same expression: without one a retry submitted it a
 * second time, answered from the result cache once the first had finished (no operations stored).
 */
async function submit(expression: string): Promise<string> {
  submissions += 1;
  const id = `c${process.pid}-${submissions}`;
  const reply = (await call('POST', '/api/v1/calculate', { expression, id })) as { id?: string };
  if (!reply.id) throw new Error(`not accepted: ${JSON.stringify(reply)}`);
  return reply.id;
}

async function view(id: string): Promise<ExpressionView> {
  return ((await call('GET', `/api/v1/expressions/${id}`)) as { expression: ExpressionView })
    .expression;
}

async function allFinished(ids: readonly string[], timeoutMs: number): Promise<ExpressionView[]> {
  const done = new Map<string, ExpressionView>();
  await waitFor(
    async () => {
      for (const id of ids) {
        if (done.has(id)) continue;
        const v = await view(id);
        if (v.status === 'done' || v.status === 'error' || v.status === 'canceled') done.set(id, v);
      }
      return done.size === ids.length;
    },
    timeoutMs,
    `${ids.length} expressions to finish`,
    200,
  );
  return ids.map((id) => done.get(id)!);
}

/** Every operation's exact value, as the agents must have computed it. */
function opValues(plan: Plan): string[] {
  const values: string[] = [];
  for (const op of plan.ops) {
    const v = (o: (typeof op)['a']): string => (o.kind === 'lit' ? o.value : values[o.id]!);
    values[op.id] = execute(op.op, v(op.a), v(op.b));
  }
  return values;
}

/** Exact values, and each operation recorded exactly once with its exact value. */
/** What MongoDB holds for expression `v`: its document and its op_results row count. */
async function storedState(v: ExpressionView, dbName: string): Promise<string> {
  const client = new MongoClient(mongoUri!);
  try {
    const raw = client.db(dbName);
    const doc = await raw.collection<{ _id: string }>('expressions').findOne({ _id: v.id });
    const rows = await raw.collection('op_results').countDocuments({ expressionId: v.id });
    return `${v.id}: view ${JSON.stringify(v)}; stored ${JSON.stringify(doc)}; op_results rows ${rows}`;
  } finally {
    await client.close();
  }
}

async function checkStored(sources: Map<string, string>, views: ExpressionView[]): Promise<void> {
  const store = new MongoStore(mongoUri!, db);
  await store.init();
  try {
    for (const v of views) {
      const plan = compile(sources.get(v.id)!).plan;
      expect(v.status, `${v.id} ${sources.get(v.id)}`).toBe('done');
      expect(v.value).toBe(evaluatePlan(plan));
      const results = await store.getOpResults(v.id);
      const expected = opValues(plan);
      // On a mismatch, say what the store holds: the record (with its compact results, if any)
      // and how many op_results rows are left.
      const context = results.length === plan.ops.length ? v.id : await storedState(v, db);
      expect(results, context).toHaveLength(plan.ops.length);
      expect(new Set(results.map((r) => r.opId)).size).toBe(plan.ops.length);
      for (const r of results) expect(r.value).toBe(expected[r.opId]);
    }
  } finally {
    await store.close();
  }
}

function randomExpressions(count: number, seed: number): string[] {
  const next = rng(seed);
  const int = (n: number): number => 1 + Math.floor(next() * n);
  return Array.from({ length: count }, () => {
    const terms = Array.from({ length: 3 + int(6) }, () => String(int(99)));
    const ops = ['+', '-', '*', '+', '/'];
    return terms.reduce((acc, t) => `${acc}${ops[Math.floor(next() * ops.length)]!}${t}`);
  });
}

/** Agents connected to `first`, knowing every instance to move on to. */
function startAgent(first: Instance, name: string, concurrency = 2): AgentProcess {
  const others = alive().filter((i) => i !== first);
  const urls = [first, ...others].map((i) => i.url).join(',');
  const agent = spawnAgent(urls, { concurrency, name, id: name, logLevel: 'info' });
  agents.push(agent);
  return agent;
}

async function activeAgents(): Promise<{ id: string; completed: number; status: string }[]> {
  return (
    (await call('GET', '/api/v1/agents')) as {
      agents: { id: string; completed: number; status: string }[];
    }
  ).agents.filter((a) => a.status === 'active');
}

/** Every agent started is still running (they must survive any instance's death). */
function agentsStillRunning(): void {
  for (const a of agents)
    if (!a.alive())
      throw new Error(`agent ${a.id} exited (${a.child.exitCode}):\n${a.output().slice(-3000)}`);
}

describe.runIf(enabled)('several orchestrators (3 instances, Redis, MongoDB)', () => {
  afterEach(() => agentsStillRunning());

  let dashboard: Socket<ServerToUiEvents, UiToServerEvents>;
  const seen = new Map<string, ExpressionView>();

  beforeAll(async () => {
    const redis = await startRedis();
    children.push(redis.handle);
    redisUrl = redis.url;
    // One after the other: the first to start leads.
    await startInstance();
    await startInstance();
    await startInstance();
  }, 120_000);

  afterAll(async () => {
    dashboard?.disconnect();
    await killAll([...agents, ...instances, ...children]);
    if (mongoUri)
      for (const name of [db, accountsDb]) {
        const store = new MongoStore(mongoUri, name);
        await store.init();
        await store.dropDatabase();
        await store.close();
      }
  });

  it('one leader; gateways report it; the API answers on every instance', async () => {
    const lead = await leader();
    const others = await gateways();
    expect(others).toHaveLength(2);
    for (const g of others) {
      const r = await readyz(g);
      expect(r?.role).toBe('gateway');
      expect(r?.leader?.instance).toBe((await readyz(lead))?.instance);
    }
    for (const i of instances) {
      const res = await fetch(`${i.url}/api/v1/settings`);
      expect(res.status).toBe(200);
    }
    const metrics = await (await fetch(`${lead.url}/metrics`)).text();
    expect(metrics).toMatch(/expressionist_cluster_role\{role="leader"\} 1/);
    expect(metrics).toMatch(/expressionist_cluster_takeovers_total 1/);
  });

  it('agents on two gateways share one expression; a dashboard on a gateway sees it', async () => {
    const [g1, g2] = await gateways();
    dashboard = io(`${g2!.url}/ui`, { transports: ['websocket'], forceNew: true });
    const snapshot = new Promise<void>((resolve) => dashboard.once('snapshot', () => resolve()));
    dashboard.on('snapshot', (s) => {
      for (const e of s.expressions) seen.set(e.id, e);
    });
    dashboard.on('delta', (d) => {
      for (const e of d.expressions ?? []) seen.set(e.id, e);
    });
    await snapshot;
    startAgent(g1!, 'agent-a', 2);
    startAgent(g2!, 'agent-b', 2);
    await waitFor(async () => (await activeAgents()).length === 2, 20_000, 'two agents');
    const source = Array.from({ length: 64 }, (_, i) => String(i + 1)).join('+');
    const id = await submit(source);
    const [done] = await allFinished([id], 60_000);
    expect(done?.value).toBe('2080');
    const counts = await activeAgents();
    for (const a of counts) expect(a.completed, a.id).toBeGreaterThan(0);
    await waitFor(() => seen.get(id)?.status === 'done', 10_000, 'the dashboard to see it done');
  });

  it('a course HTTP agent pulling from a gateway gets work and its results count', async () => {
    const [g1] = await gateways();
    const id = await submit(Array.from({ length: 32 }, (_, i) => `${i + 1}*2`).join('+'));
    const agent = new CourseClient(g1!.url, { agentId: 'course-1' });
    let computed = 0;
    try {
      const tasks = await agent.work(
        async (so) => so.length >= 3 || (await view(id)).status === 'done',
        40_000,
      );
      computed = tasks.length;
    } finally {
      agent.close();
    }
    expect(computed).toBeGreaterThan(0);
    const [done] = await allFinished([id], 60_000);
    expect(done?.value).toBe(String(2 * ((32 * 33) / 2)));
    const agents = (await call('GET', '/api/v1/agents')) as {
      agents: { id: string; kind: string; completed: number }[];
    };
    const course = agents.agents.find((a) => a.id === 'http-course-1');
    expect(course?.kind).toBe('http');
    expect(course?.completed).toBe(computed);
  });

  it("50 agents on one gateway: the leader's tasks and their results cross Redis in a few messages, not one per agent", async () => {
    const [g1] = await gateways();
    const batchAgents = async (): Promise<number> =>
      (await activeAgents()).filter((a) => a.id.startsWith('batch-')).length;
    const manual: ManualAgent[] = [];
    for (let i = 0; i < 50; i += 1) manual.push(await manualAgent(g1!.url, `batch-${i}`));
    try {
      await waitFor(async () => (await batchAgents()) === 50, 20_000, '50 more agents');
      // Messages between instances (`serverSideEmit`) cross Redis by PUB/SUB on the adapter's
      // public channel of the main namespace (the streams adapter keeps its stream for
      // broadcasts); each message is msgpack, where a task id is its own bytes.
      const listener = new Redis(redisUrl);
      const payloads: string[] = [];
      listener.on('messageBuffer', (_channel: Buffer, message: Buffer) =>
        payloads.push(message.toString('latin1')),
      );
      await listener.subscribe('socket.io#/#');
      try {
        for (const a of manual) answerHonestly(a);
        const terms = Array.from({ length: 120 }, (_, i) => `${i + 1}*${i + 2}`);
        const id = await submit(terms.join('+'));
        await allFinished([id], 60_000);
        for (const a of manual) expect(a.tasks.length, a.socket.id).toBeGreaterThan(0);
        // Their results crossed too: the leader counts each agent's accepted results.
        for (const a of (await activeAgents()).filter((x) => x.id.startsWith('batch-')))
          expect(a.completed, a.id).toBeGreaterThan(0);
        const taskIds = [...new Set(manual.flatMap((a) => a.tasks.map((t) => t.taskId)))];
        /** Messages that carry `taskId` (its task, or its result). */
        const carrying = (taskId: string): number =>
          payloads.filter((p) => p.includes(taskId)).length;
        // Every task went out to its gateway and its result came back: two messages at least.
        for (const taskId of taskIds) expect(carrying(taskId), taskId).toBeGreaterThanOrEqual(2);
        const messages = payloads.filter((p) => taskIds.some((t) => p.includes(t))).length;
        // One message per agent would be two per task or more; batched per gateway and turn they
        // are far fewer (how many results share a turn varies with the machine's load).
        expect(
          messages * 2,
          `${messages} messages for ${taskIds.length} tasks`,
        ).toBeLessThanOrEqual(taskIds.length);
      } finally {
        await listener.quit();
      }
    } finally {
      for (const a of manual) a.socket.disconnect();
    }
    await waitFor(async () => (await batchAgents()) === 0, 20_000, 'the 50 agents gone');
  });

  it('SIGKILL of the leader amid 200 expressions: all exact, none lost, each op stored once', async () => {
    const [g1] = await gateways();
    startAgent(g1!, 'agent-c', 2);
    const sources = new Map<string, string>();
    const texts = randomExpressions(200, 14);
    for (let i = 0; i < texts.length; i += 20) {
      const ids = await Promise.all(texts.slice(i, i + 20).map((t) => submit(t)));
      ids.forEach((id, k) => sources.set(id, texts[i + k]!));
    }
    const ids = [...sources.keys()];
    await waitFor(
      async () => {
        let finished = 0;
        for (const id of ids.slice(0, 60))
          if ((await view(id)).status !== 'in_progress') finished += 1;
        return finished >= 10;
      },
      60_000,
      'some expressions done',
      200,
    );
    const old = await leader();
    const oldEpoch = (await readyz(old))!.leader!.epoch;
    await kill(old);
    const next = await leader();
    expect(next).not.toBe(old);
    expect((await readyz(next))!.leader!.epoch).toBeGreaterThan(oldEpoch);
    const views = await allFinished(ids, 240_000);
    await checkStored(sources, views);
    // The dashboard on a surviving instance (a gateway; it may lead by now) saw each one finish.
    await waitFor(
      () => ids.every((id) => seen.get(id)?.status === 'done'),
      20_000,
      'the dashboard to see all 200 done',
    );
    await startInstance();
  }, 400_000);

  it('a leader frozen past its lease steps down on SIGCONT; nothing duplicated or wrong', async () => {
    const frozen = await leader();
    const sources = new Map<string, string>();
    const texts = randomExpressions(60, 15);
    const ids = await Promise.all(texts.map((t) => submit(t)));
    ids.forEach((id, k) => sources.set(id, texts[k]!));
    frozen.child.kill('SIGSTOP');
    const next = await leader();
    expect(next).not.toBe(frozen);
    // Frozen past its lease for sure, with work going on under the new leader: how long it stays
    // frozen is what is under test (a leader that wakes after its lease must step down).
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
    frozen.child.kill('SIGCONT');
    expect(await frozen.exited).toBe(STEPPED_DOWN_EXIT);
    expect(frozen.output()).toContain('stepping down');
    const views = await allFinished(ids, 240_000);
    await checkStored(sources, views);
    await startInstance();
  }, 400_000);

  it("a gateway's SIGKILL: its agents move to another instance and their work is reassigned", async () => {
    const [victim] = await gateways();
    const agent = startAgent(victim!, 'agent-d', 2);
    await waitFor(
      async () => (await activeAgents()).some((a) => a.id === 'agent-d'),
      20_000,
      'agent-d',
    );
    const sources = new Map<string, string>();
    const texts = randomExpressions(40, 16);
    const ids = await Promise.all(texts.map((t) => submit(t)));
    ids.forEach((id, k) => sources.set(id, texts[k]!));
    await waitFor(() => agent.output().includes('"msg":"connected"'), 10_000, 'agent-d connected');
    await kill(victim!);
    await waitFor(
      () => agent.output().split('"msg":"connected"').length - 1 >= 2,
      20_000,
      'agent-d to connect to another instance',
    );
    await waitFor(
      async () => (await activeAgents()).some((a) => a.id === 'agent-d'),
      20_000,
      'agent-d back in the registry',
    );
    const views = await allFinished(ids, 240_000);
    await checkStored(sources, views);
    const lost = (await activeAgents()).filter((a) => a.id === 'agent-d');
    expect(lost).toHaveLength(1);
  }, 400_000);

  it('accounts: a credential issued on the leader admits an agent on a gateway; revoking it cuts the agent off', async () => {
    // A fresh two-instance service in accounts mode (the open-mode one is done with).
    await killAll([...agents, ...instances]);
    agents.length = 0;
    const env = {
      MONGODB_DB: accountsDb,
      AUTH_MODE: 'accounts',
      ADMIN_LOGIN: 'admin',
      ADMIN_PASSWORD: 'Str0ng-cluster-pass',
      GUEST_AGENTS: 'off',
    };
    await startInstance(env);
    await startInstance(env);
    const [gateway] = await gateways();
    const post = async (path: string, body: unknown, token?: string): Promise<Response> =>
      fetch(`${gateway!.url}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
    const login = await post('/api/v1/login', { login: 'admin', password: 'Str0ng-cluster-pass' });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const issued = await post('/api/v1/agent-credentials', { name: 'cluster-agent' }, token);
    expect(issued.status).toBe(201);
    const { credential, token: agentToken } = (await issued.json()) as {
      credential: { id: string };
      token: string;
    };
    // The gateway admits the token the leader just issued (it reloaded the credentials).
    const agent = spawnAgent(gateway!.url, {
      name: 'cred-agent',
      id: 'cred-agent',
      token: agentToken,
    });
    agents.push(agent);
    const listed = async (): Promise<{ id: string; status: string; trust: string }[]> => {
      const res = await fetch(`${gateway!.url}/api/v1/agents`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return ((await res.json()) as { agents: { id: string; status: string; trust: string }[] })
        .agents;
    };
    await waitFor(
      async () => (await listed()).some((a) => a.status === 'active' && a.trust === 'credential'),
      20_000,
      'the credentialed agent active on the leader',
    );
    const submitted = await post('/api/v1/calculate', { expression: '6*7+1' }, token);
    expect(submitted.status).toBe(201);
    const { id } = (await submitted.json()) as { id: string };
    await waitFor(
      async () => {
        const res = await fetch(`${gateway!.url}/api/v1/expressions/${id}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return ((await res.json()) as { expression: ExpressionView }).expression.value === '43';
      },
      30_000,
      'the agent on the gateway to compute it',
    );
    const revoked = await post(`/api/v1/agent-credentials/${credential.id}/revoke`, {}, token);
    expect(revoked.status).toBe(200);
    // Cut off through the adapter, and refused when it tries again: the agent gives up (exit 4).
    expect(await agent.exited).toBe(4);
    agents.splice(agents.indexOf(agent), 1);
    await waitFor(
      async () => !(await listed()).some((a) => a.status === 'active'),
      20_000,
      'no active agent left',
    );

    // A user's dashboard on the gateway; the admin disables the user (on the leader, through the
    // gateway): the gateway hears it at once and cuts the socket off — long before its 30-s
    // sweep or its 5-s cache would have.
    const registered = await post('/api/v1/register', {
      login: 'clusteruser',
      password: 'another-Str0ng-pass',
    });
    expect(registered.status).toBe(200);
    const { user } = (await registered.json()) as { user: { id: string } };
    const signedIn = await post('/api/v1/login', {
      login: 'clusteruser',
      password: 'another-Str0ng-pass',
    });
    const { token: userToken } = (await signedIn.json()) as { token: string };
    const ui: Socket<ServerToUiEvents, UiToServerEvents> = io(`${gateway!.url}/ui`, {
      auth: { token: userToken },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        ui.once('connect', () => resolve());
        ui.once('connect_error', reject);
      });
      const cut = new Promise<string>((resolve) => ui.once('disconnect', resolve));
      const started = Date.now();
      const disabled = await post(`/api/v1/users/${user.id}/disable`, {}, token);
      expect(disabled.status).toBe(200);
      expect(await cut).toBe('io server disconnect');
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      ui.close();
    }
  }, 180_000);

  it('with no reachable leader a gateway refuses the API with 503 LEADER_UNAVAILABLE, then takes over', async () => {
    // A lease held by an instance that does not answer (nothing listens on its port).
    const noLeaderDb = `${db}_nol`;
    const redis = new Redis(redisUrl);
    const dead = `http://127.0.0.1:${await freePort()}`;
    await redis.set(`expressionist:${noLeaderDb}:leader`, `ghost|${dead}|99`, 'PX', 8000);
    const gateway = await startInstance({ MONGODB_DB: noLeaderDb });
    expect((await readyz(gateway))?.leader?.instance).toBe('ghost');
    const refused = await fetch(`${gateway.url}/api/v1/calculate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ expression: '1+1' }),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'LEADER_UNAVAILABLE',
    );
    // The ghost's lease runs out; the gateway takes it and serves the API itself.
    await waitFor(async () => (await readyz(gateway))?.role === 'leader', 20_000, 'the takeover');
    expect((await readyz(gateway))?.leader?.epoch).toBeGreaterThan(0);
    const accepted = await fetch(`${gateway.url}/api/v1/calculate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ expression: '1+1' }),
    });
    expect(accepted.status).toBe(201);
    await redis.quit();
    const store = new MongoStore(mongoUri!, noLeaderDb);
    await store.init();
    await store.dropDatabase();
    await store.close();
  }, 60_000);

  describe('limits hold across instances (Redis), whichever instance an attempt goes to', () => {
    const limitsDb = `${db}_lim`;
    const env = {
      MONGODB_DB: limitsDb,
      AUTH_MODE: 'accounts',
      ADMIN_LOGIN: 'admin',
      ADMIN_PASSWORD: 'Str0ng-cluster-pass',
      GUEST_AGENTS: 'on',
      LOGIN_FREE_FAILURES: '5',
      SUBMISSIONS_PER_MINUTE: '4',
    };
    const guests: Socket[] = [];
    let round = 0;

    /** The next live instance, round robin: attempts are spread over all of them. */
    const next = (): Instance => {
      const list = alive();
      round += 1;
      return list[round % list.length]!;
    };

    const post = async (i: Instance, path: string, body: unknown): Promise<Response> =>
      fetch(`${i.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    beforeAll(async () => {
      await killAll([...agents, ...instances]);
      agents.length = 0;
      await startInstance(env);
      await startInstance(env);
      await startInstance(env);
      await leader();
    }, 120_000);

    afterAll(async () => {
      for (const g of guests) g.disconnect();
      if (!mongoUri) return;
      const store = new MongoStore(mongoUri, limitsDb);
      await store.init();
      await store.dropDatabase();
      await store.close();
    });

    it('guest agents of one address: at most 4 over all three instances', async () => {
      const outcomes: string[] = [];
      for (let k = 0; k < 6; k += 1) {
        const target = alive()[k % 3]!;
        const socket: Socket = io(`${target.url}/agents`, {
          auth: {
            agentId: `spread-guest-${k}`,
            name: `spread-guest-${k}`,
            kind: 'node',
            concurrency: 1,
            protocol: AGENT_PROTOCOL,
          },
          transports: ['websocket'],
          forceNew: true,
          reconnection: false,
        });
        guests.push(socket);
        outcomes.push(
          await new Promise<string>((resolve) => {
            socket.once('connect', () => resolve('admitted'));
            socket.once('connect_error', (err) => resolve(err.message));
          }),
        );
      }
      // Before: four per instance, so all six got in.
      expect(outcomes.filter((o) => o === 'admitted')).toHaveLength(4);
      for (const o of outcomes.slice(4)) expect(o).toMatch(/guest agents from 127\.0\.0\.1/);
      for (const g of guests) g.disconnect();
    });

    it('guest handshakes of one address: 30 a minute over all three instances', async () => {
      // The test above made 4 counted handshakes (the 5th and 6th were refused before counting).
      let admitted = 0;
      const refusals: string[] = [];
      for (let k = 0; k < 40; k += 1) {
        const socket: Socket = io(`${alive()[k % 3]!.url}/agents`, {
          auth: {
            agentId: `hello-guest-${k}`,
            name: `hello-guest-${k}`,
            kind: 'node',
            concurrency: 1,
            protocol: AGENT_PROTOCOL,
          },
          transports: ['websocket'],
          forceNew: true,
          reconnection: false,
        });
        const outcome = await new Promise<string>((resolve) => {
          socket.once('connect', () => resolve('admitted'));
          socket.once('connect_error', (err) => resolve(err.message));
        });
        socket.disconnect();
        if (outcome === 'admitted') admitted += 1;
        else refusals.push(outcome);
      }
      // Before: 30 per instance, so all 40 got in.
      expect(admitted).toBeLessThanOrEqual(26);
      expect(refusals.some((r) => /guest agent connections from 127\.0\.0\.1/.test(r))).toBe(true);
    });

    it('submissions per minute of a user count on every instance and survive the leader', async () => {
      const login = await post(next(), '/api/v1/login', {
        login: 'admin',
        password: 'Str0ng-cluster-pass',
      });
      const { token } = (await login.json()) as { token: string };
      const statuses: number[] = [];
      const calculate = async (k: number): Promise<void> => {
        let res: Response;
        do
          res = await fetch(`${next().url}/api/v1/calculate`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ expression: `${k}+1` }),
          });
        while (res.status === 503);
        statuses.push(res.status);
      };
      for (let k = 0; k < 3; k += 1) await calculate(k);
      await kill(await leader());
      await leader();
      for (let k = 3; k < 6; k += 1) await calculate(k);
      // Before: the new leader counted from zero, and all six were accepted.
      expect(statuses).toEqual([201, 201, 201, 201, 429, 429]);
      await startInstance(env);
    }, 120_000);

    it('sign-in failures of a login count on every instance and survive the leader', async () => {
      const wrong = async (): Promise<number> =>
        (await post(next(), '/api/v1/login', { login: 'admin', password: 'wrong-password' }))
          .status;
      const before: number[] = [];
      for (let k = 0; k < 5; k += 1) before.push(await wrong());
      expect(before).toEqual([401, 401, 401, 401, 401]);
      // The leader that counted them dies; its successor reads the same counts from Redis.
      const old = await leader();
      await kill(old);
      expect(await leader()).not.toBe(old);
      // The 6th failure locks the login (1 s, then 2 s, …): at once a 429, wherever it is tried.
      // Before: the new leader started from zero and gave five more free failures.
      const after: number[] = [];
      let res: Response;
      do {
        res = await post(next(), '/api/v1/login', { login: 'admin', password: 'wrong-password' });
        after.push(res.status);
      } while (res.status !== 429 && after.length < 10);
      expect(after.filter((s) => s === 401).length).toBeLessThanOrEqual(2);
      expect(after.at(-1)).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      await startInstance(env);
    }, 120_000);

    it('registrations per address are capped over all instances and across a takeover', async () => {
      const statuses: number[] = [];
      const register = async (k: number): Promise<void> => {
        let res: Response;
        // Through a takeover: retried while no instance leads (503).
        do
          res = await post(next(), '/api/v1/register', {
            login: `spread${k}`,
            password: `Spread-pass-${k}x`,
          });
        while (res.status === 503);
        statuses.push(res.status);
      };
      for (let k = 0; k < 3; k += 1) await register(k);
      await kill(await leader());
      await leader();
      for (let k = 3; k < 7; k += 1) await register(k);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    }, 120_000);
  });
});
