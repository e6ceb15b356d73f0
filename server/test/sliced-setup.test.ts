/**
 * Big runs are set up a slice per event-loop turn (Scheduler `setupSliceOps`): planned on a
 * worker (PLAN_WORKER_THRESHOLD low), indexed from the packed plan, readied in slices. Slices of
 * a few ops make every expression here take thousands of turns, so the checks below land in the
 * middle of a setup; they check results and states, never times.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compile, evaluatePlan } from '@expressionist/core';
import {
  answerHonestly,
  api,
  manualAgent,
  waitFor,
  type ManualAgent,
} from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

const LIMITS = { maxLength: 1_000_000, maxDepth: 1000 };
let orch: TestOrchestrator;
let client: ReturnType<typeof api>;
const agents: ManualAgent[] = [];

beforeAll(async () => {
  orch = await startTestOrchestrator({ PLAN_WORKER_THRESHOLD: '200' }, { setupSliceOps: 7 });
  client = api(orch.url);
});
afterEach(() => {
  for (const agent of agents.splice(0)) agent.socket.close();
});
afterAll(async () => orch.close());

/** `terms` terms of all four operators, exact in decimals (divisors 2, 4, 5), some nested. */
function mixed(terms: number): string {
  const parts: string[] = [];
  for (let i = 0; i < terms; i += 1) {
    const term = `${(i % 9) + 1}*${(i % 5) + 2}-${i % 3}.5/${[2, 4, 5][i % 3]}`;
    parts.push(i % 4 === 0 ? `(${term}-(${i}+1))` : term);
  }
  return parts.join('+');
}

const turns = async (count: number): Promise<void> => {
  for (let i = 0; i < count; i += 1) await new Promise((resolve) => setImmediate(resolve));
};

async function honestAgent(id: string, concurrency: number): Promise<void> {
  const agent = await manualAgent(orch.url, id, concurrency);
  agents.push(agent);
  answerHonestly(agent);
}

describe('a run set up in slices', () => {
  it('computes a big expression exactly, its views consistent throughout', async () => {
    const expression = mixed(400);
    const { plan } = compile(expression, LIMITS);
    expect(plan.ops.length).toBeGreaterThan(1500);
    const expected = evaluatePlan(plan);
    await honestAgent('sliced-a', 8);
    await honestAgent('sliced-b', 8);
    const { created, id } = await orch.scheduler.submit(expression);
    expect(created).toBe(true);
    // Stored before the answer, whatever the setup has done so far.
    expect((await orch.store.getExpression(id))?.opCount).toBe(plan.ops.length);
    for (let seen = 0; ; seen += 1) {
      const view = orch.scheduler.views.liveView(id);
      expect(view).not.toBeNull();
      expect(view!.progress.total).toBe(plan.ops.length);
      expect(view!.progress.done).toBeGreaterThanOrEqual(0);
      expect(view!.progress.done).toBeLessThanOrEqual(plan.ops.length);
      if (view!.status === 'done') break;
      expect(['pending', 'in_progress']).toContain(view!.status);
      expect(seen).toBeLessThan(20_000);
      await turns(25);
    }
    const done = await client.finished(id);
    expect(done.value).toBe(expected);
    expect(done.progress).toEqual({ done: plan.ops.length, total: plan.ops.length });
    const operations = await client.operations(id);
    expect(operations.filter((op) => op.state !== 'done')).toEqual([]);
  });

  it('fails on a zero divisor found while readying', async () => {
    // (2-2) is no literal zero: the division fails once 2-2 is computed and the `/` is readied.
    const expression = `${mixed(100)}+7/(2-2)`;
    const column = expression.lastIndexOf('/');
    await honestAgent('sliced-zero', 8);
    const { id } = await orch.scheduler.submit(expression);
    const view = await client.finished(id);
    expect(view.status).toBe('error');
    expect(view.error).toMatchObject({ code: 'EXPR_DIV_ZERO', position: column });
  });

  it('is cancelled in the middle of its setup, and nothing of it runs', async () => {
    const expression = mixed(300);
    const total = compile(expression, LIMITS).plan.ops.length;
    const { id } = await orch.scheduler.submit(expression);
    await turns(40); // a few slices into the setup: 40 turns of 7 ops
    const midway = orch.scheduler.views.liveView(id)!;
    expect(midway).toMatchObject({
      status: 'pending',
      progress: { done: 0, total },
      waiting: null,
    });
    const waiting = (await orch.scheduler.views.operationsPage(id, 0, 2000))?.operations;
    expect(waiting?.every((op) => op.state === 'waiting')).toBe(true);
    const canceled = await orch.scheduler.cancel(id);
    expect(canceled.status).toBe('canceled');
    // An agent that joins now gets nothing of it: the setup stopped, nothing was readied.
    const agent = await manualAgent(orch.url, 'sliced-late', 4);
    agents.push(agent);
    await turns(4 * total);
    expect(agent.tasks).toEqual([]);
    expect(orch.scheduler.stats().readyQueue).toBe(0);
    const ops = await client.operations(id);
    expect(ops).toHaveLength(total);
    expect(ops.filter((op) => op.state !== 'canceled')).toEqual([]);
    await waitFor(
      async () => (await orch.store.getExpression(id))?.status === 'canceled',
      10_000,
      'the cancel stored',
    );
  });

  it('keeps the synchronous path for runs within one slice', async () => {
    await honestAgent('sliced-small', 2);
    const { id } = await orch.scheduler.submit('2*3+4*5');
    // Readied in submit itself: its first ops are queued (or already leased) at once.
    const view = orch.scheduler.views.liveView(id);
    expect(view?.status).toBe('pending');
    expect(orch.scheduler.stats().readyQueue).toBeGreaterThan(0);
    expect((await client.finished(id)).value).toBe('26');
  });
});
