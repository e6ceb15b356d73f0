// What a breaking connection loses (issue 23, after the reconnect grace): a `tasks` message, a
// result, a revoke in flight when the connection breaks. The agent comes back within the grace
// saying what it holds, the orchestrator sends again exactly what it lacks and revokes what it
// holds for nothing: the work finishes on its first attempt, no strike, nothing requeued.
import { afterEach, describe, expect, it } from 'vitest';
import { api, breakableProxy, metricValue, waitFor } from '@expressionist/testkit';
import { Agent } from '../src/agent.js';
import { captured } from './log-capture.js';
import { startTestOrchestrator, type TestOrchestrator } from '../../server/test/in-process.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * An orchestrator (its leases 10 s past an operation's time, its heartbeat patient: nothing here
 * may end by expiry or a ping timeout) and an agent `id` reaching it through a breakable proxy.
 */
async function setUp(id: string, concurrency: number, additionMs: number) {
  const orch = await startTestOrchestrator({
    TIME_ADDITION_MS: String(additionMs),
    LEASE_GRACE_MS: '10000',
    HEARTBEAT_TIMEOUT_MS: '10000',
  });
  cleanups.push(() => orch.close());
  const proxy = await breakableProxy(orch.port);
  cleanups.push(() => proxy.close());
  const { log, lines } = captured();
  const agent = new Agent({ servers: [proxy.url], concurrency, name: id, id, log });
  cleanups.push(() => agent.close());
  agent.start();
  await waitFor(() => orch.scheduler.views.agentView(id)?.status === 'active', 5000, id);
  const reconnected = () =>
    waitFor(
      () => lines.filter((l) => l.msg === 'connected').length === 2,
      5000,
      'the agent to reconnect',
    );
  return { orch, proxy, agent, reconnected, client: api(orch.url) };
}

/** Nothing was taken back from the agent: no strike, no requeue, every operation on attempt 1. */
async function nothingTakenBack(orch: TestOrchestrator, id: string, ids: string[]): Promise<void> {
  expect(orch.scheduler.views.agentView(id)).toMatchObject({ status: 'active', strikes: 0 });
  expect(await metricValue(orch.url, 'expressionist_operations_requeued_total')).toBe(0);
  for (const expressionId of ids)
    for (const op of await api(orch.url).operations(expressionId))
      expect(op).toMatchObject({ agentId: id, attempt: 1, reassigned: 0 });
}

describe('reconciling a reconnection within the grace', () => {
  it('(a) a tasks message lost with the connection is sent again; the task the agent runs is not', async () => {
    const { orch, proxy, agent, reconnected, client } = await setUp('lost-tasks', 2, 3000);
    const first = await client.submit('1+2');
    await waitFor(() => agent.running === 1, 5000, 'the agent to run the first task');
    // From here the orchestrator's messages are lost on the way: it leases the second task to
    // the agent, which never gets it.
    proxy.lose('down');
    const second = await client.submit('3+4');
    await waitFor(
      () => orch.scheduler.views.agentView('lost-tasks')?.runningCount === 2,
      5000,
      'the second lease',
    );
    expect(agent.running).toBe(1);
    expect(proxy.cut()).toBe(1);
    await reconnected();
    // Sent again: only the one it lacked (the running one goes on, not restarted).
    await waitFor(() => agent.running === 2, 5000, 'the lost task to arrive');
    expect(await metricValue(orch.url, 'expressionist_tasks_resent_total')).toBe(1);
    // Well before a lease (3 s + 10 s) could expire.
    expect(await client.finished(first, 5000)).toMatchObject({ status: 'done', value: '3' });
    expect(await client.finished(second, 5000)).toMatchObject({ status: 'done', value: '7' });
    await nothingTakenBack(orch, 'lost-tasks', [first, second]);
  }, 30_000);

  it('(b) a result lost with the connection: the task is sent again and answered at once', async () => {
    const { orch, proxy, agent, reconnected, client } = await setUp('lost-result', 1, 2000);
    const id = await client.submit('2+3');
    await waitFor(() => agent.running === 1, 5000, 'the agent to run the task');
    // From here what the agent sends is lost on the way: its result too.
    proxy.lose('up');
    await waitFor(() => agent.running === 0, 5000, 'the agent to finish');
    // A results message (a WebSocket frame of ~90 bytes), not a 7-byte pong, was dropped.
    await waitFor(() => proxy.lost('up') >= 50, 5000, 'the result to be lost');
    expect(orch.scheduler.views.agentView('lost-result')?.runningCount).toBe(1);
    expect(proxy.cut()).toBe(1);
    await reconnected();
    expect(await client.finished(id, 5000)).toMatchObject({ status: 'done', value: '5' });
    expect(await metricValue(orch.url, 'expressionist_tasks_resent_total')).toBe(1);
    // Answered from the result it remembered, not computed again.
    expect(agent.completed).toBe(1);
    await nothingTakenBack(orch, 'lost-result', [id]);
  }, 30_000);

  it('(c) a revoke lost with the connection: the task the agent holds for nothing is revoked', async () => {
    const { orch, proxy, agent, reconnected, client } = await setUp('lost-revoke', 1, 60_000);
    const id = await client.submit('2+3');
    await waitFor(() => agent.running === 1, 5000, 'the agent to run the task');
    proxy.lose('down');
    await client.cancel(id);
    await waitFor(
      () => orch.scheduler.views.agentView('lost-revoke')?.runningCount === 0,
      5000,
      'the lease to end',
    );
    expect(agent.running).toBe(1);
    expect(proxy.cut()).toBe(1);
    await reconnected();
    // Its slot is free again long before the minute the task would have held it.
    await waitFor(() => agent.running === 0, 5000, 'the task to be revoked');
    expect(orch.scheduler.views.agentView('lost-revoke')).toMatchObject({
      status: 'active',
      strikes: 0,
    });
  }, 30_000);
});
