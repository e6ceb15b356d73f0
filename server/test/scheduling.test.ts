import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compile, evaluatePlan, makespanLowerBound } from '@expressionist/core';
import {
  answerHonestly,
  api,
  CourseClient,
  killAll,
  manualAgent,
  metricValue,
  spawnAgent,
  waitFor,
  type AgentProcess,
} from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

let orch: TestOrchestrator;
let client: ReturnType<typeof api>;
const processes: AgentProcess[] = [];
const sockets: { socket: { close(): unknown } }[] = [];
/** A hand-driven agent closed after the test whatever happens. */
async function manual(
  id: string,
  concurrency = 1,
): Promise<Awaited<ReturnType<typeof manualAgent>>> {
  const agent = await manualAgent(orch.url, id, concurrency);
  sockets.push(agent);
  return agent;
}

beforeAll(async () => {
  orch = await startTestOrchestrator({
    LEASE_GRACE_MS: '1500',
    HEARTBEAT_INTERVAL_MS: '500',
    HEARTBEAT_TIMEOUT_MS: '1000',
  });
  client = api(orch.url);
});
afterEach(async () => {
  await killAll(processes.splice(0));
  for (const s of sockets.splice(0)) s.socket.close();
  await client.settings({ additionMs: 0, subtractionMs: 0, multiplicationMs: 0, divisionMs: 0 });
  await waitFor(
    () =>
      orch.scheduler.views.agentViews().every((a) => a.kind === 'http' || a.status !== 'active'),
    10_000,
    'agents gone',
  );
});
afterAll(async () => orch.close());

async function agents(count: number, concurrency: number): Promise<void> {
  const before = orch.scheduler.views.agentViews().filter((a) => a.status === 'active').length;
  for (let i = 0; i < count; i += 1)
    processes.push(spawnAgent(orch.url, { concurrency, name: `t-${i}` }));
  await waitFor(
    () =>
      orch.scheduler.views.agentViews().filter((a) => a.status === 'active').length ===
      before + count,
    15_000,
    'agents to join',
  );
}

