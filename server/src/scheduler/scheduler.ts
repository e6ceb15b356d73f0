/**
 * The scheduler's coordinator: the one facade HTTP, realtime and main call, wiring the write
 * path's parts (intake, ready queue, dispatcher, leases, results, finisher) to each other.
 */
import {
  ExpressionistError,
  type ExpressionView,
  type Settings,
  type SettingsPatch,
  type StatsView,
  type TaskResult,
} from '@expressionist/core';
import { AgentLifecycle } from './agent-lifecycle.js';
import { CoursePort } from './course-port.js';
import type { Agent, AgentChannel } from './agent.js';
import { Dispatcher } from './dispatcher.js';
import { ExpressionRun } from './expression-run.js';
import { ExpressionWriter } from './expression-writer.js';
import { PlanPool } from './plan-pool.js';
import { ReadyQueue } from './ready-queue.js';
import { Intake, type SubmitOutcome } from './intake.js';
import { LeaseExpiry } from './lease-expiry.js';
import { LeaseIssuer } from './lease-issuer.js';
import { LeaseTable } from './lease-table.js';
import { SettingsPush } from './settings-push.js';
import { recoverUnfinished } from './recovery.js';
import { ResultPath } from './results.js';
import { Retention } from './retention.js';
import { ResultWriter } from './result-writer.js';
import { RunFinisher } from './run-finisher.js';
import { RunProgress } from './run-progress.js';
import { RECENT_RUNS, RunTable } from './run-table.js';
import type { SchedulerListener, SchedulerOptions } from './scheduler-options.js';
import { SettingsKeeper } from './settings-keeper.js';
import { SETUP_SLICE_OPS, setUpInSlices } from './sliced-setup.js';
import { Throughput } from './throughput.js';
import { SchedulerViews, UNLIMITED } from './views.js';

export type { SubmitOutcome } from './intake.js';
export type { SchedulerListener, SchedulerOptions } from './scheduler-options.js';

const STALLED_CHECK_MS = 200;
/**
 * The orchestrator's write path and the one facade HTTP, realtime and main call. It owns every
 * unfinished expression and moves it forward: intake → ready queue → lease to an agent → verified
 * result stored → consumers released → finished. It wires its parts, one concern per file: intake,
 * run table, sliced setup, run progress, ready queue (fairness), dispatcher (prefetch, loans),
 * lease issuer, lease table (deadlines, fencing, stalled checker), lease expiry, results (verify,
 * store before release), run finisher, settings keeper, recovery, agent lifecycle; the read model
 * is `views`.
 */
export class Scheduler {
  readonly views: SchedulerViews;
  readonly agents: AgentLifecycle;
  /** What the course HTTP protocol works through. */
  readonly course: CoursePort;
  /** Deleting finished expressions: the retention sweeper and users' deletions. */
  readonly retention: Retention;
  private readonly runs = new RunTable();
  private readonly queue = new ReadyQueue();
  private readonly leaseTable: LeaseTable;
  private readonly dispatcher: Dispatcher;
  private readonly intake: Intake;
  private readonly results: ResultPath;
  private readonly resultWriter: ResultWriter;
  private readonly expressionWriter: ExpressionWriter;
  private readonly finisher: RunFinisher;
  private readonly progress: RunProgress;
  private readonly issuer: LeaseIssuer;
  private readonly expiry: LeaseExpiry;
  private readonly settings: SettingsKeeper;
  private readonly throughput = new Throughput();
  private readonly settingsPush = new SettingsPush(
    () => this.agents.registry.all(),
    () => this.settings.get(),
  );
  private listener: SchedulerListener | null = null;
  private open = true;
  private readonly setupSlice: number;

