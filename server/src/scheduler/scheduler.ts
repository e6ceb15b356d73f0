import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  ExpressionistError,
  durationOf,
  errorInfo,
  findZeroDivisor,
  type AgentView,
  type ExpressionView,
  type ParseLimits,
  type Settings,
  type SettingsPatch,
  type StatsView,
  type Task,
  type TaskResult,
} from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { ResultCache } from '../result-cache.js';
import type { Store } from '../store/store.js';
import { AgentLifecycle } from './agent-lifecycle.js';
import { CoursePort } from './course-port.js';
import type { Actor } from './actor.js';
import type { Agent, AgentChannel, StrikePolicy } from './agent-registry.js';
import { Dispatcher } from './dispatcher.js';
import { ExpressionRun, type RunEnd } from './expression-run.js';
import { ExpressionWriter } from './expression-writer.js';
import { PlanPool } from './plan-pool.js';
import { ReadyQueue } from './ready-queue.js';
import { Intake, cacheableError, divZeroError, type SubmitOutcome } from './intake.js';
import { LeaseTable, type CourseTicket, type Lease } from './lease-table.js';
import { recoverUnfinished } from './recovery.js';
import { ResultPath } from './results.js';
import { Retention } from './retention.js';
import { ResultWriter } from './result-writer.js';
import { SchedulerViews, Throughput, UNLIMITED, type Viewer } from './views.js';

export type { SubmitOutcome } from './intake.js';

/** Receives change notifications; the UI hub batches them into deltas. */
export interface SchedulerListener {
  expressionChanged(id: string): void;
  /** A finished expression of `owner` was deleted. */
  expressionRemoved(id: string, owner: string | null): void;
  operationsChanged(expressionId: string, opIds: readonly number[]): void;
  agentChanged(id: string): void;
  agentRemoved(id: string): void;
  settingsChanged(settings: Settings): void;
}

export interface SchedulerOptions {
  store: Store;
  cache: ResultCache;
  log: Logger;
  metrics: Metrics;
  settings: Settings;
  parseLimits: ParseLimits;
  /** Plans long expressions on worker threads; without one, everything plans in-thread. */
  planner?: PlanPool;
  /** Actors an operation's retries go around, at most (the latest that failed it). */
  maxAttempts: number;
  strikes: StrikePolicy;
  leaseGraceMs: number;
  httpAgentTimeoutMs: number;
  /** Days a finished expression is kept (0: forever) and how often expired ones are swept. */
  retention?: { days: number; sweepEveryMs: number };
  /**
   * Runs of more operations than this are set up a slice of this many operations per event-loop
   * turn (see `setUpInSlices`); smaller ones at once, in `submit`. Default `SETUP_SLICE_OPS`.
   */
  setupSliceOps?: number;
}

/**
 * Operations per setup slice: each slice is one walk over this many ops (typed arrays only), or
 * the readying of their ready ones: 0.2–1 ms of CPU on the 2-core EPYC of BENCHMARKS.md, up to
 * ~20 ms of wall clock when that machine is loaded.
 */
export const SETUP_SLICE_OPS = 8192;
const RECENT_RUNS = 200;
const STALLED_CHECK_MS = 200;
/**
 * A loan is overdue this long (or half its operation's time, if more) after the operation's time:
 * a margin for the round trip of an agent on a slow network before its loan may go elsewhere.
 */
const LOAN_MARGIN_MS = 500;
/**
 * The same margin for a course agent's first leases (probes): a little wider, since judging one
 * overdue switches its task-id type.
 */
const PROBE_MARGIN_MS = 1000;

/**
 * The orchestrator's write path and the one facade HTTP, realtime and main call. It owns every
 * unfinished expression and moves it forward: intake → ready queue → lease to an agent → verified
 * result stored → consumers released → finished. The parts live one concern per file — intake,
 * ready queue (fairness), dispatcher (prefetch, loans), lease table (deadlines, fencing, stalled checker),
 * results (verify, store before release), recovery, agent lifecycle — and the read model is
 * `views`.
 */