describe('with real agent processes', () => {
  it('computes a batch of expressions exactly', async () => {
    await agents(2, 4);
    const cases = [
      '0.1+0.2',
      '(2+3)*(4-1)/7',
      '100000000000000000000 + 1',
      '0.000001 * 0.000001',
      '2--3',
      '-(2+3)*2',
      '1/3*3',
      '((1+2)+(3+4))*((5-6)-(7/8))',
      '1-2-3-4-5-6-7-8',
    ];
    const ids = await Promise.all(cases.map((c) => client.submit(c)));
    for (const [i, id] of ids.entries()) {
      const view = await client.finished(id);
      expect(view.status, cases[i]).toBe('done');
      expect(view.value, cases[i]).toBe(evaluatePlan(compile(cases[i]!).plan));
      expect(view.progress.done).toBe(view.progress.total);
    }
    const first = await client.expression(ids[0]!);
    expect(first.value).toBe('0.3');
    expect((await client.expression(ids[2]!)).value).toBe('100000000000000000001');
  });

  it('answers a repeated expression from the cache', async () => {
    await agents(1, 2);
    const id = await client.submit('(9+9)*(8+8)');
    expect((await client.finished(id)).cached).toBe(false);
    const again = await client.submit('(9 + 9) * (8 + 8)');
    const view = await client.expression(again);
    expect(view).toMatchObject({ status: 'done', cached: true, value: '288' });
  });

  it('runs independent operations in parallel up to the slot count', async () => {
    await agents(2, 4);
    // Slow start: a new agent earns its slots with accepted results (two at first, +1 each), so
    // the agents prove themselves on instant work before the measured expression.
    while (
      !orch.scheduler.views.agentViews().every((a) => a.status !== 'active' || a.window === 4)
    ) {
      await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          client.submit(`${i}+1+2+3+4+5+6+7+8`).then((id) => client.finished(id)),
        ),
      );
    }
    await client.settings({ additionMs: 300 });
    const source = Array.from({ length: 16 }, (_, i) => String(i + 1)).join('+');
    const plan = compile(source).plan;
    expect(plan.criticalPathOps).toBe(4);
    const id = await client.submit(source);
    let maxRunning = 0;
    const sampler = setInterval(() => {
      maxRunning = Math.max(maxRunning, orch.scheduler.stats().running);
    }, 20);
    const view = await client.finished(id);
    clearInterval(sampler);
    expect(view.value).toBe('136');
    // The first level has 8 independent additions and 8 slots exist: all run at once.
    expect(maxRunning).toBe(8);
    const started = Date.parse(view.startedAt!);
    const finished = Date.parse(view.finishedAt!);
    const bound = makespanLowerBound(
      plan,
      { additionMs: 300, subtractionMs: 0, multiplicationMs: 0, divisionMs: 0 },
      8,
    );
    expect(finished - started).toBeGreaterThanOrEqual(bound - 50);
  });

  it('does not let a huge expression starve a small one', async () => {
    await client.settings({ additionMs: 20 });
    await agents(1, 2);
    const huge = await client.submit(Array.from({ length: 2000 }, () => '1').join('+'));
    await waitFor(
      async () => (await client.expression(huge)).status === 'in_progress',
      10_000,
      'huge started',
    );
    const small = await client.submit('2+3+4');
    const smallView = await client.finished(small, 20_000);
    const hugeView = await client.expression(huge);
    expect(smallView.value).toBe('9');
    expect(hugeView.status).toBe('in_progress');
    expect(hugeView.progress.done).toBeLessThan(hugeView.progress.total / 2);
    await client.call('POST', `/api/v1/expressions/${huge}/cancel`);
  });

  it('fails a runtime division by zero with the column of its divisor', async () => {
    await agents(1, 2);
    const id = await client.submit('10 / (3 - 3) + 1');
    const view = await client.finished(id);
    expect(view.status).toBe('error');
    expect(view.error).toMatchObject({ code: 'EXPR_DIV_ZERO', position: 3 });
    // Regrouped: 8/(4/(2-2)) runs as (8*(2-2))/4 — the zero is still caught, at the inner '/'.
    const nested = await client.finished(await client.submit('8/(4/(2-2))'));
    expect(nested.error).toMatchObject({ code: 'EXPR_DIV_ZERO', position: 4 });
  });

  it('fails an over-large result at once, on the first attempt, with the column of its operator', async () => {
    await agents(1, 1);
    // 60,000 digits times 60,000 digits needs 120,000 > MAX_RESULT_DIGITS: no retry can help.
    const nines = '9'.repeat(60_000);
    const id = await client.submit(`${nines} * ${nines}`);
    const view = await client.finished(id);
    expect(view.status).toBe('error');
    expect(view.error?.code).toBe('EXPR_RESULT_TOO_LARGE');
    expect(view.error?.position).toBe(60_001);
    expect(view.error?.message).toContain('column 60002');
    const [op] = await client.operations(id);
    expect(op?.attempt).toBe(1);
    expect(op?.reassigned).toBe(0);
    // Cached like a division by zero: the repeat is answered without any agent.
    const again = await client.finished(await client.submit(`${nines} * ${nines}`));
    expect(again.cached).toBe(true);
    expect(again.error?.code).toBe('EXPR_RESULT_TOO_LARGE');
  });

  it('requeues after the reconnect grace when an agent is SIGKILLed mid-operation', async () => {
    await client.settings({ multiplicationMs: 3000 });
    await agents(1, 1);
    const id = await client.submit('6*7');
    const victim = await waitFor(
      () => orch.scheduler.views.agentViews().find((a) => a.running.length > 0),
      10_000,
      'task running',
    );
    const proc = processes.find((p) => p.output().includes(victim.id)) ?? processes[0]!;
    await agents(1, 1);
    // Failover time is measured by bench/src/failover.ts; here: it happens, and the value is right.
    proc.child.kill('SIGKILL');
    const rerun = await waitFor(
      async () => {
        const ops = await client.operations(id);
        return ops[0]!.attempt === 2 && ops[0]!.state === 'running' ? ops[0] : null;
      },
      10_000,
      'reassignment',
    );
    expect(rerun.reassigned).toBe(1);
    const view = await client.finished(id);
    expect(view.value).toBe('42');
    expect(orch.scheduler.views.agentView(victim.id)?.status).toBe('lost');
  });

  it('detects a frozen (SIGSTOPped) agent by heartbeat and requeues its work', async () => {
    await client.settings({ multiplicationMs: 2000 });
    await agents(1, 1);
    const id = await client.submit('8*9');
    const victim = await waitFor(
      () => orch.scheduler.views.agentViews().find((a) => a.running.length > 0),
      10_000,
      'task running',
    );
    const proc = processes[0]!;
    await agents(1, 1);
    proc.child.kill('SIGSTOP');
    await waitFor(
      () => orch.scheduler.views.agentView(victim.id)?.status === 'lost',
      10_000,
      'frozen agent detected',
    );
    const view = await client.finished(id);
    expect(view.value).toBe('72');
    proc.child.kill('SIGCONT');
    const ops = await client.operations(id);
    expect(ops[0]!.attempt).toBe(2);
  });
});