  constructor(private readonly o: SchedulerOptions) {
    this.leaseTable = new LeaseTable(o.clock);
    this.settings = new SettingsKeeper(o.settings, o.store, o.log, (next, patch) => {
      if (patch.lostAgentRetentionMs !== undefined) this.agents.retime(next.lostAgentRetentionMs);
      this.settingsPush.push();
      this.listener?.settingsChanged(next);
    });
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
        settings: () => this.settings.get(),
        taskOf: (lease) => this.issuer.taskOf(lease),
        requeue: (lease, reason, counts, avoid) =>
          this.progress.requeue(lease, reason, counts, avoid),
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
      o.clock,
      o.reconnectGraceMs,
    );
    this.dispatcher = new Dispatcher(this.queue, this.agents.registry, {
      settings: () => this.settings.get(),
      assign: (run, opId, agent, now, loan) =>
        this.issuer.assign(run, opId, agent, now, null, loan).task,
      agentChanged: (agent) => this.agentChanged(agent),
    });
    this.results = new ResultPath(this.leaseTable, this.resultWriter, o.metrics, o.log, {
      onStored: (l, v) => this.progress.onStored(l.run, l.opId, v),
      failDeterministic: (lease, err) => this.finisher.failDeterministic(lease, err),
      quarantine: (agent, reason) => void this.agents.quarantine(agent, reason),
      fault: (lease, reason) => this.expiry.fault(lease, reason),
    });
    this.course = new CoursePort({
      isOpen: () => this.open,
      queue: this.queue,
      agents: this.agents,
      leases: this.leaseTable,
      results: this.results,
      assign: (run, opId, agent, now, ticket, loan) =>
        this.issuer.assign(run, opId, agent, now, ticket, loan),
      requeue: (lease, reason, avoid, counts) =>
        this.progress.requeue(lease, reason, counts, avoid),
      fault: (lease, reason) => this.expiry.fault(lease, reason),
      failDeterministic: (lease, err) => this.finisher.failDeterministic(lease, err),
      dispatchSoon: () => this.dispatcher.schedule(),
      agentChanged: (agent) => this.agentChanged(agent),
    });
    this.retention = new Retention({
      store: o.store,
      log: o.log,
      retentionMs: () => this.settings.get().retentionMs,
      sweepEveryMs: o.retention?.sweepEveryMs ?? 60_000,
      isRunning: (id) => this.runs.has(id),
      removed: (id, owner) => {
        this.runs.forget(id);
        this.listener?.expressionRemoved(id, owner);
      },
    });
    this.views = new SchedulerViews({
      store: o.store,
      agents: this.agents.registry,
      throughput: this.throughput,
      settings: () => this.settings.get(),
      runOf: (id) => this.runs.runOf(id),
      readyCount: () => this.queue.readyCount,
      leasesInFlight: () => this.leaseTable.size,
      replan: async (source) => (await planner.compile(source, UNLIMITED)).plan,
    });
    this.finisher = new RunFinisher({
      runs: this.runs,
      leases: this.leaseTable,
      store: o.store,
      cache: o.cache,
      expressionWriter: this.expressionWriter,
      metrics: o.metrics,
      viewOf: (run) => this.views.ofRun(run),
      operationsChanged: (id, opIds) => this.listener?.operationsChanged(id, opIds),
      expressionChanged: (id) => this.listener?.expressionChanged(id),
      agentChanged: (agent) => this.agentChanged(agent),
      dispatchSoon: () => this.dispatcher.schedule(),
    });
    this.progress = new RunProgress({
      queue: this.queue,
      leases: this.leaseTable,
      finisher: this.finisher,
      metrics: o.metrics,
      throughput: this.throughput,
      maxAttempts: o.maxAttempts,
      operationsChanged: (id, opIds) => this.listener?.operationsChanged(id, opIds),
      expressionChanged: (id) => this.listener?.expressionChanged(id),
      dispatchSoon: () => this.dispatcher.schedule(),
    });
    this.issuer = new LeaseIssuer({
      leases: this.leaseTable,
      metrics: o.metrics,
      expressionWriter: this.expressionWriter,
      leaseGraceMs: o.leaseGraceMs,
      settings: () => this.settings.get(),
      expressionChanged: (id) => this.listener?.expressionChanged(id),
      operationsChanged: (id, opIds) => this.listener?.operationsChanged(id, opIds),
    });
    this.expiry = new LeaseExpiry({
      leases: this.leaseTable,
      agents: this.agents,
      log: o.log,
      metrics: o.metrics,
      excused: (lease, early) => this.course.excused(lease, early),
      depth: () => this.dispatcher.depth(),
      requeue: (lease, reason, counts, avoid) =>
        this.progress.requeue(lease, reason, counts, avoid),
      agentChanged: (agent) => this.agentChanged(agent),
    });
  }

  setListener(listener: SchedulerListener): void {
    this.listener = listener;
  }

  /** Reloads unfinished expressions and starts the lease and retention checkers. */
  async start(): Promise<void> {
    await recoverUnfinished(this.o.store, this.expressionWriter, this.o.log, (run, rootValue) => {
      this.runs.track(run);
      if (rootValue !== undefined) this.finisher.finish(run, { status: 'done', value: rootValue });
      else for (const opId of run.computable()) this.progress.makeReady(run, opId);
    });
    this.dispatcher.schedule();
    this.leaseTable.startChecker(
      STALLED_CHECK_MS,
      (expired, now) => this.expiry.onExpired(expired, now),
      (loans) => this.expiry.reclaimOverdue(loans),
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
      this.runs.track(run);
      for (const opId of run.computable()) this.progress.makeReady(run, opId);
      this.listener?.expressionChanged(run.id);
      this.dispatcher.schedule();
    } else {
      const run = new ExpressionRun(accepted.stored, accepted.plan, true);
      this.runs.track(run);
      this.listener?.expressionChanged(run.id);
      setUpInSlices(run, this.setupSlice, {
        enqueueReady: (r, opId) => this.progress.enqueueReady(r, opId),
        operationsChanged: (id, opIds) => this.listener?.operationsChanged(id, opIds),
        expressionChanged: (id) => this.listener?.expressionChanged(id),
        dispatchSoon: () => this.dispatcher.schedule(),
      });
    }
    return { created: true, id: accepted.stored.id };
  }

  /**
   * Cancels an unfinished expression: drops its queued work and revokes running attempts.
   * `visible(owner)` false answers as if it did not exist.
   */
  cancel(
    id: string,
    visible: (owner: string | null) => boolean = () => true,
  ): Promise<ExpressionView> {
    return this.finisher.cancel(id, visible);
  }

  /**
   * Cancels every unfinished expression of `owner` (their account was disabled or deleted);
   * returns how many.
   */
  cancelAllOf(owner: string): number {
    return this.finisher.cancelAllOf(owner);
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

  private agentChanged(agent: Agent): void {
    this.listener?.agentChanged(agent.id);
  }

  /** Unfinished expressions of `owner` (for the per-user limit). */
  unfinishedOf(owner: string): number {
    return this.runs.unfinishedOf(owner);
  }

  /** Operations of `owner`'s unfinished expressions, in all (for the per-user limit). */
  unfinishedOpsOf(owner: string): number {
    return this.runs.unfinishedOpsOf(owner);
  }

  // ------------------------------------------------------------------ settings

  getSettings(): Settings {
    return this.settings.get();
  }

  /** Takes settings already stored (a new leader of several orchestrators, before it starts). */
  adoptSettings(settings: Settings): void {
    this.settings.adopt(settings);
  }

  updateSettings(patch: SettingsPatch): Promise<Settings> {
    return this.settings.update(patch);
  }

  // ------------------------------------------------------------------ stats

  /** The read model's stats, refreshing the ready-queue gauge (`/metrics` reads it). */
  stats(): StatsView {
    const stats = this.views.stats();
    this.o.metrics.readyQueue.set(stats.readyQueue);
    return stats;
  }
}