export class Scheduler {
  readonly views: SchedulerViews;
  readonly agents: AgentLifecycle;
  /** What the course HTTP protocol works through. */
  readonly course: CoursePort;
  /** Deleting finished expressions: the retention sweeper and users' deletions. */
  readonly retention: Retention;
  private readonly runs = new Map<string, ExpressionRun>();
  private readonly unfinished = new Map<string, number>();
  /** Operations of each owner's unfinished expressions, in all. */
  private readonly unfinishedOps = new Map<string, number>();
  /** Finished runs kept briefly so live detail views can show their last state. */
  private readonly recent = new Map<string, ExpressionRun>();
  private readonly queue = new ReadyQueue();
  private readonly leaseTable = new LeaseTable();
  private readonly dispatcher: Dispatcher;
  private readonly intake: Intake;
  private readonly results: ResultPath;
  private readonly resultWriter: ResultWriter;
  private readonly expressionWriter: ExpressionWriter;
  private readonly throughput = new Throughput();
  /** Keys task ids (see `taskIdOf`). */
  private readonly taskKey = randomBytes(32);
  private current: Settings;
  private listener: SchedulerListener | null = null;
  private open = true;
  private readonly setupSlice: number;

  constructor(private readonly o: SchedulerOptions) {
    this.current = o.settings;
    this.setupSlice = o.setupSliceOps ?? SETUP_SLICE_OPS;
    if (!Number.isInteger(this.setupSlice) || this.setupSlice < 1)
      throw new RangeError('setupSliceOps: a positive integer');
    this.resultWriter = new ResultWriter(o.store, o.log, (rows, ms, ok) => {
      o.metrics.storeWriteLatency.observe({ ok: String(ok) }, ms / 1000);
      if (ok) o.metrics.storeWriteRows.inc(rows);
    });
    this.expressionWriter = new ExpressionWriter(o.store, o.log);
    const planner = o.planner ?? new PlanPool({ limits: o.parseLimits, threshold: 0 });
    this.intake = new Intake(o.store, o.cache, o.log, planner);
    this.agents = new AgentLifecycle(
      this.leaseTable,
      {
        settings: () => this.current,
        requeue: (lease, reason, counts, avoid) => this.requeue(lease, reason, counts, avoid),
        dispatchSoon: () => this.dispatcher.schedule(),
        capacityChanged: () => this.capacityChanged(),
        agentChanged: (id) => this.listener?.agentChanged(id),
        agentRemoved: (id) => {
          this.course.forget(id);
          this.listener?.agentRemoved(id);
        },
      },
      o.log,
      o.metrics,
      o.httpAgentTimeoutMs,
      o.strikes,
      o.store,
    );
    this.dispatcher = new Dispatcher(this.queue, this.agents.registry, {
      settings: () => this.current,
      assign: (run, opId, agent, now, loan) => this.assign(run, opId, agent, now, null, loan).task,
      agentChanged: (agent) => this.agentChanged(agent),
    });
    this.results = new ResultPath(this.leaseTable, this.resultWriter, o.metrics, o.log, {
      onStored: (l, v) => this.onStored(l.run, l.opId, v),
      failDeterministic: (lease, err) => this.failDeterministic(lease, err),
      quarantine: (agent, reason) => void this.agents.quarantine(agent, reason),
      fault: (lease, reason) => this.fault(lease, reason),
    });
    this.course = new CoursePort({
      isOpen: () => this.open,
      ring: this.queue,
      agents: this.agents,
      leases: this.leaseTable,
      results: this.results,
      assign: (run, opId, agent, now, ticket, loan) =>
        this.assign(run, opId, agent, now, ticket, loan),
      requeue: (lease, reason, avoid, counts) => this.requeue(lease, reason, counts, avoid),
      fault: (lease, reason) => this.fault(lease, reason),
      failDeterministic: (lease, err) => this.failDeterministic(lease, err),
      dispatchSoon: () => this.dispatcher.schedule(),
      agentChanged: (agent) => this.agentChanged(agent),
    });
    this.retention = new Retention({
      store: o.store,
      log: o.log,
      retentionDays: o.retention?.days ?? 0,
      sweepEveryMs: o.retention?.sweepEveryMs ?? 60_000,
      isRunning: (id) => this.runs.has(id),
      removed: (id, owner) => {
        this.recent.delete(id);
        this.listener?.expressionRemoved(id, owner);
      },
    });
    this.views = new SchedulerViews({
      store: o.store,
      agents: this.agents.registry,
      throughput: this.throughput,
      settings: () => this.current,
      runOf: (id) => this.runs.get(id) ?? this.recent.get(id),
      readyCount: () => this.queue.readyCount,
      leasesInFlight: () => this.leaseTable.size,
      replan: async (source) => (await planner.compile(source, UNLIMITED)).plan,
    });
  }

