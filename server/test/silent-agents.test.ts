// Issue 15: an agent that takes work and never answers must cost itself, not the expressions.
// Every test runs its own orchestrator (an unresponsive agent's cool-down would otherwise leak
// into the next test) with short leases: operations of 50 ms + LEASE_GRACE_MS 300 expire within
// about half a second (the stalled checker runs every 200 ms). The cool-down is a minute, so
// an agent that turns unresponsive stays so for the rest of its test.
import { afterEach, describe, expect, it } from 'vitest';
import {
  compile,
  evaluatePlan,
  execute,
  type AgentView,
  type CourseTask,
  type Task,
} from '@expressionist/core';
import {
  answerHonestly,
  api,
  CourseClient,
  floatResult,
  killAll,
  manualAgent,
  request,
  sleep,
  spawnAgent,
  waitFor,
  type Api,
  type AgentProcess,
  type ManualAgent,
} from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

const K = 3;
const FAST: Record<string, string> = {
  TIME_ADDITION_MS: '50',
  TIME_SUBTRACTION_MS: '50',
  TIME_MULTIPLICATIONS_MS: '50',
  TIME_DIVISIONS_MS: '50',
  LEASE_GRACE_MS: '300',
  UNRESPONSIVE_AFTER: String(K),
  UNRESPONSIVE_COOLDOWN_MS: '60000',
};
/** One lease: the longest operation plus the grace. */
const LEASE_MS = 50 + 300;

const CASES = ['(11+22)*(33-4)', '(1.5+2.25)*(10-0.5)', '100/(7-3)+2*3', '((1+2)*(3+4))-(5*6)'];
const exact = (src: string): string => evaluatePlan(compile(src).plan);

let orch: TestOrchestrator | undefined;
let client: Api;
const sockets: ManualAgent[] = [];
const processes: AgentProcess[] = [];
/** Loops (HTTP pullers) that run until the test ends. */
let stopLoops: AbortController | undefined;
const loops: Promise<void>[] = [];

async function start(env: Record<string, string>): Promise<TestOrchestrator> {
  orch = await startTestOrchestrator(env);
  client = api(orch.url);
  stopLoops = new AbortController();
  return orch;
}

/** A hand-driven socket agent, closed after the test whatever happens. */
async function manual(id: string, concurrency: number): Promise<ManualAgent> {
  const agent = await manualAgent(orch!.url, id, concurrency);
  sockets.push(agent);
  await waitFor(
    () => orch!.scheduler.views.agentView(id)?.status === 'active',
    5000,
    `${id} to join`,
  );
  return agent;
}

/** A real agent-node process, killed after the test; resolves once it is registered. */
async function agentProcess(id: string, concurrency: number): Promise<AgentProcess> {
  const proc = spawnAgent(orch!.url, { id, concurrency, name: id, logLevel: 'warn' });
  processes.push(proc);
  await waitFor(
    () => orch!.scheduler.views.agentView(id)?.status === 'active',
    15_000,
    `agent process ${id} to join`,
  );
  return proc;
}

async function agentNamed(id: string): Promise<AgentView | undefined> {
  return (await client.agents()).find((a) => a.id === id);
}

/** Waits (over REST) until `id` is unresponsive; resolves with its view. */
function unresponsive(id: string, timeoutMs = 10_000): Promise<AgentView> {
  return waitFor(
    async () => {
      const agent = await agentNamed(id);
      return agent?.status === 'unresponsive' ? agent : null;
    },
    timeoutMs,
    `${id} to be unresponsive`,
  );
}

async function expectAllExact(ids: readonly string[], sources: readonly string[]): Promise<void> {
  for (const [i, id] of ids.entries()) {
    const view = await client.finished(id, 20_000);
    expect(view.status, sources[i]).toBe('done');
    expect(view.value, sources[i]).toBe(exact(sources[i]!));
  }
}