describe('fencing, verification and leases (hand-driven agents)', () => {
  it('ignores a late result of an attempt whose lease expired; records the op once', async () => {
    await client.settings({ additionMs: 100 });
    const slow = await manual('slow-agent');
    const id = await client.submit('20+22');
    await waitFor(() => slow.tasks.length === 1, 5000, 'task to slow agent');
    const first = slow.tasks[0]!;
    expect(first.attempt).toBe(1);
    const fast = await manual('fast-agent');
    // The slow agent never answers in time: the lease (100 ms + 1.5 s grace) expires.
    await waitFor(() => fast.tasks.length === 1, 6000, 'reassignment after lease expiry');
    const second = fast.tasks[0]!;
    expect(second).toMatchObject({ taskId: first.taskId, attempt: 2 });
    const stale = () =>
      metricValue(orch.url, 'expressionist_operations_rejected_total', { reason: 'stale' });
    const staleBefore = await stale();
    slow.socket.emit('results', [{ taskId: first.taskId, attempt: 1, value: '42' }]);
    // The scheduler's own fencing refuses it (counted as stale); the expression goes on.
    await waitFor(async () => (await stale()) === staleBefore + 1, 5000, 'the late result refused');
    expect((await client.expression(id)).status).not.toBe('done');
    fast.socket.emit('results', [{ taskId: second.taskId, attempt: 2, value: '42' }]);
    const view = await client.finished(id);
    expect(view.value).toBe('42');
    const ops = await client.operations(id);
    expect(ops[0]).toMatchObject({ attempt: 2, agentId: 'fast-agent', reassigned: 1 });
    const stored = await orch.store.getOpResults(id);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ agentId: 'fast-agent', attempt: 2 });
    // A duplicate of the accepted result is refused by the scheduler itself (stale: its lease is
    // gone), before the store's unique key would have to.
    fast.socket.emit('results', [{ taskId: second.taskId, attempt: 2, value: '42' }]);
    await waitFor(async () => (await stale()) === staleBefore + 2, 5000, 'the duplicate refused');
    expect(await orch.store.getOpResults(id)).toHaveLength(1);
    slow.socket.close();
    fast.socket.close();
  });

  it('quarantines an agent that returns a wrong value; the answer stays right', async () => {
    const liar = await manual('liar-agent', 2);
    const id = await client.submit('(3+4)*(5+6)');
    await waitFor(() => liar.tasks.length === 2, 5000, 'tasks to liar');
    liar.socket.emit('results', [{ taskId: liar.tasks[0]!.taskId, attempt: 1, value: '999' }]);
    await waitFor(() => liar.quarantined.length === 1, 5000, 'quarantine message');
    expect(orch.scheduler.views.agentView('liar-agent')?.status).toBe('quarantined');
    // It cannot come back under the same id.
    const again = await manual('liar-agent').catch(() => null);
    if (again) await waitFor(() => again.quarantined.length === 1, 5000, 'rejected reconnect');
    await agents(1, 2);
    const view = await client.finished(id);
    expect(view.value).toBe('77');
    expect(
      orch.store && (await orch.store.getOpResults(id)).every((r) => r.agentId !== 'liar-agent'),
    ).toBe(true);
    liar.socket.close();
    again?.socket.close();
  });

  it('an agent that reports errors cannot fail an expression: it is struck, the op goes elsewhere', async () => {
    // Before issue 19 the agent's error reports used up the operation's attempts and the
    // expression ended EXPR_OP_FAILED with the agent's message in it.
    const breaker = await manual('error-agent', 1);
    let reports = 0;
    breaker.socket.on('tasks', (tasks) => {
      reports += tasks.length;
      breaker.socket.emit(
        'results',
        tasks.map((t) => ({
          taskId: t.taskId,
          attempt: t.attempt,
          error: { code: 'INTERNAL', message: 'boom' },
        })),
      );
    });
    const id = await client.submit('1+1');
    // Alone, it gets the retries (nobody else could take them) until its strikes cool it down.
    await waitFor(
      () => orch.scheduler.views.agentView('error-agent')?.status === 'unresponsive',
      10_000,
      'the error-reporting agent to be unresponsive',
    );
    expect(reports).toBeGreaterThanOrEqual(1);
    const waiting = await client.expression(id);
    expect(waiting.status).not.toBe('error');
    const honest = await manual('after-errors', 1);
    answerHonestly(honest);
    const view = await client.finished(id);
    expect(view.status).toBe('done');
    expect(view.value).toBe('2');
    breaker.socket.close();
    honest.socket.close();
  });
});

