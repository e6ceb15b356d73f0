// Reconnect storms (issue 23, item 2): agents come back with full jitter, the orchestrator admits
// them at AGENT_ADMISSIONS_PER_SECOND and refuses the excess with AGENT_ADMISSION_BUSY (never
// fatal), an agent whose connection drops briefly keeps its tasks and delivers their results, and
// a SIGKILLed agent's work still moves on within the reconnect grace and a small margin.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  answerHonestly,
  api,
  breakableProxy,
  freePort,
  kill,
  manualAgent,
  spawnAgent,
  spawnOrchestrator,
  tempDir,
  waitFor,
  type AgentProcess,
  type ManualAgent,
  type OrchestratorProcess,
} from '@expressionist/testkit';
import { Agent } from '../src/agent.js';
import { captured } from './log-capture.js';
import { startTestOrchestrator } from '../../server/test/in-process.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const data = tempDir('expr-storm-');
afterAll(() => data.remove());

describe('reconnect storms', () => {
  it('(a) 40 agents back together after an orchestrator SIGKILL: all admitted at the bound, none given up, all working', async () => {
    const RATE = 10;
    const AGENTS = 40;
    const env = {
      PORT: String(await freePort()),
      DATA_DIR: data.dir,
      AGENT_ADMISSIONS_PER_SECOND: String(RATE),
      TIME_ADDITION_MS: '50',
    };
    const processes: OrchestratorProcess[] = [];
    cleanups.push(() => Promise.all(processes.map((p) => kill(p))).then(() => undefined));
    const first = await spawnOrchestrator({ env });
    processes.push(first);
    const agents = Array.from({ length: AGENTS }, (_, i) => {
      const { log, lines } = captured();
      const agent = new Agent({
        servers: [first.url],
        concurrency: 1,
        name: `storm-${i}`,
        id: `storm-${i}`,
        log,
      });
      return { agent, lines };
    });
    cleanups.push(() => agents.forEach(({ agent }) => agent.close()));
    let refusedForGood = 0;
    for (const { agent } of agents) {
      void agent.refused.then(() => (refusedForGood += 1));
      agent.start();
    }
    // The first 40 exceed the bound too: they are admitted over about 3 s, not refused for good.
    await waitFor(() => agents.every(({ agent }) => agent.connected), 30_000, 'all 40 connected');

    first.child.kill('SIGKILL');
    await first.exited;
    const second = await spawnOrchestrator({ env });
    processes.push(second);
    await waitFor(
      async () =>
        (await api(second.url).agents()).filter((a) => a.status === 'active').length === AGENTS,
      30_000,
      'all 40 agents active on the restarted orchestrator',
    );
    expect(refusedForGood).toBe(0);
    expect(agents.every(({ agent }) => agent.connected)).toBe(true);

    // The bound held: at most a burst (one second's worth) plus RATE joins in any second. The
    // API can list an agent before its "joined" log line has come through the child's stdout.
    const joinLines = (): string[] =>
      second
        .output()
        .split('\n')
        .filter((line) => line.includes('"msg":"agent joined"'));
    await waitFor(() => joinLines().length >= AGENTS, 10_000, 'every join logged');
    const joins = joinLines()
      .map((line) => (JSON.parse(line) as { time: number }).time)
      .sort((x, y) => x - y);
    expect(joins).toHaveLength(AGENTS);
    for (const [i, at] of joins.entries()) {
      const within = joins.slice(i).filter((t) => t < at + 1000).length;
      expect(within, `joins in the second after ${i}`).toBeLessThanOrEqual(2 * RATE);
    }
    expect(joins.at(-1)! - joins[0]!, 'spread of the 40 joins (ms)').toBeGreaterThanOrEqual(
      ((AGENTS - RATE) / RATE) * 1000 - 500,
    );
    // Some were told AGENT_ADMISSION_BUSY, backed off and came back.
    const busy = agents.flatMap(({ lines }) =>
      lines.filter((l) => l.code === 'AGENT_ADMISSION_BUSY'),
    );
    expect(busy.length).toBeGreaterThan(0);
    for (const line of busy) expect(line.retryInMs as number).toBeLessThanOrEqual(60_000);

    // And working: every agent computes part of a 400-term sum submitted after the restart.
    const client = api(second.url);
    const terms = Array.from({ length: 400 }, (_, i) => String(i + 1)).join('+');
    const id = await client.submit(terms);
    expect(await client.finished(id, 60_000)).toMatchObject({ status: 'done', value: '80200' });
    const views = await client.agents();
    const idle = views.filter((a) => a.completed === 0).map((a) => a.id);
    expect(idle, 'agents that computed nothing after the restart').toEqual([]);
  }, 120_000);

  it('(b) a network blip: the agent keeps its task, its result is accepted, nothing is requeued', async () => {
    const orch = await startTestOrchestrator({ TIME_ADDITION_MS: '1200' });
    cleanups.push(() => orch.close());
    const proxy = await breakableProxy(orch.port);
    cleanups.push(() => proxy.close());
    const { log, lines } = captured();
    const agent = new Agent({
      servers: [proxy.url],
      concurrency: 1,
      name: 'blip',
      id: 'blip',
      log,
    });
    cleanups.push(() => agent.close());
    agent.start();
    await waitFor(() => orch.scheduler.views.agentView('blip')?.status === 'active', 5000, 'blip');
    const client = api(orch.url);
    const id = await client.submit('2+3');
    // The agent runs it (not only the orchestrator leased it: a message still in flight when the
    // connection breaks is lost with it, and that lease ends by expiry).
    await waitFor(() => agent.running === 1, 5000, 'the agent to run the task');
    expect(proxy.cut()).toBe(1);
    // Within the grace the task is still the agent's (not requeued, not given to anyone else).
    await waitFor(
      () => lines.some((l) => l.msg === 'connected' && l.running === 1),
      1500,
      'the agent to reconnect with its task running',
    );
    expect(orch.scheduler.views.agentView('blip')).toMatchObject({
      status: 'active',
      runningCount: 1,
    });
    expect(await client.finished(id, 10_000)).toMatchObject({ status: 'done', value: '5' });
    const [op] = await client.operations(id);
    expect(op).toMatchObject({ agentId: 'blip', attempt: 1, reassigned: 0 });
    expect(lines.filter((l) => l.msg === 'disconnected')).toHaveLength(1);
  }, 30_000);

  it('(c) a SIGKILLed agent: its work moves to another agent within the grace and a small margin', async () => {
    const GRACE_MS = 1500;
    const orch = await startTestOrchestrator({
      TIME_ADDITION_MS: '3000',
      AGENT_RECONNECT_GRACE_MS: String(GRACE_MS),
    });
    cleanups.push(() => orch.close());
    const victim: AgentProcess = spawnAgent(orch.url, { id: 'victim', concurrency: 1 });
    cleanups.push(() => kill(victim));
    await waitFor(
      () => orch.scheduler.views.agentView('victim')?.status === 'active',
      10_000,
      'the victim to join',
    );
    const client = api(orch.url);
    const id = await client.submit('2+3');
    await waitFor(
      () => orch.scheduler.views.agentView('victim')?.runningCount === 1,
      5000,
      'the victim to hold the task',
    );
    const heir: ManualAgent = await manualAgent(orch.url, 'heir', 1);
    cleanups.push(() => void heir.socket.close());
    const killedAt = performance.now();
    await kill(victim);
    const task = await waitFor(() => heir.tasks[0], GRACE_MS + 5000, 'the heir to get the task');
    const movedAfterMs = performance.now() - killedAt;
    console.log(`a SIGKILLed agent's task moved after ${Math.round(movedAfterMs)} ms`);
    // The grace is what a dead agent's work pays, and not much more.
    expect(movedAfterMs).toBeGreaterThanOrEqual(GRACE_MS - 100);
    expect(movedAfterMs).toBeLessThanOrEqual(GRACE_MS + 2000);
    expect(task.attempt).toBe(2);
    answerHonestly(heir);
    expect(await client.finished(id, 10_000)).toMatchObject({ status: 'done', value: '5' });
    expect(orch.scheduler.views.agentView('victim')?.status).toBe('lost');
  }, 30_000);
});
