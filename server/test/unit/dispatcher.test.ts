// The order work is handed out in, driven directly: the ready ring (owners round-robin, then
// their expressions, then critical path first) and the dispatcher (one dispatch per turn, one
// task per agent per round, clean agents before struck ones, loans beyond windows, retries around
// the actor that failed them). Fake timers run the dispatcher's setImmediate.
import { DEFAULT_SETTINGS, type Settings, type Task } from '@expressionist/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AgentRegistry, type Agent } from '../../src/scheduler/agent-registry.js';
import { Dispatcher } from '../../src/scheduler/dispatcher.js';
import { ReadyQueue } from '../../src/scheduler/ready-queue.js';
import type { ExpressionRun } from '../../src/scheduler/expression-run.js';
import { LeaseTable } from '../../src/scheduler/lease-table.js';
import {
  handPlan,
  leaseOf,
  readyAll,
  recorded,
  runOf,
  socketAgentInit,
  wideRun,
} from './fixtures.js';

function queued(
  ring: ReadyQueue,
  n: number,
  id: string,
  owner: string | null = null,
): ExpressionRun {
  const run = wideRun(n, { id, owner });
  ring.enqueue(run);
  return run;
}

const takeAll = (ring: ReadyQueue): string[] => {
  const taken: string[] = [];
  for (let next = ring.take(); next; next = ring.take()) taken.push(`${next.run.id}:${next.opId}`);
  return taken;
};

describe('ReadyQueue', () => {
  it('serves owners in turn, then each owner’s expressions in turn', () => {
    const ring = new ReadyQueue();
    queued(ring, 3, 'a1', 'alice');
    queued(ring, 3, 'a2', 'alice');
    queued(ring, 2, 'b1', 'bob');
    expect(takeAll(ring)).toEqual([
      'a1:0',
      'b1:0',
      'a2:0',
      'b1:1',
      'a1:1',
      // bob has nothing left: alice's expressions alternate.
      'a2:1',
      'a1:2',
      'a2:2',
    ]);
    expect(ring.isEmpty).toBe(true);
  });

  it('hands out an expression’s ops critical path first', () => {
    const ring = new ReadyQueue();
    const run = runOf(
      handPlan([
        ['1', '1'],
        ['2', '2'],
        [1, '3'],
        [0, 2],
      ]),
    );
    readyAll(run);
    ring.enqueue(run);
    expect(takeAll(ring)).toEqual(['e1:1', 'e1:0']);
  });

  it('takeFor goes around an op that avoids the actor while someone else can take it', () => {
    const ring = new ReadyQueue();
    const run = queued(ring, 2, 'e1');
    // op0 failed on actor x before.
    run.retry(0, true, 'x');
    const next = ring.takeFor('x', () => true);
    expect(next?.opId).toBe(1);
    // The skipped op went back and is handed out later.
    expect(takeAll(ring)).toEqual(['e1:0']);

    const alone = new ReadyQueue();
    const other = queued(alone, 1, 'e2');
    other.retry(0, true, 'x');
    // Nobody else can: x gets it after all.
    expect(alone.takeFor('x', () => false)?.opId).toBe(0);
  });

  it('putBack drops ops of finished runs', () => {
    const ring = new ReadyQueue();
    const run = queued(ring, 2, 'e1');
    const taken = [ring.take(), ring.take()].flatMap((t) => (t ? [t] : []));
    expect(taken).toHaveLength(2);
    run.finish({ status: 'done', value: '0' }, 0);
    ring.putBack(taken);
    expect(ring.isEmpty).toBe(true);
  });
});

