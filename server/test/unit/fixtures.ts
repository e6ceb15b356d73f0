// Small real parts for the scheduler's unit tests: plans written by hand (so a test can give an
// operation exactly the place in the DAG it needs), stored records, runs, leases and agents.
// Nothing here starts an orchestrator, a socket or a timer.
import { compile, type Operand, type Plan, type PlanOp, type Task } from '@expressionist/core';
import {
  type Agent,
  type AgentChannel,
  type AgentInit,
} from '../../src/scheduler/agent-registry.js';
import { ExpressionRun } from '../../src/scheduler/expression-run.js';
import type { CourseTicket, Lease } from '../../src/scheduler/lease-table.js';
import { ObjectPlan } from '../../src/scheduler/plan-source.js';
import type { StoredExpression } from '../../src/store/store.js';

/** An input of a hand-made op: a number is the op with that id, a string a literal. */
export type Ref = number | string;

const operand = (ref: Ref): Operand =>
  typeof ref === 'number' ? { kind: 'op', id: ref } : { kind: 'lit', value: ref };

/**
 * A plan of `+` ops with the given inputs; ids are the array's indexes (inputs must come first)
 * and the last op is the root.
 */
export function handPlan(inputs: readonly (readonly [Ref, Ref])[]): Plan {
  const depth: number[] = [];
  const ops = inputs.map(([a, b], id): PlanOp => {
    const d =
      1 + Math.max(typeof a === 'number' ? depth[a]! : 0, typeof b === 'number' ? depth[b]! : 0);
    depth.push(d);
    return {
      id,
      op: '+',
      a: operand(a),
      b: operand(b),
      span: { start: 0, end: 1 },
      opPos: 0,
      depth: d,
    };
  });
  return { ops, root: { kind: 'op', id: ops.length - 1 }, criticalPathOps: Math.max(0, ...depth) };
}

export function storedExpression(
  id: string,
  opCount: number,
  owner: string | null = null,
): StoredExpression {
  return {
    id,
    expression: 'by hand',
    normalized: id,
    status: 'pending',
    value: null,
    error: null,
    createdAt: 0,
    startedAt: null,
    finishedAt: null,
    opCount,
    cached: false,
    owner,
  };
}

/** A run of a hand-made plan, or of an expression compiled by core. */
export function runOf(
  plan: Plan | string,
  opts: { id?: string; owner?: string | null; deferSetup?: boolean } = {},
): ExpressionRun {
  const p = typeof plan === 'string' ? compile(plan).plan : plan;
  return new ExpressionRun(
    storedExpression(opts.id ?? 'e1', p.ops.length, opts.owner ?? null),
    new ObjectPlan(p),
    opts.deferSetup ?? false,
  );
}

/**
 * A run of `n` independent sums (ops 0 … n-1, ready at once) under one chain of sums that adds
 * them up; its computable ops are marked ready.
 */
export function wideRun(
  n: number,
  opts: { id?: string; owner?: string | null } = {},
): ExpressionRun {
  const inputs: [Ref, Ref][] = [];
  for (let i = 0; i < n; i += 1) inputs.push([String(i), '1']);
  for (let i = 1, acc = 0; i < n; i += 1) {
    inputs.push([acc, i]);
    acc = inputs.length - 1;
  }
  const run = runOf(handPlan(inputs), opts);
  readyAll(run);
  return run;
}

/** Marks every computable op of `run` ready (what the scheduler does when a run is accepted). */
export function readyAll(run: ExpressionRun): number[] {
  const ids = run.computable();
  for (const id of ids) run.markReady(id);
  return ids;
}

/** Takes ready ops until none is left. */
export function drain(run: ExpressionRun): number[] {
  const taken: number[] = [];
  for (let id = run.takeReady(); id !== undefined; id = run.takeReady()) taken.push(id);
  return taken;
}

/** A channel that records the tasks it was sent. */
export interface RecordingChannel extends AgentChannel {
  sent: string[][];
  revoked: string[][];
}

const recordings = new WeakMap<AgentChannel, RecordingChannel>();

export function recordingChannel(): RecordingChannel {
  const sent: string[][] = [];
  const revoked: string[][] = [];
  const channel: RecordingChannel = {
    sent,
    revoked,
    sendTasks: (tasks) => void sent.push(tasks.map((t) => t.taskId)),
    revoke: (ids) => void revoked.push(ids),
    sendSettings: () => undefined,
    quarantine: () => undefined,
    close: () => undefined,
  };
  recordings.set(channel, channel);
  return channel;
}

/** What was sent to and revoked from `agent`, joined with a channel from `recordingChannel`. */
export function recorded(agent: Agent): RecordingChannel {
  const channel = agent.channel && recordings.get(agent.channel);
  if (!channel) throw new Error(`agent ${agent.id} has no recording channel`);
  return channel;
}

export function socketAgentInit(id: string, extra: Partial<AgentInit> = {}): AgentInit {
  return {
    id,
    name: id,
    kind: 'node',
    concurrency: 8,
    channel: recordingChannel(),
    now: 0,
    ...extra,
  };
}

/** A lease of `opId` of `run` as the scheduler's `assign` makes it (the attempt is started). */
export function leaseOf(
  run: ExpressionRun,
  opId: number,
  agent: Agent,
  now: number,
  opts: { lifetimeMs?: number; course?: CourseTicket; loan?: boolean; overdueMs?: number } = {},
): Lease {
  const { attempt } = run.startAttempt(opId, agent.id, now);
  const course = opts.course ?? null;
  return {
    taskId: `${run.id}:${opId}`,
    run,
    opId,
    attempt,
    agent,
    deadline: now + (opts.lifetimeMs ?? 1000),
    dispatchedAt: now,
    durationMs: 0,
    course,
    loan: opts.loan ?? false,
    probe: course !== null && !agent.proven,
    overdueAt: now + (opts.overdueMs ?? 500),
  };
}

/** The task of a lease, as the lifecycle's `taskOf` gives it (a `1 + 1` of the lease's length). */
export function taskOfLease(lease: Lease): Task {
  return {
    taskId: lease.taskId,
    attempt: lease.attempt,
    op: '+',
    a: '1',
    b: '1',
    durationMs: lease.durationMs,
  };
}
