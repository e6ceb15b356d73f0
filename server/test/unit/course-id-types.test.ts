// The course protocol's id-type negotiation, driven directly on CourseAgents (no HTTP server):
// an agent first gets task ids as JSON numbers; a lease it never answered makes it switch to
// strings, and that expiry is excused; a late answer to an early-judged probe switches it back;
// what worked is remembered per address. The scheduler side is a small stand-in holding real
// leases (CourseWork is the protocol's whole view of the scheduler).
import { EventEmitter } from 'node:events';
import type { Request } from 'express';
import { pino } from 'pino';
import type { CourseTask } from '@expressionist/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CourseAgents } from '../../src/course/course-agents.js';
import type { CourseIdMode } from '../../src/course/id-types.js';
import type { AgentStanding } from '../../src/scheduler/agent-lifecycle.js';
import { AgentRegistry } from '../../src/scheduler/agent-registry.js';
import type { CourseWork } from '../../src/scheduler/course-port.js';
import { LeaseTable, type Lease } from '../../src/scheduler/lease-table.js';
import { handPlan, leaseOf, readyAll, runOf } from './fixtures.js';

/** What CourseAgents keeps of the scheduler's answers, and the excuse hook it installs. */
class StandIn {
  readonly registry = new AgentRegistry();
  readonly leases = new LeaseTable();
  excuse: (lease: Lease, early: boolean) => boolean = () => false;
  private readonly run = runOf(handPlan(Array.from({ length: 64 }, () => ['1', '1'] as const)));
  private next = 0;

  constructor() {
    readyAll(this.run);
  }

  readonly work: CourseWork = {
    isAccepting: true,
    hasReady: () => true,
    pulled: (key: string, name: string, now: number, standing: AgentStanding) =>
      this.registry.get(key) ??
      this.registry.join({
        id: key,
        name,
        kind: 'http',
        concurrency: 1,
        channel: null,
        now,
        trust: standing.trust,
        identity: standing.identity,
      }),
    agent: (key) => this.registry.get(key),
    leaseNext: (agent, ticket, now) => {
      const lease = leaseOf(this.run, this.next, agent, now, { course: ticket });
      this.next += 1;
      this.leases.add(lease);
      return {
        lease,
        task: { taskId: lease.taskId, attempt: 1, op: '+', a: '1', b: '1', durationMs: 0 },
      };
    },
    settle: (lease) => {
      this.leases.release(lease);
      lease.agent.credit();
      return Promise.resolve('accepted');
    },
    lease: (courseId) => this.leases.byCourse(courseId),
    reject: () => undefined,
    quarantine: () => Promise.resolve(),
    leave: () => undefined,
    agentChanged: () => undefined,
    excuseExpiries: (excuse) => {
      this.excuse = excuse;
    },
    describeTables: () => undefined,
    onForgotten: () => undefined,
  };

  /** The lease of the task CourseAgents just handed out. */
  leaseOf(task: CourseTask): Lease {
    const lease = this.leases.byCourse(Number(task.id));
    if (!lease) throw new Error(`no lease for ${task.id}`);
    return lease;
  }

  /** The lease ran out: the scheduler asks whether it is excused, then takes it back. */
  expire(task: CourseTask, early = false): boolean {
    const lease = this.leaseOf(task);
    const excused = this.excuse(lease, early);
    this.leases.release(lease);
    return excused;
  }
}

/**
 * A request on one connection from `address`: CourseAgents reads only the socket (to know the
 * connection) and the client address.
 */
function connection(address: string): Request {
  return { socket: new EventEmitter(), ip: address } as unknown as Request;
}

const named = (id: string) => ({
  key: `http-${id}`,
  standing: { trust: 'credential', identity: `http-${id}` } as const,
  guest: false,
});

let scheduler: StandIn;

function protocol(mode: CourseIdMode = 'auto'): CourseAgents {
  return new CourseAgents(scheduler.work, pino({ level: 'silent' }), mode);
}

function pull(agents: CourseAgents, req: Request, caller = named('x')): CourseTask {
  const task = agents.lease(req, caller);
  if (task === null || typeof task === 'string') throw new Error(`no task: ${String(task)}`);
  return task;
}

beforeEach(() => {
  // The protocol's once-a-second guest sweep must not outlive a test.
  vi.useFakeTimers();
  scheduler = new StandIn();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('id-type negotiation (auto)', () => {
  it('sends numbers first; an unanswered lease switches the agent to strings, excused', () => {
    const agents = protocol();
    const req = connection('10.0.0.1');
    const first = pull(agents, req);
    expect(typeof first.id).toBe('number');
    // Until it has answered, it holds one lease at a time.
    expect(agents.lease(req, named('x'))).toBeNull();
    expect(scheduler.expire(first)).toBe(true);
    const second = pull(agents, req);
    expect(typeof second.id).toBe('string');
  });

  it('once both types went unanswered, an expiry is no longer excused', () => {
    const agents = protocol();
    const req = connection('10.0.0.1');
    expect(scheduler.expire(pull(agents, req))).toBe(true);
    expect(scheduler.expire(pull(agents, req))).toBe(false);
  });

  it('a lease sent with a type the agent has moved away from is excused', () => {
    const agents = protocol();
    const req = connection('10.0.0.1');
    const first = pull(agents, req);
    // Judged early (overdue, before its deadline): the agent switches while the lease is held.
    expect(scheduler.excuse(scheduler.leaseOf(first), true)).toBe(true);
    expect(scheduler.excuse(scheduler.leaseOf(first), false)).toBe(true);
  });

  it('an answered type sticks, and a new agent at that address starts with it', async () => {
    const agents = protocol();
    const req = connection('10.0.0.1');
    scheduler.expire(pull(agents, req));
    const asString = pull(agents, req);
    expect(await agents.submit(req, named('x'), Number(asString.id), '2')).toBe('accepted');
    // Proven: its expiries are strikes like anyone's.
    const later = pull(agents, req);
    expect(typeof later.id).toBe('string');
    expect(scheduler.expire(later)).toBe(false);
    // Another agent from the same address starts with strings; one from elsewhere with numbers.
    expect(typeof pull(agents, connection('10.0.0.1'), named('y')).id).toBe('string');
    expect(typeof pull(agents, connection('10.0.0.2'), named('z')).id).toBe('number');
  });

  it('a late answer to a probe judged early proves its type after all', async () => {
    const agents = protocol();
    const req = connection('10.0.0.1');
    const probe = pull(agents, req);
    expect(typeof probe.id).toBe('number');
    scheduler.expire(probe, true);
    const switched = pull(agents, req);
    expect(typeof switched.id).toBe('string');
    // The answer to the number-id probe arrives after its lease went elsewhere: refused, but
    // the agent gets numbers again.
    scheduler.leases.release(scheduler.leaseOf(switched));
    expect(await agents.submit(req, named('x'), Number(probe.id), '2')).toBe('unknown');
    expect(typeof pull(agents, req).id).toBe('number');
  });
});

describe('a fixed id type', () => {
  it('is always sent, and its expiries are never excused', () => {
    const agents = protocol('string');
    const req = connection('10.0.0.1');
    const first = pull(agents, req);
    expect(typeof first.id).toBe('string');
    expect(scheduler.expire(first)).toBe(false);
    expect(typeof pull(agents, req).id).toBe('string');
  });
});