describe('Dispatcher', () => {
  let settings: Settings;
  let registry: AgentRegistry;
  let ring: ReadyQueue;
  let leases: LeaseTable;
  let assigned: { agent: string; task: string; loan: boolean }[];
  let dispatcher: Dispatcher;

  beforeEach(() => {
    vi.useFakeTimers();
    settings = {
      ...DEFAULT_SETTINGS,
      additionMs: 0,
      subtractionMs: 0,
      multiplicationMs: 0,
      divisionMs: 0,
    };
    registry = new AgentRegistry();
    ring = new ReadyQueue();
    leases = new LeaseTable();
    assigned = [];
    dispatcher = new Dispatcher(ring, registry, {
      settings: () => settings,
      assign: (run, opId, agent, now, loan): Task => {
        const lease = leaseOf(run, opId, agent, now, { loan });
        leases.add(lease);
        assigned.push({ agent: agent.id, task: lease.taskId, loan });
        return {
          taskId: lease.taskId,
          attempt: lease.attempt,
          op: '+',
          a: '1',
          b: '1',
          durationMs: 0,
        };
      },
      agentChanged: () => undefined,
    });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  const join = (id: string, concurrency = 8, identity = id): Agent =>
    registry.join(socketAgentInit(id, { concurrency, identity }));
  const sent = (agent: Agent): string[][] => recorded(agent).sent;
  const tasksOf = (id: string): number => assigned.filter((a) => a.agent === id).length;

  it('dispatches once per turn, after it, however many changes asked for one', () => {
    const a = join('a');
    queued(ring, 1, 'e1');
    dispatcher.schedule();
    queued(ring, 1, 'e2');
    dispatcher.schedule();
    expect(vi.getTimerCount()).toBe(1);
    expect(assigned).toEqual([]);
    vi.runAllTimers();
    expect(sent(a)).toEqual([['e1:0', 'e2:0']]);
  });

  it('one task per agent per round: work spreads over free agents', () => {
    const a = join('a');
    const b = join('b');
    queued(ring, 4, 'e1');
    dispatcher.schedule();
    vi.runAllTimers();
    expect(sent(a)).toEqual([['e1:0', 'e1:2']]);
    expect(sent(b)).toEqual([['e1:1', 'e1:3']]);
  });

  it('prefetches two per window slot for near-instant ops, one for longer ones', () => {
    expect(dispatcher.depth()).toBe(2);
    settings = { ...settings, multiplicationMs: 11 };
    expect(dispatcher.depth()).toBe(1);
  });

  it('a fresh agent gets its window first; the rest is lent beyond it only when nobody else can', () => {
    settings = { ...settings, additionMs: 100 };
    join('a', 4);
    queued(ring, 6, 'e1');
    dispatcher.schedule();
    vi.runAllTimers();
    // Window 2 (depth 1), then loans up to its 4 slots; 2 ops stay queued.
    expect(assigned.map((x) => x.loan)).toEqual([false, false, true, true]);
    expect(ring.isEmpty).toBe(false);
  });

  it('agents with strikes get work only once those without are full', () => {
    settings = { ...settings, additionMs: 100 };
    const struck = join('struck');
    struck.actor.charge(struck.strike(0, [0]), 0, { limit: 3, cooldownMs: 60_000 });
    join('clean');
    queued(ring, 3, 'e1');
    dispatcher.schedule();
    vi.runAllTimers();
    // The clean agent's window (2) fills first, though the struck one joined first.
    expect(assigned.slice(0, 2).map((x) => x.agent)).toEqual(['clean', 'clean']);
    expect(tasksOf('struck')).toBe(1);
  });

  it('a retry goes to an agent of another actor when one is free', () => {
    join('a');
    join('b');
    const run = queued(ring, 1, 'e1');
    run.retry(0, true, 'a');
    dispatcher.schedule();
    vi.runAllTimers();
    expect(assigned).toEqual([{ agent: 'b', task: 'e1:0', loan: false }]);
  });

  it('a retry waits for another actor’s busy agent rather than go back to the one it avoids', () => {
    settings = { ...settings, additionMs: 100 };
    const b = join('b', 1);
    b.hold('busy');
    join('a');
    const run = queued(ring, 1, 'e1');
    run.retry(0, true, 'a');
    dispatcher.schedule();
    vi.runAllTimers();
    expect(assigned).toEqual([]);
    expect(ring.isEmpty).toBe(false);
  });
});