  setListener(listener: SchedulerListener): void {
    this.listener = listener;
  }

  /** Reloads unfinished expressions and starts the lease and retention checkers. */
  async start(): Promise<void> {
    await recoverUnfinished(this.o.store, this.expressionWriter, this.o.log, (run, rootValue) => {
      this.track(run);
      if (rootValue !== undefined) this.finish(run, { status: 'done', value: rootValue });
      else for (const opId of run.computable()) this.makeReady(run, opId);
    });
    this.dispatcher.schedule();
    this.leaseTable.startChecker(
      STALLED_CHECK_MS,
      (expired, now) => this.onExpired(expired, now),
      (loans) => this.reclaimOverdue(loans),
    );
    await this.agents.start();
    this.retention.start();
  }

  /** Stops taking work; waits (bounded) for pending writes. Agents are told by the caller. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.open = false;
    this.leaseTable.stopChecker();
    this.agents.stop();
    this.retention.stop();
    await Promise.race([
      Promise.all([this.resultWriter.drained(), this.expressionWriter.drained()]),
      new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }

  get isAccepting(): boolean {
    return this.open;
  }

  // ------------------------------------------------------------------ expressions

  /**
   * Parses, plans and stores a new expression owned by `owner` (a user id; none in open mode);
   * a known client id returns the existing one.
   */
  async submit(expression: string, clientId?: string, owner?: string): Promise<SubmitOutcome> {
    if (!this.open) throw ExpressionistError.of('SHUTTING_DOWN', {});
    const accepted = await this.intake.accept(expression, clientId, owner);
    if (accepted.kind === 'existing') return { created: false, id: accepted.id };
    this.o.metrics.expressionsSubmitted.inc({ cached: String(accepted.stored.cached) });
    if (accepted.kind === 'immediate') {
      this.o.metrics.expressionLatency.observe(0);
      this.listener?.expressionChanged(accepted.stored.id);
    } else if (accepted.plan.size <= this.setupSlice) {
      const run = new ExpressionRun(accepted.stored, accepted.plan);
      this.track(run);
      for (const opId of run.computable()) this.makeReady(run, opId);
      this.listener?.expressionChanged(run.id);
      this.dispatcher.schedule();
    } else {
      const run = new ExpressionRun(accepted.stored, accepted.plan, true);
      this.track(run);
      this.listener?.expressionChanged(run.id);
      this.setUpInSlices(run);
    }
    return { created: true, id: accepted.stored.id };
  }

