// The orchestrator's own stall is never charged to its agents: a real orchestrator process is
// SIGSTOPped for 2× the heartbeat timeout while real agent processes hold leases; on SIGCONT no
// agent was dropped, nothing was requeued, and every expression ends exact. And a frozen AGENT is
// still reassigned within 5 s with the default heartbeat settings.
import { afterEach, describe, expect, it } from 'vitest';
import {
  api,
  killAll,
  metricValue,
  sleep,
  spawnAgent,
  spawnOrchestrator,
  waitFor,
  type AgentProcess,
  type OrchestratorProcess,
} from '@expressionist/testkit';

/** The default of HEARTBEAT_TIMEOUT_MS (server/src/config.ts). */
const HEARTBEAT_TIMEOUT_MS = 2000;

const children: (AgentProcess | OrchestratorProcess)[] = [];
afterEach(async () => {
  await killAll(children.splice(0));
});

async function start(env: Record<string, string>): Promise<OrchestratorProcess> {
  const orch = await spawnOrchestrator({ env });
  children.push(orch);
  return orch;
}

function agent(url: string, id: string, concurrency: number): AgentProcess {
  const proc = spawnAgent(url, { id, concurrency });
  children.push(proc);
  return proc;
}

describe('an orchestrator stalled for 2× the heartbeat timeout (SIGSTOP, then SIGCONT)', () => {
  it('drops no agent, requeues nothing, and every expression ends exact', async () => {
    // Each operation takes 2.5 s and its lease 2.5 + 1 s: every lease in flight when the
    // orchestrator stops passes its deadline by the wall clock during the 4-s stall, and every
    // agent's pong is due during it too.
    const orch = await start({
      TIME_ADDITION_MS: '2500',
      TIME_MULTIPLICATIONS_MS: '2500',
      LEASE_GRACE_MS: '1000',
    });
    const client = api(orch.url);
    const ids = ['a', 'b', 'c', 'd'].map((id) => `stall-${id}`);
    for (const id of ids) agent(orch.url, id, 2);
    await client.waitForAgents(ids.length, 2 * ids.length);
    const cases: [string, string][] = [
      ['(1+2)*(3+4)', '21'],
      ['(5*6)+(7*8)', '86'],
      ['(9+1)*(2+2)', '40'],
      ['(2*3)*(4*5)', '120'],
    ];
    const submitted = await Promise.all(cases.map(([text]) => client.submit(text)));
    // Every agent holds a lease of a long operation before the orchestrator stops.
    const before = await waitFor(
      async () => {
        const agents = await client.agents();
        return agents.length === ids.length && agents.every((a) => a.runningCount > 0)
          ? agents
          : null;
      },
      10_000,
      'every agent to hold a lease',
    );
    orch.child.kill('SIGSTOP');
    // The stall under test: its length is the point, not a wait for something to happen.
    await sleep(2 * HEARTBEAT_TIMEOUT_MS);
    orch.child.kill('SIGCONT');

    for (const [k, id] of submitted.entries()) {
      const view = await client.finished(id, 30_000);
      expect(view.status).toBe('done');
      expect(view.value).toBe(cases[k]![1]);
    }
    const after = await client.agents();
    for (const was of before) {
      const now = after.find((a) => a.id === was.id);
      // Still the same connection: never lost, never reconnected.
      expect(now).toMatchObject({ status: 'active', connectedAt: was.connectedAt, strikes: 0 });
    }
    const metric = (name: string): Promise<number> => metricValue(orch.url, name);
    expect(await metric('expressionist_agents_lost_total')).toBe(0);
    expect(await metric('expressionist_operations_requeued_total')).toBe(0);
    expect(await metric('expressionist_leases_expired_total')).toBe(0);
    expect(await metric('expressionist_event_loop_stalls_total')).toBeGreaterThanOrEqual(1);
    expect(await metric('expressionist_event_loop_longest_stall_seconds')).toBeGreaterThan(
      (2 * HEARTBEAT_TIMEOUT_MS) / 1000 - 0.5,
    );
    expect(orch.output()).toMatch(/event loop stalled \d+\.\d s; no agent was judged during it/);
  }, 60_000);
});

describe('a frozen agent (SIGSTOP) under the default heartbeat settings', () => {
  it('is lost and its operation reassigned within 5 s', async () => {
    const orch = await start({ TIME_MULTIPLICATIONS_MS: '20000' });
    const client = api(orch.url);
    const frozen = agent(orch.url, 'frozen', 1);
    await client.waitForAgents(1, 1);
    const id = await client.submit('6*7');
    await waitFor(
      async () => (await client.operations(id))[0]?.state === 'running',
      10_000,
      'the operation to run on the agent that will freeze',
    );
    agent(orch.url, 'rescuer', 1);
    await client.waitForAgents(2, 2);
    frozen.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    await waitFor(
      async () => {
        const [op] = await client.operations(id);
        return op?.attempt === 2 && op.agentId === 'rescuer';
      },
      10_000,
      'the operation reassigned to the rescuer',
      20,
    );
    const reassignedMs = Date.now() - frozenAt;
    // Detected by the heartbeat (interval + timeout, 3 s), long before its 20-s lease would
    // expire; 5 s is the promise, the rest is room for a loaded machine.
    expect(reassignedMs).toBeLessThanOrEqual(5000);
    expect((await client.agents()).find((a) => a.id === 'frozen')?.status).toBe('lost');
    expect(await metricValue(orch.url, 'expressionist_leases_expired_total')).toBe(0);
    frozen.child.kill('SIGCONT');
  }, 60_000);
});
