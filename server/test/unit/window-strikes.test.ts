// Slow start and strikes driven directly, through the agent lifecycle the scheduler uses, under
// fake timers: the window widens by one per accepted result and halves per loss event; K strikes
// in a row cool the whole actor down (its work is taken back at once); the cool-down lapses on
// the lifecycle's own once-a-second sweep, back on probation with a window of one.
import { pino } from 'pino';
import { tempDir } from '@expressionist/testkit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import { AgentLifecycle } from '../../src/scheduler/agent-lifecycle.js';
import type { Agent } from '../../src/scheduler/agent-registry.js';
import { LeaseTable, type Lease } from '../../src/scheduler/lease-table.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { leaseOf, recorded, socketAgentInit, taskOfLease, wideRun } from './fixtures.js';
import { DEFAULT_SETTINGS } from '@expressionist/core';

const COOLDOWN_MS = 30_000;
const LIMIT = 3;

const windowOf = (agent: Agent): number => agent.toView().window;

describe('the slow-start window', () => {
  it('starts at 2 and widens by one per accepted result, up to the agent’s slots', () => {
    const lifecycle = makeLifecycle();
    const agent = lifecycle.registry.join(socketAgentInit('a', { concurrency: 5 }));
    expect(windowOf(agent)).toBe(2);
    const windows: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      agent.credit();
      windows.push(windowOf(agent));
    }
    expect(windows).toEqual([3, 4, 5, 5, 5]);
    // A pulling agent (no channel) widens past its first slot, as far as it shows it uses.
    const pull = lifecycle.registry.join(socketAgentInit('p', { concurrency: 1, channel: null }));
    expect(windowOf(pull)).toBe(2);
    pull.credit();
    expect(windowOf(pull)).toBe(3);
  });

  it('halves (never below 1) once per loss event; tasks sent before the last strike do not count again', () => {
    const lifecycle = makeLifecycle();
    const agent = lifecycle.registry.join(socketAgentInit('a', { concurrency: 16 }));
    for (let i = 0; i < 10; i += 1) agent.credit();
    expect(windowOf(agent)).toBe(12);
    expect(agent.strike(1000, [900, 950])).toBe(1);
    expect(windowOf(agent)).toBe(6);
    expect(agent.strike(1001, [990])).toBe(0);
    expect(windowOf(agent)).toBe(6);
    for (const at of [2000, 3000, 4000, 5000]) agent.strike(at, [at]);
    expect(windowOf(agent)).toBe(1);
  });
});

/** The lifecycle with a recording of what it hands back, for the strike tests. */
let requeued: { taskId: string; reason: string }[];
let dispatches: number;
let store: SqliteStore;
let removeDir: () => void;

function makeLifecycle(leases = new LeaseTable()): AgentLifecycle {
  return new AgentLifecycle(
    leases,
    {
      settings: () => DEFAULT_SETTINGS,
      taskOf: taskOfLease,
      requeue: (lease, reason) => {
        leases.release(lease);
        requeued.push({ taskId: lease.taskId, reason });
      },
      dispatchSoon: () => void (dispatches += 1),
      capacityChanged: () => undefined,
      agentChanged: () => undefined,
      agentRemoved: () => undefined,
    },
    pino({ level: 'silent' }),
    new Metrics(),
    60_000,
    { limit: LIMIT, cooldownMs: COOLDOWN_MS },
    store,
  );
}

beforeEach(async () => {
  requeued = [];
  dispatches = 0;
  const dir = tempDir();
  removeDir = dir.remove;
  store = new SqliteStore(dir.dir);
  await store.init();
});

afterEach(async () => {
  await store.close();
  removeDir();
});

