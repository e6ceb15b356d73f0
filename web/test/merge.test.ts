import { describe, expect, it } from 'vitest';
import type { AgentView, ExpressionView, OperationView, UiSnapshot } from '@expressionist/core';
import { DEFAULT_SETTINGS } from '@expressionist/core';
import {
  appendSample,
  applyDelta,
  applySnapshot,
  replaceOperations,
  upsertExpressions,
  type LiveModel,
} from '../src/lib/merge';

const T0 = Date.parse('2025-01-01T12:00:00.000Z');

function expr(n: number, patch: Partial<ExpressionView> = {}): ExpressionView {
  return {
    id: `e${n}`,
    expression: `${n} + ${n}`,
    expressionLength: `${n} + ${n}`.length,
    status: 'pending',
    result: null,
    value: null,
    error: null,
    createdAt: new Date(T0 + n * 1000).toISOString(),
    startedAt: null,
    finishedAt: null,
    progress: { done: 0, total: 1 },
    cached: false,
    estimatedFinishAt: null,
    waiting: null,
    ...patch,
  };
}

function agent(id: string, patch: Partial<AgentView> = {}): AgentView {
  return {
    id,
    name: id,
    kind: 'node',
    status: 'active',
    concurrency: 2,
    running: [],
    runningCount: 0,
    completed: 0,
    window: 2,
    strikes: 0,
    reason: null,
    trust: 'credential',
    connectedAt: new Date(T0).toISOString(),
    lastSeenAt: new Date(T0).toISOString(),
    expiresAt: null,
    ...patch,
  };
}

function op(id: number, patch: Partial<OperationView> = {}): OperationView {
  return {
    id,
    op: '+',
    a: { kind: 'lit', value: '1' },
    b: { kind: 'lit', value: '2' },
    state: 'waiting',
    aValue: '1',
    bValue: '2',
    result: null,
    agentId: null,
    agentName: null,
    attempt: 0,
    reassigned: 0,
    depth: 1,
    span: { start: 0, end: 5 },
    startedAt: null,
    finishedAt: null,
    ...patch,
  };
}

function emptyModel(): LiveModel {
  return {
    expressions: new Map(),
    order: [],
    floor: null,
    agents: new Map(),
    settings: null,
    stats: null,
    operations: new Map(),
  };
}

function snapshot(expressions: ExpressionView[], agents: AgentView[] = []): UiSnapshot {
  return {
    expressions,
    agents,
    settings: DEFAULT_SETTINGS,
    stats: { opsPerSecond: 0, readyQueue: 0, running: 0 },
  };
}

describe('applySnapshot', () => {
  it('replaces state and orders expressions newest first', () => {
    const model = emptyModel();
    model.expressions.set('stale', expr(99));
    model.agents.set('gone', agent('gone'));
    applySnapshot(model, snapshot([expr(1), expr(3), expr(2)], [agent('a1')]));
    expect(model.order).toEqual(['e3', 'e2', 'e1']);
    expect(model.expressions.has('stale')).toBe(false);
    expect([...model.agents.keys()]).toEqual(['a1']);
    expect(model.floor).toBe(expr(1).createdAt);
    expect(model.settings).toEqual(DEFAULT_SETTINGS);
  });
});

