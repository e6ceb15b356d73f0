import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { AGENT_PROTOCOL } from '@expressionist/core';
import { answerHonestly, api, manualAgent, waitFor } from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

let orch: TestOrchestrator;
let client: ReturnType<typeof api>;

beforeAll(async () => {
  orch = await startTestOrchestrator({ BODY_LIMIT_BYTES: '4096' });
  client = api(orch.url);
});
afterAll(async () => orch.close());

describe('POST /api/v1/calculate', () => {
  it('accepts an expression with 201 and an id', async () => {
    const res = await client.call('POST', '/api/v1/calculate', { expression: '2+2*2' });
    expect(res.status).toBe(201);
    expect(typeof res.body.id).toBe('string');
    const id = res.body.id as string;
    const view = await client.expression(id);
    expect(view.expression).toBe('2+2*2');
    // No agent is connected: it is pending because nobody can take its work, and says so.
    expect(view).toMatchObject({ status: 'pending', waiting: 'no_agent' });
    expect(view.progress).toEqual({ done: 0, total: 2 });
    // An agent joins: the same expression starts and ends with its exact value.
    const agent = await manualAgent(orch.url, 'first-agent', 1);
    answerHonestly(agent);
    expect(await client.finished(id)).toMatchObject({ status: 'done', value: '6' });
    agent.socket.close();
    await waitFor(
      () => orch.scheduler.views.agentView('first-agent')?.status === 'lost',
      5000,
      'the agent to leave',
    );
  });

  it('answers a parse error with 422, the code and the column', async () => {
    const res = await client.call('POST', '/api/v1/calculate', { expression: '2 * (3 + )' });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'EXPR_UNEXPECTED_TOKEN', position: 9 });
  });

  it('rejects malformed JSON and wrong types with 400', async () => {
    const bad = await client.call('POST', '/api/v1/calculate', undefined, '{"expression": ');
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe('BODY_INVALID');
    const wrongType = await client.call('POST', '/api/v1/calculate', { expression: 42 });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error).toMatchObject({ code: 'BODY_INVALID', field: 'expression' });
    const missing = await client.call('POST', '/api/v1/calculate', {});
    expect(missing.status).toBe(400);
  });

  it('rejects a body over the limit with 413', async () => {
    const res = await client.call('POST', '/api/v1/calculate', {
      expression: '1+'.repeat(4000) + '1',
    });
    expect(res.status).toBe(413);
    expect(res.body.error?.code).toBe('BODY_TOO_LARGE');
  });

  it('is idempotent with a client-supplied id', async () => {
    const first = await client.call('POST', '/api/v1/calculate', {
      expression: '7*6',
      id: 'client-key-1',
    });
    expect(first.status).toBe(201);
    expect(first.body.id).toBe('client-key-1');
    const again = await client.call('POST', '/api/v1/calculate', {
      expression: '7*6',
      id: 'client-key-1',
    });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe('client-key-1');
    const conflict = await client.call('POST', '/api/v1/calculate', {
      expression: '7*7',
      id: 'client-key-1',
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error?.code).toBe('IDEMPOTENCY_CONFLICT');
    const list = await client.call('GET', '/api/v1/expressions?limit=500');
    const ids = (list.body.expressions as { id: string }[]).filter((e) => e.id === 'client-key-1');
    expect(ids).toHaveLength(1);
  });

  it('answers a bare number at once', async () => {
    const id = await client.submit('-(007.50)');
    const view = await client.expression(id);
    expect(view).toMatchObject({
      status: 'done',
      value: '-7.5',
      result: -7.5,
      progress: { done: 0, total: 0 },
    });
  });

  it('fails a literal division by zero at once, naming the column', async () => {
    const id = await client.submit('1 + 4 / 0');
    const view = await client.expression(id);
    expect(view.status).toBe('error');
    expect(view.error).toMatchObject({ code: 'EXPR_DIV_ZERO', position: 6 });
    const nested = await client.expression(await client.submit('8/(4/0)'));
    expect(nested).toMatchObject({
      status: 'error',
      error: { code: 'EXPR_DIV_ZERO', position: 4 },
    });
  });
});

