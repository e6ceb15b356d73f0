// The lease table driven directly: fencing (a result counts only for the current attempt of a
// lease its sender holds), releases that cannot undo a newer lease, and the stalled checker
// (expiry at the deadline, overdue loans and probes) under fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AgentRegistry, type Agent } from '../../src/scheduler/agent-registry.js';
import type { ExpressionRun } from '../../src/scheduler/expression-run.js';
import { LeaseTable, type Lease } from '../../src/scheduler/lease-table.js';
import { handPlan, leaseOf, readyAll, runOf, socketAgentInit } from './fixtures.js';

let registry: AgentRegistry;
let table: LeaseTable;
let run: ExpressionRun;
let a: Agent;
let b: Agent;

beforeEach(() => {
  registry = new AgentRegistry();
  table = new LeaseTable();
  run = runOf(
    handPlan([
      ['1', '1'],
      ['2', '2'],
      [0, 1],
    ]),
  );
  readyAll(run);
  a = registry.join(socketAgentInit('a'));
  b = registry.join(socketAgentInit('b'));
});

describe('fencing', () => {
  it('a result counts only from the holder of the current attempt', () => {
    const first = leaseOf(run, 0, a, 0);
    table.add(first);
    expect(table.current(first.taskId, a, 1)).toBe(first);
    expect(table.current(first.taskId, b, 1)).toBeUndefined();
    expect(table.current(first.taskId, a, 2)).toBeUndefined();
    expect(a.inFlight).toBe(1);

    // The lease is taken back and the op re-leased to b: attempt 2.
    table.release(first);
    run.retry(0, false);
    run.markReady(0);
    const second = leaseOf(run, 0, b, 10);
    table.add(second);
    expect(second.attempt).toBe(2);
    // a's late answer to attempt 1 is refused; so is b naming the old attempt.
    expect(table.current(first.taskId, a, 1)).toBeUndefined();
    expect(table.current(first.taskId, b, 1)).toBeUndefined();
    expect(table.current(first.taskId, b, 2)).toBe(second);
  });

  it('releasing a stale lease leaves the newer one in place', () => {
    const first = leaseOf(run, 0, a, 0);
    table.add(first);
    table.release(first);
    const second = leaseOf(run, 0, b, 10);
    table.add(second);
    table.release(first);
    expect(table.get(second.taskId)).toBe(second);
    expect(b.inFlight).toBe(1);
    expect(a.inFlight).toBe(0);
    expect(table.size).toBe(1);
  });

  it('course leases are found by their course id until released', () => {
    const lease = leaseOf(run, 1, a, 0, { course: { id: 42 } });
    table.add(lease);
    expect(table.byCourse(42)).toBe(lease);
    expect(lease.probe).toBe(true);
    table.release(lease);
    expect(table.byCourse(42)).toBeUndefined();
  });

  it('lists the leases of a run and of an agent', () => {
    const x = leaseOf(run, 0, a, 0);
    const y = leaseOf(run, 1, b, 0);
    table.add(x);
    table.add(y);
    expect(table.ofRun(run)).toEqual([x, y]);
    expect(table.ofAgent(a)).toEqual([x]);
  });
});

describe('the stalled checker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });

  afterEach(() => {
    table.stopChecker();
    vi.useRealTimers();
  });

  function watch(): { expired: Lease[][]; overdue: Lease[][] } {
    const seen = { expired: [] as Lease[][], overdue: [] as Lease[][] };
    table.startChecker(
      100,
      (leases) => void seen.expired.push(leases),
      (leases) => void seen.overdue.push(leases),
    );
    return seen;
  }

  it('hands back a lease at its deadline, not before', () => {
    const seen = watch();
    const lease = leaseOf(run, 0, a, 0, { lifetimeMs: 1000 });
    table.add(lease);
    vi.advanceTimersByTime(900);
    expect(seen.expired).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(seen.expired).toEqual([[lease]]);
    // The checker only reports; the caller releases (else it reports again).
    table.release(lease);
    vi.advanceTimersByTime(500);
    expect(seen.expired).toHaveLength(1);
  });

  it('reports loans and probes once overdue, ordinary leases never before their deadline', () => {
    const seen = watch();
    const plain = leaseOf(run, 0, a, 0, { lifetimeMs: 5000, overdueMs: 200 });
    const loan = leaseOf(run, 1, b, 0, { lifetimeMs: 5000, overdueMs: 200, loan: true });
    table.add(plain);
    table.add(loan);
    vi.advanceTimersByTime(100);
    expect(seen.overdue).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(seen.overdue).toEqual([[loan]]);
    expect(seen.expired).toEqual([]);
  });

  it('stops when told', () => {
    const seen = watch();
    table.add(leaseOf(run, 0, a, 0, { lifetimeMs: 100 }));
    table.stopChecker();
    vi.advanceTimersByTime(1000);
    expect(seen.expired).toEqual([]);
  });
});
