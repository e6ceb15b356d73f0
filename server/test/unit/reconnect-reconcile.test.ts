// Reconciling a reconnection within the grace, driven through the agent lifecycle the scheduler
// uses (fake timers, recording channels): the kept leases the agent does not hold are sent again
// (their attempt, unchanged deadline), the ids it holds without a lease are revoked, a hello
// without `holding` reconciles nothing, and a fresh registration revokes whatever it still runs.
// The same for an agent back before its old connection was seen to drop (half-open).
import { pino } from 'pino';
import { tempDir } from '@expressionist/testkit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS, type AgentHello, type HeldTask } from '@expressionist/core';
import { Metrics } from '../../src/metrics.js';
import { AgentLifecycle } from '../../src/scheduler/agent-lifecycle.js';
import type { Agent } from '../../src/scheduler/agent-registry.js';
import { LeaseTable, type Lease } from '../../src/scheduler/lease-table.js';
import { reconcile } from '../../src/scheduler/reconnect-grace.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import {
  leaseOf,
  recordingChannel,
  taskOfLease,
  wideRun,
  type RecordingChannel,
} from './fixtures.js';

const GRACE_MS = 1500;

let store: SqliteStore;
let removeDir: () => void;
let leases: LeaseTable;
let lifecycle: AgentLifecycle;
let requeued: string[];
let metrics: Metrics;

beforeEach(async () => {
  vi.useFakeTimers({ now: 1_000_000 });
  const dir = tempDir();
  removeDir = dir.remove;
  store = new SqliteStore(dir.dir);
  await store.init();
  leases = new LeaseTable();
  requeued = [];
  metrics = new Metrics();
  lifecycle = new AgentLifecycle(
    leases,
    {
      settings: () => DEFAULT_SETTINGS,
      taskOf: taskOfLease,
      requeue: (lease) => {
        leases.release(lease);
        requeued.push(lease.taskId);
      },
      dispatchSoon: () => undefined,
      capacityChanged: () => undefined,
      agentChanged: () => undefined,
      agentRemoved: () => undefined,
    },
    pino({ level: 'silent' }),
    metrics,
    60_000,
    { limit: 3, cooldownMs: 30_000 },
    store,
    undefined,
    GRACE_MS,
  );
  await lifecycle.start();
});

afterEach(async () => {
  lifecycle.stop();
  vi.useRealTimers();
  await store.close();
  removeDir();
});

const hello = (holding?: HeldTask[]): AgentHello => ({
  agentId: 'a',
  name: 'a',
  kind: 'node',
  concurrency: 4,
  protocol: 2,
  ...(holding === undefined ? {} : { holding }),
});

const held = (lease: Lease, attempt = lease.attempt): HeldTask => ({
  taskId: lease.taskId,
  attempt,
});

/** `agent` holds `n` leases of a fresh run. */
function lease(agent: Agent, n: number): Lease[] {
  const run = wideRun(n);
  return Array.from({ length: n }, (_, i) => {
    const l = leaseOf(run, i, agent, Date.now());
    leases.add(l);
    return l;
  });
}

/** The agent joins, takes 3 leases, its connection drops and it is back 0.5 s later. */
function dropAndReturn(holding: (kept: Lease[]) => HeldTask[] | undefined): {
  kept: Lease[];
  channel: RecordingChannel;
  agent: Agent;
} {
  const first = recordingChannel();
  const agent = lifecycle.connect(hello(), first);
  const kept = lease(agent, 3);
  lifecycle.disconnect('a', first, 'transport close', true);
  vi.advanceTimersByTime(500);
  const channel = recordingChannel();
  expect(lifecycle.connect(hello(holding(kept)), channel)).toBe(agent);
  return { kept, channel, agent };
}

describe('reconcile', () => {
  it('sends again the kept leases whose attempt the agent does not hold; revokes ids it holds without one', () => {
    const agent = lifecycle.connect(hello(), recordingChannel());
    const [a, b, c] = lease(agent, 3) as [Lease, Lease, Lease];
    const { resend, revoke } = reconcile(
      [a, b, c],
      [held(a), held(b, b.attempt + 1), { taskId: 'gone', attempt: 1 }, held(a)],
    );
    // b is held at another attempt: that is not the one leased.
    expect(resend).toEqual([b, c]);
    expect(revoke).toEqual(['gone']);
  });

  it('reconciles nothing for a hello without `holding` (an agent from before the field)', () => {
    const agent = lifecycle.connect(hello(), recordingChannel());
    expect(reconcile(lease(agent, 2), undefined)).toEqual({ resend: [], revoke: [] });
  });
});