describe('strikes and the cool-down', () => {
  let lifecycle: AgentLifecycle;
  let leases: LeaseTable;

  beforeEach(async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    leases = new LeaseTable();
    lifecycle = makeLifecycle(leases);
    await lifecycle.start();
  });

  afterEach(() => {
    lifecycle.stop();
    vi.useRealTimers();
  });

  /** Leases `n` ops of a fresh run to `agent` now. */
  let runs = 0;
  function lease(agent: Agent, n: number): Lease[] {
    runs += 1;
    const run = wideRun(n, { id: `r${runs}` });
    return Array.from({ length: n }, (_, i) => {
      const l = leaseOf(run, i, agent, Date.now());
      leases.add(l);
      return l;
    });
  }

  it(`${LIMIT} strikes in a row cool the actor down and take back the work of all its agents`, () => {
    const a = lifecycle.registry.join(socketAgentInit('a', { identity: 'cred-1' }));
    const b = lifecycle.registry.join(socketAgentInit('b', { identity: 'cred-1' }));
    a.credit();
    const held = lease(b, 2);
    const now = Date.now();
    // A proven agent: one strike per loss event, however many tasks expired in it.
    lifecycle.strike(a, now, [now - 10, now - 5]);
    expect(a.strikes).toBe(1);
    lifecycle.strike(a, now + 1, [now + 1]);
    expect(a.status).toBe('active');
    expect(requeued).toEqual([]);
    lifecycle.strike(a, now + 2, [now + 2]);
    expect(a.strikes).toBe(LIMIT);
    expect(a.status).toBe('unresponsive');
    // Its sibling under the same credential is cooled down too, and its work handed back now.
    expect(b.status).toBe('unresponsive');
    expect(requeued).toEqual(held.map((l) => ({ taskId: l.taskId, reason: 'agent_unresponsive' })));
    expect(recorded(b).revoked).toEqual([held.map((l) => l.taskId)]);
    expect(b.canBorrow(1)).toBe(false);
  });

  it('an accepted result between strikes forgives them', () => {
    const a = lifecycle.registry.join(socketAgentInit('a'));
    a.credit();
    const now = Date.now();
    lifecycle.strike(a, now, [now]);
    lifecycle.strike(a, now + 1, [now + 1]);
    a.credit();
    lifecycle.strike(a, now + 2, [now + 2]);
    expect(a.strikes).toBe(1);
    expect(a.status).toBe('active');
  });

  it('an agent answering every other task is throttled, never cooled down (8 slots)', () => {
    // Was an end-to-end test with real lease lengths (silent-agents, 8 slots); the 2-slot one
    // stays there. Round by round: it is sent its window, answers half at once, the rest expire.
    const a = lifecycle.registry.join(socketAgentInit('half', { concurrency: 8 }));
    const windows: number[] = [];
    let t = Date.now();
    for (let round = 0; round < 20; round += 1) {
      const sent = windowOf(a) * 2;
      const sentAt: number[] = [];
      for (let i = 0; i < sent; i += 1)
        if (i % 2 === 0) a.credit();
        else sentAt.push(t);
      t += 350;
      lifecycle.strike(a, t, sentAt);
      windows.push(windowOf(a));
      expect(a.status).toBe('active');
    }
    expect(Math.min(...windows)).toBeLessThan(8);
    expect(a.strikes).toBe(1);
  });

  it('a fresh agent whose first tasks all expire is struck once per task', () => {
    const a = lifecycle.registry.join(socketAgentInit('a'));
    const now = Date.now();
    lifecycle.strike(a, now, [now - 3, now - 2, now - 1]);
    expect(a.status).toBe('unresponsive');
  });

  it('the cool-down lapses on the sweep: back on probation with a window of one', async () => {
    const a = lifecycle.registry.join(socketAgentInit('a', { concurrency: 64 }));
    for (let i = 0; i < 40; i += 1) a.credit();
    const now = Date.now();
    // Three loss events of a proven agent: its window halves thrice, 42 → 5.
    for (let i = 0; i < LIMIT; i += 1) lifecycle.strike(a, now, [now]);
    expect(a.status).toBe('unresponsive');
    expect(windowOf(a)).toBe(5);
    await vi.advanceTimersByTimeAsync(COOLDOWN_MS - 1000);
    expect(a.status).toBe('unresponsive');
    expect(dispatches).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(a.status).toBe('active');
    expect(a.strikes).toBe(0);
    expect(windowOf(a)).toBe(1);
    expect(dispatches).toBe(1);
    // A new id of the same actor during a cool-down would have joined unresponsive; now it is free.
    expect(lifecycle.registry.actor('a')?.coolingUntil).toBeNull();
  });
});