  /**
   * Sets up a big run a slice per event-loop turn, so nothing else waits on it for more than a
   * slice: first its indexes (`ExpressionRun.setUp`), then its ready operations, in id order (the
   * first ones are dispatched while later slices are readied). The run is tracked from the start:
   * views show it pending with nothing done, and a cancel (or a zero divisor found while readying)
   * ends it, which stops the setup. An op that becomes ready meanwhile because its inputs were
   * computed is readied by `onStored`; the walk skips it (it is no longer Waiting).
   */
  private setUpInSlices(run: ExpressionRun): void {
    const slice = this.setupSlice;
    let next = 0;
    const step = (): void => {
      if (run.finished) return;
      if (!run.setUp(slice)) {
        setImmediate(step);
        return;
      }
      const to = Math.min(run.total, next + slice);
      const readied: number[] = [];
      for (; next < to && !run.finished; next += 1)
        if (run.isComputable(next) && this.enqueueReady(run, next)) readied.push(next);
      if (readied.length > 0) {
        this.listener?.operationsChanged(run.id, readied);
        this.dispatcher.schedule();
      }
      if (next < run.total && !run.finished) setImmediate(step);
      else this.listener?.expressionChanged(run.id);
    };
    setImmediate(step);
  }

  /**
   * Cancels an unfinished expression: drops its queued work and revokes running attempts.
   * `visible(owner)` false answers as if it did not exist.
   */
  async cancel(
    id: string,
    visible: (owner: string | null) => boolean = () => true,
  ): Promise<ExpressionView> {
    const run = this.runs.get(id);
    if (run && !visible(run.stored.owner))
      throw ExpressionistError.of('EXPRESSION_NOT_FOUND', { id });
    if (!run) {
      const stored = await this.o.store.getExpression(id);
      if (!stored || !visible(stored.owner))
        throw ExpressionistError.of('EXPRESSION_NOT_FOUND', { id });
      throw ExpressionistError.of('ALREADY_FINISHED', { id, status: stored.status });
    }
    this.finish(run, { status: 'canceled', error: errorInfo('EXPR_CANCELED', {}) });
    return this.views.ofRun(run);
  }

  /**
   * Cancels every unfinished expression of `owner` (their account was disabled or deleted);
   * returns how many.
   */
  cancelAllOf(owner: string): number {
    let canceled = 0;
    for (const run of [...this.runs.values()]) {
      if (run.stored.owner !== owner) continue;
      this.finish(run, { status: 'canceled', error: errorInfo('EXPR_CANCELED', {}) });
      canceled += 1;
    }
    return canceled;
  }

  /** Queues an op whose inputs are known, unless a zero divisor ends the expression first. */
  private makeReady(run: ExpressionRun, opId: number): void {
    if (this.enqueueReady(run, opId)) this.listener?.operationsChanged(run.id, [opId]);
  }

  /** `makeReady` without telling the listener; returns whether the op was queued. */
  private enqueueReady(run: ExpressionRun, opId: number): boolean {
    if (run.finished) return false;
    if (run.operatorOf(opId) === '/') {
      // Regrouping can move a divisor into the numerator (`a/(b/0)` runs as `(a*0)/b`), so all
      // original divisor factors are checked, not just `b`.
      const position = findZeroDivisor(run.op(opId), (o) => run.valueOf(o) ?? '1');
      if (position !== undefined) {
        this.finish(run, {
          status: 'error',
          error: divZeroError(run.stored.expression, position),
          cacheable: true,
        });
        return false;
      }
    }
    run.markReady(opId);
    this.queue.enqueue(run);
    return true;
  }