describe('a reconnection within the grace', () => {
  it('sends again what the agent lacks, as the same attempt with the same deadline', () => {
    const { kept, channel, agent } = dropAndReturn((kept) => [held(kept[0]!)]);
    expect(channel.sent).toEqual([[kept[1]!.taskId, kept[2]!.taskId]]);
    expect(channel.revoked).toEqual([]);
    expect(leases.ofAgent(agent)).toEqual(kept);
    expect(requeued).toEqual([]);
  });

  it('revokes the ids it holds without a lease', () => {
    const { channel } = dropAndReturn((kept) => [
      ...kept.map((l) => held(l)),
      { taskId: 'stale', attempt: 2 },
    ]);
    expect(channel.revoked).toEqual([['stale']]);
    expect(channel.sent).toEqual([]);
  });

  it('counts what it sent again', async () => {
    dropAndReturn(() => []);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^expressionist_tasks_resent_total 3$/m);
  });

  it('sends nothing again to an agent whose hello has no `holding`', () => {
    const { channel } = dropAndReturn(() => undefined);
    expect(channel.sent).toEqual([]);
    expect(channel.revoked).toEqual([]);
  });
});

describe('a reconnection before the old connection was seen to drop (half-open)', () => {
  /** The agent joins and takes 3 leases; it connects again while `first` still holds it. */
  function connectTwice(holding: (kept: Lease[]) => HeldTask[] | undefined): {
    kept: Lease[];
    first: RecordingChannel & { closed: string[] };
    second: RecordingChannel;
    agent: Agent;
    again: Agent;
  } {
    const closed: string[] = [];
    const first = { ...recordingChannel(), closed, close: (why: string) => void closed.push(why) };
    const agent = lifecycle.connect(hello(), first);
    const kept = lease(agent, 3);
    const second = recordingChannel();
    const again = lifecycle.connect(hello(holding(kept)), second);
    return { kept, first, second, agent, again };
  }

  it('the new connection takes the leases, reconciled; the old one is closed and no longer counts', () => {
    const { kept, first, second, agent, again } = connectTwice((kept) => [held(kept[0]!)]);
    expect(again).toBe(agent);
    expect(first.closed).toEqual(['replaced by a new connection']);
    expect(second.sent).toEqual([[kept[1]!.taskId, kept[2]!.taskId]]);
    expect(leases.ofAgent(agent)).toEqual(kept);
    expect(requeued).toEqual([]);
    // The old socket's close, seen later, changes nothing: the agent is the new socket's.
    lifecycle.disconnect('a', first, 'transport close', true);
    expect(lifecycle.holder('a', second)).toBe(agent);
    expect(agent.status).toBe('active');
    vi.advanceTimersByTime(GRACE_MS + 1);
    expect(requeued).toEqual([]);
  });

  it('without `holding` it is replaced as before: its leases are requeued', () => {
    const { kept, first, again, agent } = connectTwice(() => undefined);
    expect(again).not.toBe(agent);
    expect(first.closed).toEqual(['replaced by a new connection']);
    expect(requeued).toEqual(kept.map((l) => l.taskId));
  });
});

describe('a fresh registration', () => {
  it('revokes whatever the agent still runs: no lease of it is kept', () => {
    const first = recordingChannel();
    const agent = lifecycle.connect(hello(), first);
    const [only] = lease(agent, 1) as [Lease];
    // Past the grace: lost, its lease requeued.
    lifecycle.disconnect('a', first, 'transport close', true);
    vi.advanceTimersByTime(GRACE_MS + 1);
    expect(requeued).toEqual([only.taskId]);
    const channel = recordingChannel();
    lifecycle.connect(hello([held(only), held(only, 2)]), channel);
    expect(channel.revoked).toEqual([[only.taskId]]);
    expect(channel.sent).toEqual([]);
  });
});