describe('reading expressions', () => {
  it('404s an unknown id', async () => {
    const res = await client.call('GET', '/api/v1/expressions/nope');
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe('EXPRESSION_NOT_FOUND');
    expect((await client.call('GET', '/api/v1/expressions/nope/operations')).status).toBe(404);
  });

  it('lists newest first with cursor pagination', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push(await client.submit(`${i}+100`));
    const page1 = await client.call('GET', '/api/v1/expressions?limit=3');
    const first = page1.body.expressions as { id: string }[];
    expect(first.map((e) => e.id)).toEqual([ids[4], ids[3], ids[2]]);
    expect(typeof page1.body.nextCursor).toBe('string');
    const page2 = await client.call(
      'GET',
      `/api/v1/expressions?limit=2&cursor=${String(page1.body.nextCursor)}`,
    );
    expect((page2.body.expressions as { id: string }[]).map((e) => e.id)).toEqual([ids[1], ids[0]]);
    const badCursor = await client.call('GET', '/api/v1/expressions?cursor=garbage');
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error?.code).toBe('QUERY_INVALID');
    const badLimit = await client.call('GET', '/api/v1/expressions?limit=0');
    expect(badLimit.status).toBe(400);
  });

  it('shows operations with state and inputs', async () => {
    const id = await client.submit('(1+2)*(3+4)');
    const ops = await client.operations(id);
    expect(ops).toHaveLength(3);
    expect(ops.filter((o) => o.state === 'ready')).toHaveLength(2);
    const root = ops.find((o) => o.op === '*');
    expect(root).toMatchObject({ state: 'waiting', aValue: null, depth: 2 });
  });
});