  /**
   * Leases `opId` to `agent` (socket push, or a course pull under `course`); `loan`: beyond its
   * window, because nobody could take it within theirs.
   */
  private assign(
    run: ExpressionRun,
    opId: number,
    agent: Agent,
    now: number,
    course: CourseTicket | null,
    loan = false,
  ): { lease: Lease; task: Task } {
    const op = run.op(opId);
    const durationMs = durationOf(op.op, this.current);
    const { attempt, started } = run.startAttempt(opId, agent.id, now);
    const lease: Lease = {
      taskId: this.taskIdOf(run.id, opId),
      run,
      opId,
      attempt,
      agent,
      deadline: now + durationMs + this.o.leaseGraceMs,
      dispatchedAt: now,
      course,
      loan,
      probe: course !== null && !agent.proven,
      overdueAt:
        now +
        durationMs +
        Math.max(
          course !== null && !agent.proven ? PROBE_MARGIN_MS : LOAN_MARGIN_MS,
          durationMs / 2,
        ),
    };
    this.leaseTable.add(lease);
    this.o.metrics.opsDispatched.inc({ kind: agent.kind });
    if (started) this.expressionWriter.write(run.id, { status: 'in_progress', startedAt: now });
    this.listener?.expressionChanged(run.id);
    this.listener?.operationsChanged(run.id, [opId]);
    const task: Task = {
      taskId: lease.taskId,
      attempt,
      op: op.op,
      a: run.valueOf(op.a)!,
      b: run.valueOf(op.b)!,
      durationMs,
    };
    return { lease, task };
  }

  /**
   * Puts an attempt back in the ready queue. `counts` says whether it says something about the
   * operation (shown as a failed attempt; a lost connection does not). Nothing an agent does
   * fails an expression: only errors the orchestrator confirms itself do (`failDeterministic`).
   * `avoid` names the actor the retry should go around while another can take it.
   */
  private requeue(lease: Lease, reason: string, counts: boolean, avoid?: string): void {
    this.leaseTable.release(lease);
    const { run, opId } = lease;
    if (run.finished) return;
    run.retry(opId, counts, avoid, this.o.maxAttempts);
    this.o.metrics.opsRequeued.inc({ reason });
    this.makeReady(run, opId);
    this.dispatcher.schedule();
  }

  /**
   * The holder of `lease` failed it in a way the orchestrator cannot reproduce (an error report
   * whose operation computes fine here, a guest's wrong value): the agent's own failure, charged
   * to its actor like an expired lease, and the task goes to someone else.
   */
  private fault(lease: Lease, reason: 'agent_error' | 'wrong_result'): void {
    const agent = lease.agent;
    this.requeue(lease, reason, true, agent.actor.key);
    this.agents.strike(agent, Date.now(), [lease.dispatchedAt]);
    this.agentChanged(agent);
  }

  /**
   * Overdue leases before their deadline. A course agent that never answered and cannot decode
   * its task's id type is told apart early (the protocol switches the type; no strike, no
   * attempt). A loan whose holder is overdue goes to an agent of another actor that is free now
   * (the holder may be slow, or silent: either way someone else can do it sooner); without one,
   * the loan stays and its lease expires as usual.
   */
  private reclaimOverdue(leases: Lease[]): void {
    // Free slots per actor, counted once: at most as many loans are taken back as others can take
    // now (the dispatch that hands them out runs after this turn).
    let spare: Map<Actor, number> | undefined;
    for (const lease of leases) {
      if (this.leaseTable.get(lease.taskId) !== lease) continue;
      const holder = lease.agent;
      if (lease.probe && this.course.excused(lease, true)) {
        this.o.log.info({ taskId: lease.taskId, agent: holder.name }, 'course id type switched');
        this.requeue(lease, 'course_id_type', false);
        this.agentChanged(holder);
        continue;
      }
      if (!lease.loan) continue;
      spare ??= this.agents.registry.spareByActor(this.dispatcher.depth());
      const taker = [...spare.keys()].find((actor) => actor !== holder.actor);
      if (taker === undefined) continue;
      const left = spare.get(taker)! - 1;
      if (left > 0) spare.set(taker, left);
      else spare.delete(taker);
      holder.channel?.revoke([lease.taskId]);
      this.o.log.debug({ taskId: lease.taskId, agent: holder.name }, 'overdue loan taken back');
      this.requeue(lease, 'loan_overdue', false, holder.actor.key);
      this.agentChanged(holder);
    }
  }