describe('applyDelta', () => {
  it('updates an expression in place without replacing the order array', () => {
    const model = emptyModel();
    applySnapshot(model, snapshot([expr(1), expr(2)]));
    const order = model.order;
    applyDelta(model, { expressions: [expr(1, { status: 'done', value: '2' })] });
    expect(model.order).toBe(order);
    expect(model.expressions.get('e1')?.value).toBe('2');
  });

  it('puts new expressions at their place, newest first', () => {
    const model = emptyModel();
    applySnapshot(model, snapshot([expr(1), expr(5)]));
    applyDelta(model, { expressions: [expr(7), expr(3), expr(6)] });
    expect(model.order).toEqual(['e7', 'e6', 'e5', 'e3', 'e1']);
  });

  it('refreshes but does not list expressions older than the loaded range', () => {
    const model = emptyModel();
    applySnapshot(model, snapshot([expr(10), expr(11)]));
    applyDelta(model, { expressions: [expr(2, { status: 'canceled' })] });
    expect(model.order).toEqual(['e11', 'e10']);
    expect(model.expressions.get('e2')?.status).toBe('canceled');
  });

  it('upserts and removes agents, replaces settings and stats', () => {
    const model = emptyModel();
    applySnapshot(model, snapshot([], [agent('a1'), agent('a2')]));
    applyDelta(model, {
      agents: [agent('a1', { status: 'lost' }), agent('a3')],
      agentsRemoved: ['a2'],
      settings: { ...DEFAULT_SETTINGS, additionMs: 5 },
      stats: { opsPerSecond: 12.5, readyQueue: 3, running: 4 },
    });
    expect(model.agents.get('a1')?.status).toBe('lost');
    expect(model.agents.has('a2')).toBe(false);
    expect(model.agents.has('a3')).toBe(true);
    expect(model.settings?.additionMs).toBe(5);
    expect(model.stats?.opsPerSecond).toBe(12.5);
  });

  it('drops deleted expressions from the map and the list, ignoring unknown ids', () => {
    const model = emptyModel();
    applySnapshot(model, snapshot([expr(1), expr(2), expr(3)]));
    applyDelta(model, { expressionsRemoved: ['e2', 'nope'] });
    expect(model.order).toEqual(['e3', 'e1']);
    expect(model.expressions.has('e2')).toBe(false);
  });

  it('merges operations only for subscribed expressions', () => {
    const model = emptyModel();
    replaceOperations(model, 'e1', [op(0), op(1)]);
    applyDelta(model, {
      operations: [
        {
          expressionId: 'e1',
          operations: [op(1, { state: 'running', agentName: 'tab-1a2b', attempt: 1 })],
        },
        { expressionId: 'e9', operations: [op(0, { state: 'done' })] },
      ],
    });
    expect(model.operations.get('e1')?.get(1)?.state).toBe('running');
    expect(model.operations.get('e1')?.get(0)?.state).toBe('waiting');
    expect(model.operations.has('e9')).toBe(false);
  });

  it('keeps subscribed operations across a new snapshot', () => {
    const model = emptyModel();
    replaceOperations(model, 'e1', [op(0)]);
    applySnapshot(model, snapshot([expr(1)]));
    expect(model.operations.get('e1')?.size).toBe(1);
  });
});

describe('upsertExpressions from REST pages', () => {
  it('extends the list downwards and never overwrites live data', () => {
    const model = emptyModel();
    applySnapshot(model, snapshot([expr(9), expr(8)]));
    applyDelta(model, { expressions: [expr(8, { status: 'done', value: '16' })] });
    // A page fetched a moment earlier still shows e8 pending.
    upsertExpressions(model, [expr(8), expr(7), expr(6)], 'page');
    expect(model.order).toEqual(['e9', 'e8', 'e7', 'e6']);
    expect(model.expressions.get('e8')?.status).toBe('done');
    expect(model.floor).toBe(expr(6).createdAt);
    // e5 is older than anything loaded: refreshed in the Map, not listed above the gap.
    applyDelta(model, { expressions: [expr(5)] });
    expect(model.order).toEqual(['e9', 'e8', 'e7', 'e6']);
  });

  it('orders equal timestamps by id so the order is total', () => {
    const model = emptyModel();
    const at = new Date(T0).toISOString();
    applySnapshot(
      model,
      snapshot([expr(1, { id: 'b', createdAt: at }), expr(2, { id: 'c', createdAt: at })]),
    );
    applyDelta(model, { expressions: [expr(3, { id: 'a', createdAt: at })] });
    expect(model.order).toEqual(['c', 'b', 'a']);
  });
});

describe('appendSample', () => {
  it('keeps one reading before the window so the line starts at the edge', () => {
    let samples = appendSample([], { t: 0, v: 1 }, 60_000);
    for (let t = 10_000; t <= 100_000; t += 10_000)
      samples = appendSample(samples, { t, v: t }, 60_000);
    expect(samples[0]!.t).toBe(30_000);
    expect(samples[1]!.t).toBe(40_000);
    expect(samples[samples.length - 1]!.t).toBe(100_000);
  });
});
