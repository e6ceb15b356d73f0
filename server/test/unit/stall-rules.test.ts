// The stall rule under fake timers: a stall of the orchestrator (every timer overdue at once, as
// after SIGSTOP or a long collection) is measured, and neither a lease nor a heartbeat is judged
// for that time; a silent agent or an unanswered lease is still judged on running time.
//
// `freeze(ms)` moves the system clock without running timers: fake-timers shifts every timer by
// the same amount, so the next ones fire `ms` late by Date.now() — exactly what a stopped process
// sees when it resumes.
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { judgeConnection } from '../../src/realtime/heartbeat-judge.js';
import { AgentRegistry } from '../../src/scheduler/agent-registry.js';
import { LeaseTable, type Lease } from '../../src/scheduler/lease-table.js';
import {
  NO_STALLS,
  STALL_MIN_MS,
  StallMonitor,
  type RunningClock,
  type Stall,
} from '../../src/scheduler/stall-monitor.js';
import { handPlan, leaseOf, readyAll, runOf, socketAgentInit } from './fixtures.js';

let stalls: Stall[];
let monitor: StallMonitor;

function freeze(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  stalls = [];
  monitor = new StallMonitor((stall) => stalls.push(stall));
  monitor.start();
});

afterEach(() => {
  monitor.stop();
  vi.useRealTimers();
});

describe('the stall monitor', () => {
  it('records a stall with its span; ordinary ticks are none', () => {
    vi.advanceTimersByTime(5000);
    expect(stalls).toEqual([]);
    freeze(3000);
    vi.advanceTimersByTime(100);
    expect(stalls).toHaveLength(1);
    const [stall] = stalls;
    // From the last tick the loop ran to the one that came 3 s late.
    expect(stall).toEqual({ from: 5000, to: 8100 });
    expect(monitor.stalledSince(0, Date.now())).toBe(3100);
    // Only the part of a stall inside the span counts.
    expect(monitor.stalledSince(stall!.from + 1000, Date.now())).toBe(2100);
    expect(monitor.stalledSince(stall!.to, Date.now())).toBe(0);
  });

  it('counts the stall the loop is waking from before its own tick has run', () => {
    vi.advanceTimersByTime(1000);
    const now = Date.now() + 4000;
    vi.setSystemTime(now);
    // No timer ran yet: a judge running first in the waking turn still sees the stall.
    expect(monitor.stalledSince(0, now)).toBe(4000);
    expect(stalls).toEqual([]);
  });

  it('takes a delay under STALL_MIN_MS for ordinary load', () => {
    vi.advanceTimersByTime(1000);
    freeze(STALL_MIN_MS - 50);
    vi.advanceTimersByTime(100);
    expect(stalls).toEqual([]);
    expect(monitor.stalledSince(0, Date.now())).toBe(0);
  });
});

describe('the lease checker on running time', () => {
  function leased(clock: RunningClock): { table: LeaseTable; lease: Lease; expired: Lease[][] } {
    const table = new LeaseTable(clock);
    const run = runOf(
      handPlan([
        ['1', '1'],
        ['2', '2'],
        [0, 1],
      ]),
    );
    readyAll(run);
    const agent = new AgentRegistry().join(socketAgentInit('a'));
    const lease = leaseOf(run, 0, agent, Date.now(), { lifetimeMs: 1000 });
    table.add(lease);
    const expired: Lease[][] = [];
    table.startChecker(100, (leases) => void expired.push(leases));
    return { table, lease, expired };
  }

  it('does not expire a lease for the time the orchestrator stood still', () => {
    const { table, lease, expired } = leased(monitor);
    vi.advanceTimersByTime(500);
    freeze(4000);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual([]);
    // Running time since dispatch reaches the lease's 1000 ms: now it expires (the verdict comes
    // in the check phase after the checker's tick: fake timers run it 1 ms later).
    vi.advanceTimersByTime(401);
    expect(expired).toEqual([[lease]]);
    table.stopChecker();
  });

  it('without the stall rule the same stall expires it (the control)', () => {
    const { table, lease, expired } = leased(NO_STALLS);
    vi.advanceTimersByTime(500);
    freeze(4000);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual([[lease]]);
    table.stopChecker();
  });
});

/** An engine.io connection as the judge sees it: packets in and out, and its close. */
class Connection extends EventEmitter {
  readyState = 'open';
  closedWith: string | null = null;
  onClose(reason: string): void {
    this.readyState = 'closed';
    this.closedWith = reason;
    this.emit('close');
  }
  ping(): void {
    this.emit('packetCreate', { type: 'ping' });
  }
  receive(type: string): void {
    this.emit('packet', { type });
  }
}

describe('the heartbeat judge', () => {
  it('closes a connection whose pong is late by the timeout of running time', () => {
    const conn = new Connection();
    judgeConnection(conn, 2000, monitor);
    conn.ping();
    vi.advanceTimersByTime(1999);
    expect(conn.closedWith).toBeNull();
    // Due at 2000; the verdict comes after the poll phase (fake timers: 1 ms later).
    vi.advanceTimersByTime(2);
    expect(conn.closedWith).toBe('ping timeout');
  });

  it('a pong in time keeps it open, ping after ping', () => {
    const conn = new Connection();
    judgeConnection(conn, 2000, monitor);
    for (let k = 0; k < 5; k += 1) {
      conn.ping();
      vi.advanceTimersByTime(1500);
      conn.receive('pong');
      vi.advanceTimersByTime(1000);
    }
    expect(conn.closedWith).toBeNull();
  });

  it('does not judge a pong that waited out an orchestrator stall in the socket', () => {
    const conn = new Connection();
    judgeConnection(conn, 2000, monitor);
    conn.ping();
    vi.advanceTimersByTime(1900);
    // Stopped for 2× the timeout just before the pong's deadline; on waking the timers run first
    // (the judge's included) …
    freeze(4000);
    vi.advanceTimersByTime(100);
    expect(conn.closedWith).toBeNull();
    // … then the poll phase reads the pong the agent sent long ago.
    conn.receive('pong');
    vi.advanceTimersByTime(10_000);
    expect(conn.closedWith).toBeNull();
  });

  it('still closes a silent connection after a stall, on running time', () => {
    const conn = new Connection();
    judgeConnection(conn, 2000, monitor);
    conn.ping();
    vi.advanceTimersByTime(500);
    freeze(4000);
    vi.advanceTimersByTime(1000);
    expect(conn.closedWith).toBeNull();
    // 2000 ms of running time (the stall counts from the last tick before it: ≤ 100 ms more).
    vi.advanceTimersByTime(700);
    expect(conn.closedWith).toBe('ping timeout');
  });

  it('without the stall rule the stall closes it (the control)', () => {
    const conn = new Connection();
    judgeConnection(conn, 2000, NO_STALLS);
    conn.ping();
    vi.advanceTimersByTime(1900);
    freeze(4000);
    vi.advanceTimersByTime(100);
    expect(conn.closedWith).toBe('ping timeout');
  });
});