  /**
   * Stalled checker: an expired lease is revoked and retried on another actor's agent when one
   * exists. The expiry is a strike on its holder's actor. An expiry the course protocol excuses
   * (an id type the agent could not decode, or a guest whose connections all closed) is not.
   */
  private onExpired(expired: Lease[], now: number): void {
    const strikes = new Map<Agent, number[]>();
    for (const lease of expired) {
      if (this.leaseTable.get(lease.taskId) !== lease) continue;
      const agent = lease.agent;
      this.o.metrics.leasesExpired.inc({ kind: agent.kind });
      agent.channel?.revoke([lease.taskId]);
      const excused = this.course.excused(lease);
      this.o.log.info(
        { taskId: lease.taskId, attempt: lease.attempt, agent: agent.name, excused },
        'lease expired',
      );
      // An excused expiry says nothing against its actor: the retry need not go around it.
      this.requeue(lease, 'lease_expired', !excused, excused ? undefined : agent.actor.key);
      if (!excused) strikes.set(agent, [...(strikes.get(agent) ?? []), lease.dispatchedAt]);
      this.agentChanged(agent);
    }
    for (const [agent, sentAt] of strikes) this.agents.strike(agent, now, sentAt);
  }

  /** Expressions with ready work re-render: whether they wait for an agent may have changed. */
  private capacityChanged(): void {
    let shown = 0;
    for (const run of this.runs.values()) {
      if (!run.hasReady) continue;
      this.listener?.expressionChanged(run.id);
      if ((shown += 1) >= RECENT_RUNS) break;
    }
  }

  // ------------------------------------------------------------------ results

  /**
   * Results from a socket agent (already schema-validated). They count only when `channel` holds
   * the registration of `agentId`; false when it does not (the batch was dropped).
   */
  handleResults(agentId: string, channel: AgentChannel, results: TaskResult[]): boolean {
    const agent = this.agents.holder(agentId, channel);
    if (!agent) return false;
    this.results.acceptBatch(agent, results);
    this.agentChanged(agent);
    this.dispatcher.schedule();
    return true;
  }

  /** Ends the expression of `lease` with a failure no retry can change (a result too large). */
  private failDeterministic(lease: Lease, err: ExpressionistError): void {
    this.leaseTable.release(lease);
    const op = lease.run.op(lease.opId);
    this.o.metrics.opsFailed.inc({ reason: err.code });
    this.finish(lease.run, {
      status: 'error',
      error: errorInfo(
        'EXPR_RESULT_TOO_LARGE',
        { op: op.op, column: op.opPos, reason: err.message },
        op.opPos,
      ),
      cacheable: true,
    });
  }

  private onStored(run: ExpressionRun, opId: number, value: string): void {
    this.throughput.count(Date.now());
    this.o.metrics.opsCompleted.inc();
    if (run.finished) return;
    const released = run.complete(opId, value, Date.now());
    this.listener?.operationsChanged(run.id, [opId]);
    if (run.isRoot(opId)) {
      this.finish(run, { status: 'done', value });
      return;
    }
    for (const consumer of released) this.makeReady(run, consumer);
    this.listener?.expressionChanged(run.id);
    this.dispatcher.schedule();
  }