describe('course HTTP agent protocol', () => {
  const courses: CourseClient[] = [];
  const course = (agentId?: string): CourseClient => {
    const c = new CourseClient(orch.url, agentId === undefined ? {} : { agentId });
    courses.push(c);
    return c;
  };
  afterEach(() => {
    for (const c of courses.splice(0)) c.close();
  });

  it('serves tasks as JSON numbers and accepts float64 results', async () => {
    const guest = course();
    expect(await guest.pull()).toEqual({ status: 404, code: 'TASK_NOT_FOUND' });
    const id = await client.submit('0.1 + 0.7');
    const got = await guest.pull();
    expect(got.status).toBe(200);
    const task = got.task!;
    expect(task).toMatchObject({ arg1: 0.1, arg2: 0.7, operation: '+', operation_time: 0 });
    expect(typeof task.id).toBe('number');
    expect((await guest.postBody({ id: task.id })).status).toBe(422);
    expect((await guest.post(999999, 1)).status).toBe(404);
    // float64 gives 0.7999999999999999: within rounding of the exact 0.8, recorded exactly.
    expect(await guest.post(String(task.id), 0.1 + 0.7)).toEqual({ status: 200 });
    const view = await client.finished(id);
    expect(view.value).toBe('0.8');
    expect((await guest.post(task.id, 0.8)).status).toBe(404);
    const agentsList = (await client.call('GET', '/api/v1/agents')).body.agents as {
      kind: string;
      completed: number;
    }[];
    expect(agentsList.find((a) => a.kind === 'http')?.completed).toBe(1);
  });

  it('quarantines an HTTP agent that posts a wrong result', async () => {
    const id = await client.submit('2*21');
    const liar = course('go-liar');
    const got = await liar.nextTask();
    expect(await liar.post(got.id, 41)).toEqual({ status: 422, code: 'TASK_RESULT_WRONG' });
    // A quarantined agent is refused work with its own code, not a result error.
    expect(await liar.pull()).toEqual({ status: 403, code: 'AGENT_QUARANTINED' });
    const honest = course();
    const task = await honest.nextTask();
    expect(await honest.post(task.id, 42)).toEqual({ status: 200 });
    expect((await client.finished(id)).value).toBe('42');
  });
});