/** `name{kind="…"}` from a Prometheus text exposition; undefined when the series is absent. */
function sample(text: string, name: string, kind: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{kind="${kind}"} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

afterEach(async () => {
  stopLoops?.abort();
  await Promise.allSettled(loops.splice(0));
  await killAll(processes.splice(0));
  for (const agent of sockets.splice(0)) agent.socket.close();
  await orch?.close();
  orch = undefined;
});

describe('a silent socket agent', () => {
  it('alone: expressions wait in_progress for a responsive agent (never error), then finish exact', async () => {
    // MAX_ATTEMPTS 2 < the expiries one operation sees here: only the first expiry of an operation
    // on an agent may count, or this expression fails.
    await start({ ...FAST, MAX_ATTEMPTS: '2' });
    const silent = await manual('silent-alone', 256);
    // One operation first: with nobody else, its retry goes back to the same silent agent.
    const first = await client.submit('6*7');
    await waitFor(() => silent.tasks.length >= 2, 5000, 'the retry on the same agent');
    expect(silent.tasks[1]).toMatchObject({ taskId: silent.tasks[0]!.taskId, attempt: 2 });
    const ids = [first, ...(await Promise.all(CASES.map((c) => client.submit(c))))];
    const sources = ['6*7', ...CASES];

    const agent = await unresponsive('silent-alone');
    // Alone, it was lent every ready task (nobody else could take them); each expired unanswered,
    // a strike apiece for an agent that never answered: at least K in a row.
    const inRow = /^(\d+) tasks in a row failed or expired without a result/.exec(
      agent.reason ?? '',
    );
    expect(Number(inRow?.[1])).toBeGreaterThanOrEqual(K);
    expect(agent.running).toEqual([]);
    // Its strikes halved its window of two.
    expect(agent.window).toBeLessThanOrEqual(1);
    const received = silent.tasks.length;

    // Well past K expiries (about 6 lease lengths): nothing errors, all wait for a responsive agent.
    // The time is what is under test here (nothing may change for that long), sampled every 100 ms.
    const watchUntil = Date.now() + 6 * LEASE_MS;
    do {
      for (const [i, id] of ids.entries()) {
        const view = await client.expression(id);
        // Never `error`: `in_progress`, or `pending` if no attempt of it ever started.
        expect(['pending', 'in_progress'], sources[i]).toContain(view.status);
        expect(view.waiting, sources[i]).toBe('no_responsive_agent');
      }
      await sleep(100);
    } while (Date.now() < watchUntil);
    const [op] = await client.operations(first);
    expect(op!.attempt).toBeGreaterThanOrEqual(2);
    expect(silent.tasks.length).toBe(received);

    const honest = await manual('honest-late', 4);
    answerHonestly(honest);
    await expectAllExact(ids, sources);
    expect(silent.tasks.length).toBe(received);
    expect(orch!.scheduler.views.agentView('silent-alone')?.status).toBe('unresponsive');
  });

  it('beside an honest agent process: values exact, and no new work during its cool-down', async () => {
    await start(FAST);
    const silent = await manual('silent-big', 256);
    await agentProcess('honest-proc', 4);
    const batch = (tag: number): string[] =>
      Array.from({ length: 8 }, (_, i) => `(${tag}${i}+${i + 1})*(${i + 2}-0.5)+${tag}/${i + 4}`);
    // Enough work to keep the honest agent busy for a while: once struck, the silent agent gets
    // work only while agents without strikes are full (slow start gave it two tasks at first).
    const long = Array.from({ length: 400 }, (_, i) => String(i + 1)).join('+');
    const firstSources = [...batch(1), long];
    const firstIds = await Promise.all(firstSources.map((s) => client.submit(s)));
    await waitFor(() => silent.tasks.length > 0, 5000, 'work for the silent agent');

    const agent = await unresponsive('silent-big');
    expect(agent.strikes).toBeGreaterThanOrEqual(K);
    expect(agent.reason).toContain('tasks in a row failed or expired');
    const received = silent.tasks.length;

    await expectAllExact(firstIds, firstSources);
    const moreSources = batch(2);
    const moreIds = await Promise.all(moreSources.map((s) => client.submit(s)));
    await expectAllExact(moreIds, moreSources);
    expect(silent.tasks.length).toBe(received);
    expect((await agentNamed('silent-big'))?.status).toBe('unresponsive');
    // The honest agent was never struck.
    expect((await agentNamed('honest-proc'))?.strikes).toBe(0);

    // The three series of issue 15 on /metrics.
    const metrics = (await request(orch!.url, 'GET', '/metrics')).text;
    expect(sample(metrics, 'expressionist_agent_strikes_total', 'node')).toBeGreaterThanOrEqual(K);
    expect(sample(metrics, 'expressionist_leases_expired_total', 'node')).toBeGreaterThanOrEqual(K);
    expect(sample(metrics, 'expressionist_agents_unresponsive', 'node')).toBe(1);
    expect(sample(metrics, 'expressionist_agents_unresponsive', 'http')).toBe(0);
  });

  /**
   * A hand-driven agent with `slots` slots that answers every other task it receives, honestly,
   * after the task's duration (as a real agent would), and ignores the rest. Runs a batch of
   * expressions on it alone and samples its view every 10 ms until they finish or it turns
   * unresponsive.
   */
  async function runHalfAnswering(slots: number): Promise<{
    lowestWindow: number;
    statuses: Set<string>;
    ids: string[];
    sources: string[];
  }> {
    await start(FAST);
    const half = await manual('half-agent', slots);
    let seen = 0;
    half.socket.on('tasks', (tasks: Task[]) => {
      for (const t of tasks) {
        if ((seen += 1) % 2 === 0) continue;
        // It computes for the operation's time, as a real agent does, then answers.
        setTimeout(() => {
          half.socket.emit('results', [
            { taskId: t.taskId, attempt: t.attempt, value: execute(t.op, t.a, t.b) },
          ]);
        }, t.durationMs);
      }
    });
    let lowestWindow = Number.POSITIVE_INFINITY;
    const statuses = new Set<string>();
    const sampler = setInterval(() => {
      const view = orch?.scheduler.views.agentView('half-agent');
      if (!view) return;
      lowestWindow = Math.min(lowestWindow, view.window);
      statuses.add(view.status);
    }, 10);
    const sources = CASES.concat(['1+2+3+4+5+6+7+8']);
    const ids = await Promise.all(sources.map((s) => client.submit(s)));
    try {
      await waitFor(
        async () => {
          if (statuses.has('unresponsive')) return true;
          const views = await Promise.all(ids.map((id) => client.expression(id)));
          return views.every((v) => v.status !== 'in_progress' && v.status !== 'pending');
        },
        30_000,
        'the batch to finish (or the agent to be banned)',
      );
    } finally {
      clearInterval(sampler);
    }
    return { lowestWindow, statuses, ids, sources };
  }

  it('answering every other task with 2 slots: throttled (window 1 at times), never unresponsive, values exact', async () => {
    const run = await runHalfAnswering(2);
    expect([...run.statuses]).toEqual(['active']);
    expect(run.lowestWindow).toBeLessThan(2);
    await expectAllExact(run.ids, run.sources);
    const agent = await agentNamed('half-agent');
    expect(agent?.strikes).toBeGreaterThan(0);
    expect(agent?.status).toBe('active');
  });

  // The tasks it ignores pile up (every answer frees a slot that is refilled at once) and their
  // leases, sent milliseconds apart, expire at the same check: for an agent that has shown it
  // works, that is one loss event — one strike, one halving — not one strike per lease, so
  // the answers between checks keep forgiving it.
  // The same with 8 slots is a unit test now (unit/window-strikes.test.ts): the rule is the
  // window's and the actor's, which the 2-slot run above shows end to end.
});

describe('a silent course HTTP agent', () => {
  /** Pulls `GET /internal/task` as `X-Agent-Id: id` until the test ends. */
  function pull(
    id: string,
    onTask: (task: CourseTask, agent: CourseClient) => Promise<void> | void,
    onReply: (status: number, code: string | undefined) => void = () => {},
  ): void {
    const signal = stopLoops!.signal;
    const agent = new CourseClient(orch!.url, { agentId: id });
    loops.push(
      (async () => {
        try {
          while (!signal.aborted) {
            const res = await agent.pull().catch(() => null);
            if (!res) break;
            onReply(res.status, res.code);
            if (res.task) await onTask(res.task, agent);
            // Nothing for it: a course agent asks again after a short pause (its poll interval).
            else await sleep(20);
          }
        } finally {
          agent.close();
        }
      })(),
    );
  }

  it('becomes unresponsive after K expiries, gets 404 while cooling down; an honest puller finishes the work', async () => {
    // COURSE_TASK_ID stays `auto` (the default): the silent agent's first leases go out with
    // number ids, and their expiry is excused as an id-type mismatch (it then gets string ids),
    // so its strikes start with the string-id leases.
    await start(FAST);
    const sources = CASES.concat(['(9-1)*(8-2)*(7-3)', '1.25*(4+4)-(3/4)']);
    const ids = await Promise.all(sources.map((s) => client.submit(s)));

    const silentTasks: (number | string)[] = [];
    const silentReplies: { status: number; code: string | undefined }[] = [];
    pull(
      'silent-http',
      (task) => {
        silentTasks.push(task.id);
      },
      (status, code) => silentReplies.push({ status, code }),
    );
    const agent = await unresponsive('http-silent-http');
    expect(agent.kind).toBe('http');
    expect(agent.strikes).toBeGreaterThanOrEqual(K);
    expect(agent.reason).toContain('tasks in a row failed or expired');
    // Both id types were tried: the excused number-id leases, then the struck string-id ones.
    expect(silentTasks.some((id) => typeof id === 'number')).toBe(true);
    expect(silentTasks.some((id) => typeof id === 'string')).toBe(true);
    const leased = silentTasks.length;

    // Nothing finished yet: no one answered.
    for (const id of ids) expect((await client.expression(id)).status).not.toBe('error');

    pull('honest-http', async (task, agent) => {
      await agent.post(task.id, floatResult(task));
    });
    await expectAllExact(ids, sources);

    // While it cools down, the silent agent keeps asking and is told there is nothing for it.
    const repliesBefore = silentReplies.length;
    await waitFor(() => silentReplies.length >= repliesBefore + 3, 5000, 'more silent pulls');
    const late = silentReplies.slice(repliesBefore);
    expect(late.every((r) => r.status === 404 && r.code === 'TASK_NOT_FOUND')).toBe(true);
    expect(silentTasks.length).toBe(leased);
    expect((await agentNamed('http-silent-http'))?.status).toBe('unresponsive');
    const metrics = (await request(orch!.url, 'GET', '/metrics')).text;
    expect(sample(metrics, 'expressionist_agents_unresponsive', 'http')).toBe(1);
    expect(sample(metrics, 'expressionist_agent_strikes_total', 'http')).toBeGreaterThanOrEqual(K);
  });
});

describe('a frozen agent', () => {
  it('is lost by heartbeat (not struck unresponsive) and its work finishes elsewhere', async () => {
    // The default grace (3 s) keeps the lease longer than heartbeat detection (0.5 + 1 s), so
    // the heartbeat, not a lease expiry, is what notices.
    await start({
      ...FAST,
      LEASE_GRACE_MS: '3000',
      TIME_MULTIPLICATIONS_MS: '2000',
      HEARTBEAT_INTERVAL_MS: '500',
      HEARTBEAT_TIMEOUT_MS: '1000',
    });
    const frozen = await agentProcess('frozen-proc', 1);
    const id = await client.submit('8*9');
    await waitFor(
      () => (orch!.scheduler.views.agentView('frozen-proc')?.running.length ?? 0) > 0,
      10_000,
      'the frozen agent to run the task',
    );
    const rescuer = await manual('rescuer', 1);
    answerHonestly(rescuer);
    frozen.child.kill('SIGSTOP');
    const view = await client.finished(id, 15_000);
    expect(view.value).toBe('72');
    const lost = await waitFor(
      () => {
        const a = orch!.scheduler.views.agentView('frozen-proc');
        return a && a.status !== 'active' ? a : null;
      },
      5000,
      'the frozen agent to be gone',
    );
    expect(lost.status).toBe('lost');
    expect(lost.strikes).toBe(0);
    const [op] = await client.operations(id);
    expect(op).toMatchObject({ attempt: 2, agentId: 'rescuer' });
  });
});