describe('cancel', () => {
  it('cancels an unfinished expression and 409s a finished one', async () => {
    const id = await client.submit('5*5+1');
    const res = await client.call('POST', `/api/v1/expressions/${id}/cancel`);
    expect(res.status).toBe(200);
    expect((res.body.expression as { status: string }).status).toBe('canceled');
    expect((await client.expression(id)).status).toBe('canceled');
    const again = await client.call('POST', `/api/v1/expressions/${id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error?.code).toBe('ALREADY_FINISHED');
    expect((await client.call('POST', '/api/v1/expressions/missing/cancel')).status).toBe(404);
  });
});

describe('settings', () => {
  it('validates ranges with 422 naming the field', async () => {
    const res = await client.call('PUT', '/api/v1/settings', { additionMs: -5 });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'SETTINGS_INVALID', field: 'additionMs' });
    const unknown = await client.call('PUT', '/api/v1/settings', { colour: 'red' });
    expect(unknown.status).toBe(422);
    const notObject = await client.call('PUT', '/api/v1/settings', [1]);
    expect(notObject.status).toBe(400);
  });

  it('applies a partial change and pushes it to every connected agent at once', async () => {
    const agents = await Promise.all(
      [1, 2, 3].map((i) => manualAgent(orch.url, `settings-agent-${i}`)),
    );
    await waitFor(() => agents.every((a) => a.settings.length === 1), 5000, 'initial settings');
    // How fast it arrives is measured by bench/src/settings.ts, not asserted here.
    const res = await client.call('PUT', '/api/v1/settings', { multiplicationMs: 1234 });
    expect(res.status).toBe(200);
    expect(res.body.settings).toMatchObject({ multiplicationMs: 1234, additionMs: 0 });
    await waitFor(
      () => agents.every((a) => a.settings.at(-1)?.multiplicationMs === 1234),
      5000,
      'settings broadcast',
    );
    expect((await client.call('GET', '/api/v1/settings')).body.settings).toMatchObject({
      multiplicationMs: 1234,
    });
    for (const a of agents) a.socket.close();
    await client.settings({ multiplicationMs: 0 });
  });
});

describe('GET /api/v1/agents', () => {
  it('answers one page at a time in join order; nextCursor continues, null on the last', async () => {
    const ids = [1, 2, 3, 4, 5].map((i) => `page-agent-${i}`);
    const agents = [];
    for (const id of ids) agents.push(await manualAgent(orch.url, id));
    const listed = (agents: { id: string }[]): string[] =>
      agents.map((a) => a.id).filter((id) => id.startsWith('page-agent-'));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.agentsPage({ limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.agents.length).toBeLessThanOrEqual(2);
      seen.push(...listed(page.agents));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor !== undefined);
    expect(seen).toEqual(ids);
    expect(pages).toBeGreaterThanOrEqual(3);
    // Without a limit: the first page of the default size (1000), which holds them all here.
    const whole = await client.call('GET', '/api/v1/agents');
    expect(whole.body.nextCursor).toBeNull();
    expect(listed(whole.body.agents as { id: string }[])).toEqual(ids);
    for (const query of ['limit=0', 'limit=1001', 'cursor=abc']) {
      const bad = await client.call('GET', `/api/v1/agents?${query}`);
      expect(bad.status).toBe(400);
      expect(bad.body.error?.code).toBe('QUERY_INVALID');
    }
    for (const a of agents) a.socket.close();
    await waitFor(
      () => ids.every((id) => orch.scheduler.views.agentView(id)?.status === 'lost'),
      5000,
      'the agents to leave',
    );
  });
});

describe('service endpoints', () => {
  it('reports health and readiness', async () => {
    expect((await client.call('GET', '/healthz')).status).toBe(200);
    const ready = await client.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ready: true, store: true });
  });

  it('exposes Prometheus metrics with the documented series', async () => {
    const agent = await manualAgent(orch.url, 'metrics-agent', 2);
    answerHonestly(agent);
    const id = await client.submit('(1+2)*(3+4)');
    expect((await client.finished(id)).value).toBe('21');
    const res = await fetch(`${orch.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    for (const series of [
      'expressionist_expressions{status="done"}',
      'expressionist_operations_dispatched_total{kind="node"}',
      'expressionist_operations_completed_total',
      'expressionist_operations_requeued_total',
      'expressionist_operations_rejected_total',
      'expressionist_ready_queue_depth',
      'expressionist_agents_connected{kind="node"} 1',
      'expressionist_operation_latency_seconds_bucket',
      'expressionist_expression_latency_seconds_bucket',
      'expressionist_store_write_latency_seconds_bucket',
      'process_resident_memory_bytes',
    ]) {
      expect(text, series).toContain(series);
    }
    expect(text).toMatch(/expressionist_operations_completed_total \d+/);
    agent.socket.close();
  });

  it('404s unknown API routes with the error shape', async () => {
    const res = await client.call('GET', '/api/v1/nothing');
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe('NOT_FOUND');
  });

  it('rejects an agent with an invalid hello', async () => {
    await expect(manualAgent(orch.url, 'bad id with spaces')).rejects.toThrow(
      /invalid agent hello/,
    );
  });

  it('refuses an agent of another protocol version with a reason it can print', async () => {
    for (const protocol of [undefined, AGENT_PROTOCOL + 1]) {
      const socket = io(`${orch.url}/agents`, {
        auth: { agentId: 'old-agent', name: 'old', kind: 'node', concurrency: 1, protocol },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      const err = await new Promise<Error & { data?: unknown }>((resolve) =>
        socket.once('connect_error', resolve),
      );
      socket.close();
      expect(err.message).toContain(`speaks agent protocol ${AGENT_PROTOCOL}`);
      expect(err.data).toMatchObject({ code: 'AGENT_PROTOCOL_MISMATCH' });
    }
    expect(orch.scheduler.views.agentView('old-agent')).toBeNull();
  });
});