  private finish(run: ExpressionRun, end: RunEnd): void {
    if (run.finished) return;
    const now = Date.now();
    const revokeByAgent = new Map<Agent, string[]>();
    for (const lease of this.leaseTable.ofRun(run)) {
      this.leaseTable.release(lease);
      const ids = revokeByAgent.get(lease.agent) ?? [];
      ids.push(lease.taskId);
      revokeByAgent.set(lease.agent, ids);
    }
    for (const [agent, ids] of revokeByAgent) {
      agent.channel?.revoke(ids);
      this.agentChanged(agent);
    }
    const changed = run.finish(end, now);
    const stored = run.stored;
    if (end.status === 'done')
      this.o.cache.set(stored.owner, stored.normalized, { value: end.value });
    else if (end.cacheable)
      this.o.cache.set(
        stored.owner,
        stored.normalized,
        cacheableError(stored.expression, end.error),
      );
    this.expressionWriter.write(run.id, {
      status: stored.status,
      value: stored.value,
      error: stored.error,
      startedAt: stored.startedAt,
      finishedAt: now,
    });
    this.o.metrics.expressionLatency.observe((now - stored.createdAt) / 1000);
    this.runs.delete(run.id);
    const owner = stored.owner;
    if (owner !== null) {
      const left = (this.unfinished.get(owner) ?? 1) - 1;
      if (left > 0) this.unfinished.set(owner, left);
      else this.unfinished.delete(owner);
      const ops = (this.unfinishedOps.get(owner) ?? run.total) - run.total;
      if (ops > 0 && left > 0) this.unfinishedOps.set(owner, ops);
      else this.unfinishedOps.delete(owner);
    }
    this.recent.set(run.id, run);
    if (this.recent.size > RECENT_RUNS) this.recent.delete(this.recent.keys().next().value!);
    if (changed.length > 0) this.listener?.operationsChanged(run.id, changed);
    this.listener?.expressionChanged(run.id);
    this.dispatcher.schedule();
  }

  private agentChanged(agent: Agent): void {
    this.listener?.agentChanged(agent.id);
  }

  /**
   * The id agents know a task by: opaque, the same for every attempt of one operation. An
   * expression id names its owner and their idempotency key (`<user>.<client id>`), which are not
   * an agent's business; an HMAC under a key of this process hides them and cannot be forged.
   */
  private taskIdOf(expressionId: string, opId: number): string {
    return createHmac('sha256', this.taskKey)
      .update(`${expressionId}:${opId}`)
      .digest('base64url')
      .slice(0, 22);
  }

  /** Unfinished expressions of `owner` (for the per-user limit). */
  unfinishedOf(owner: string): number {
    return this.unfinished.get(owner) ?? 0;
  }

  /** Operations of `owner`'s unfinished expressions, in all (for the per-user limit). */
  unfinishedOpsOf(owner: string): number {
    return this.unfinishedOps.get(owner) ?? 0;
  }

  /** Holds a run in memory until it finishes (counted per owner). */
  private track(run: ExpressionRun): void {
    this.runs.set(run.id, run);
    const owner = run.stored.owner;
    if (owner === null) return;
    this.unfinished.set(owner, (this.unfinished.get(owner) ?? 0) + 1);
    this.unfinishedOps.set(owner, (this.unfinishedOps.get(owner) ?? 0) + run.total);
  }

  // ------------------------------------------------------------------ settings

  getSettings(): Settings {
    return this.current;
  }

  /** Takes settings already stored (a new leader of several orchestrators, before it starts). */
  adoptSettings(settings: Settings): void {
    this.current = settings;
  }

  async updateSettings(patch: SettingsPatch): Promise<Settings> {
    const next: Settings = { ...this.current, ...patch };
    await this.o.store.saveSettings(next).catch((err: unknown) => {
      this.o.log.warn({ err }, 'storing settings failed');
      throw ExpressionistError.of('STORE_UNAVAILABLE', { what: 'settings were not changed.' });
    });
    this.current = next;
    if (patch.lostAgentRetentionMs !== undefined) this.agents.retime(next.lostAgentRetentionMs);
    for (const agent of this.agents.registry.all()) agent.channel?.sendSettings(next);
    this.listener?.settingsChanged(next);
    return next;
  }

  // ------------------------------------------------------------------ read shortcuts

  agentViews(viewer: Viewer = null): AgentView[] {
    return this.views.agentViews(viewer);
  }

  agentView(id: string, viewer: Viewer = null): AgentView | null {
    return this.views.agentView(id, viewer);
  }

  stats(): StatsView {
    const stats = this.views.stats();
    this.o.metrics.readyQueue.set(stats.readyQueue);
    return stats;
  }
}
