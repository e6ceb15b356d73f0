import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  ExpressionistError,
  canonicalDecimal,
  compile,
  decimalEquals,
  durationOf,
  execute,
  toJsonNumber,
  withinFloatRounding,
  findZeroDivisor,
  type AgentHello,
  type AgentView,
  type ErrorInfo,
  type ExpressionView,
  type OperationState,
  type OperationView,
  type Operand,
  type ParseLimits,
  type Plan,
  type Settings,
  type SettingsPatch,
  type StatsView,
  type Task,
  type TaskResult,
} from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { CachedOutcome, ResultCache } from '../result-cache.js';
import type { ListCursor, Store, StoredExpression, StoredOpResult } from '../store/store.js';
import { AgentRegistry, type AgentChannel, type AgentEntry } from './agent-registry.js';
import { ExpressionRun, OpState } from './expression-run.js';
import { ExpressionWriter } from './expression-writer.js';
import { ResultWriter } from './result-writer.js';

/** Receives change notifications; the UI hub batches them into deltas. */
export interface SchedulerListener {
  expressionChanged(id: string): void;
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
  maxAttempts: number;
  leaseGraceMs: number;
  httpAgentTimeoutMs: number;
}

/** A leased attempt of one operation. */
interface Lease {
  taskId: string;
  run: ExpressionRun;
  opId: number;
  attempt: number;
  agent: AgentEntry;
  deadline: number;
  dispatchedAt: number;
  /** Numeric id handed to course HTTP agents (0 for socket agents). */
  httpId: number;
}

/** A task in the course's HTTP protocol shape. */
export interface CourseTask {
  id: number;
  arg1: number;
  arg2: number;
  operation: '+' | '-' | '*' | '/';
  operation_time: number;
}

export type SubmitOutcome = { created: boolean; id: string };
export type HttpResultOutcome = 'accepted' | 'unknown' | 'wrong' | 'quarantined';

const STATE_NAMES: Record<OpState, OperationState> = {
  [OpState.Waiting]: 'waiting',
  [OpState.Ready]: 'ready',
  [OpState.Running]: 'running',
  [OpState.Storing]: 'running',
  [OpState.Done]: 'done',
  [OpState.Failed]: 'failed',
  [OpState.Canceled]: 'canceled',
};

const RECENT_RUNS = 200;
/** Operations at most this long are prefetched (two in flight per worker slot). */
const PREFETCH_MAX_MS = 10;
/** Unfinished expressions whose results are fetched per store round trip during recovery. */
const RECOVERY_BATCH = 500;
/** Stored expressions were accepted under the limits of their day: re-plan them without any. */
const UNLIMITED = { maxLength: Number.MAX_SAFE_INTEGER, maxDepth: Number.MAX_SAFE_INTEGER };
const THROUGHPUT_WINDOW_S = 5;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Sortable, URL-safe expression id: time in base 36, then randomness. */
function newExpressionId(now: number): string {
  return `${now.toString(36)}-${randomBytes(5).toString('hex')}`;
}

/**
 * The heart of the orchestrator. Holds every unfinished expression's operation DAG in memory,
 * hands ready operations to free worker slots (round-robin across expressions, so a huge
 * expression cannot starve a small one), leases each attempt, takes back work from lost or
 * late agents, accepts only the current attempt's result (fencing), verifies it by recomputing,
 * persists it before releasing the operations that depend on it, and finishes expressions.
 */
export class Scheduler {
  readonly agents = new AgentRegistry();
  private readonly runs = new Map<string, ExpressionRun>();
  /** Finished runs kept briefly so live detail views can show their last state. */
  private readonly recent = new Map<string, ExpressionRun>();
  private readonly ring: ExpressionRun[] = [];
  private ringHead = 0;
  private readonly leases = new Map<string, Lease>();
  private readonly httpLeases = new Map<number, Lease>();
  private httpSeq = 0;
  private dispatchScheduled = false;
  private settings: Settings;
  private readonly resultWriter: ResultWriter;
  private readonly expressionWriter: ExpressionWriter;
  private listener: SchedulerListener | null = null;
  private timers: NodeJS.Timeout[] = [];
  /** Completions per second in a small ring; `slotSecond` says which second a slot counts. */
  private readonly completions = new Array<number>(THROUGHPUT_WINDOW_S + 1).fill(0);
  private readonly slotSecond = new Array<number>(THROUGHPUT_WINDOW_S + 1).fill(-1);
  private accepting = true;
  private readonly etaMemo = new WeakMap<
    ExpressionRun,
    { done: number; at: number; eta: number }
  >();

  constructor(private readonly o: SchedulerOptions) {
    this.settings = o.settings;
    this.resultWriter = new ResultWriter(o.store, o.log, (rows, ms, ok) => {
      o.metrics.storeWriteLatency.observe({ ok: String(ok) }, ms / 1000);
      if (ok) o.metrics.storeWriteRows.inc(rows);
    });
    this.expressionWriter = new ExpressionWriter(o.store, o.log);
  }

  setListener(listener: SchedulerListener): void {
    this.listener = listener;
  }

  /** Reloads unfinished expressions and starts the lease and retention checkers. */
  async start(): Promise<void> {
    await this.recover();
    this.timers.push(setInterval(() => this.checkLeases(), 200));
    this.timers.push(setInterval(() => this.sweepAgents(), 1000));
    for (const timer of this.timers) timer.unref();
  }

  /** Stops taking work; waits (bounded) for pending writes. Agents are told by the caller. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.accepting = false;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await Promise.race([
      Promise.all([this.resultWriter.drained(), this.expressionWriter.drained()]),
      new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  // ------------------------------------------------------------------ expressions

  /** Parses, plans and stores a new expression; a known client id returns the existing one. */
  async submit(expression: string, clientId?: string): Promise<SubmitOutcome> {
    if (!this.accepting)
      throw new ExpressionistError('SHUTTING_DOWN', 'The orchestrator is shutting down.');
    const compiled = compile(expression, this.o.parseLimits);
    const now = Date.now();
    const id = clientId ?? newExpressionId(now);
    const base: StoredExpression = {
      id,
      expression,
      normalized: compiled.normalized,
      status: 'pending',
      value: null,
      error: null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      opCount: compiled.plan.ops.length,
      cached: false,
    };
    const immediate = this.immediateOutcome(compiled.plan, compiled.normalized, expression);
    const stored: StoredExpression = immediate
      ? {
          ...base,
          status: 'value' in immediate.outcome ? 'done' : 'error',
          value: 'value' in immediate.outcome ? immediate.outcome.value : null,
          error: 'error' in immediate.outcome ? immediate.outcome.error : null,
          startedAt: now,
          finishedAt: now,
          cached: immediate.cached,
        }
      : base;
    let outcome;
    try {
      outcome = await this.o.store.insertExpression(stored);
    } catch (err) {
      this.o.log.warn({ err }, 'storing a new expression failed');
      throw new ExpressionistError(
        'STORE_UNAVAILABLE',
        'The database is unreachable; the expression was not accepted. Retry later.',
      );
    }
    if (!outcome.inserted) {
      if (outcome.existing.expression !== expression) {
        throw new ExpressionistError(
          'IDEMPOTENCY_CONFLICT',
          `Id "${id}" was already used for a different expression.`,
        );
      }
      return { created: false, id };
    }
    this.o.metrics.expressionsSubmitted.inc({ cached: String(stored.cached) });
    if (immediate) {
      this.o.metrics.expressionLatency.observe(0);
      this.listener?.expressionChanged(id);
      return { created: true, id };
    }
    this.startRun(new ExpressionRun(stored, compiled.plan));
    return { created: true, id };
  }

  /** An answer that needs no agent: a bare number, a cached result, or a literal zero divisor. */
  private immediateOutcome(
    plan: Plan,
    normalized: string,
    source: string,
  ): { outcome: CachedOutcome; cached: boolean } | null {
    if (plan.root.kind === 'lit')
      return { outcome: { value: canonicalDecimal(plan.root.value) }, cached: false };
    const cached = this.o.cache.get(normalized);
    if (cached)
      return { outcome: 'error' in cached ? respelledError(cached, source) : cached, cached: true };
    // A divisor factor that is a literal zero fails the expression before any work is sent.
    // Unknown operands count as non-zero here; they are checked again when the op is ready.
    for (const op of plan.ops) {
      const position = findZeroDivisor(op, (o) => (o.kind === 'lit' ? o.value : '1'));
      if (position !== undefined)
        return { outcome: { error: divZeroError(source, position) }, cached: false };
    }
    return null;
  }

  private startRun(run: ExpressionRun): void {
    this.runs.set(run.id, run);
    for (const opId of run.initialReady()) this.makeReady(run, opId);
    this.listener?.expressionChanged(run.id);
    this.scheduleDispatch();
  }

  /** Cancels an unfinished expression: drops its queued work and revokes running attempts. */
  async cancel(id: string): Promise<ExpressionView> {
    const run = this.runs.get(id);
    if (!run) {
      const stored = await this.o.store.getExpression(id);
      if (!stored)
        throw new ExpressionistError('EXPRESSION_NOT_FOUND', `No expression with id "${id}".`);
      throw new ExpressionistError(
        'ALREADY_FINISHED',
        `Expression "${id}" has already finished (${stored.status}).`,
      );
    }
    this.finish(run, {
      status: 'canceled',
      error: { code: 'EXPR_CANCELED', message: 'Canceled by request.' },
    });
    return this.viewOfRun(run);
  }

  private makeReady(run: ExpressionRun, opId: number): void {
    if (run.finished) return;
    const op = run.op(opId);
    if (op.op === '/') {
      // Regrouping can move a divisor into the numerator (`a/(b/0)` runs as `(a*0)/b`), so all
      // original divisor factors are checked, not just `b`.
      const position = findZeroDivisor(op, (o) => run.valueOf(o) ?? '1');
      if (position !== undefined) {
        this.finish(run, {
          status: 'error',
          error: divZeroError(run.stored.expression, position),
          cacheable: true,
        });
        return;
      }
    }
    run.pushReady(opId);
    if (!run.inRing) {
      run.inRing = true;
      this.ring.push(run);
    }
    this.listener?.operationsChanged(run.id, [opId]);
  }

  /** Next ready operation, round-robin across expressions. */
  private takeReady(): { run: ExpressionRun; opId: number } | undefined {
    while (this.ringHead < this.ring.length) {
      const run = this.ring[this.ringHead]!;
      this.ringHead += 1;
      if (this.ringHead > 1024 && this.ringHead * 2 > this.ring.length) {
        this.ring.splice(0, this.ringHead);
        this.ringHead = 0;
      }
      const opId = run.finished ? undefined : run.takeReady();
      if (opId === undefined) {
        run.inRing = false;
        continue;
      }
      if (run.hasReady) this.ring.push(run);
      else run.inRing = false;
      return { run, opId };
    }
    return undefined;
  }

  get readyCount(): number {
    let count = 0;
    for (let i = this.ringHead; i < this.ring.length; i += 1) count += this.ring[i]!.readyCount;
    return count;
  }

  // ------------------------------------------------------------------ dispatch

  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => this.dispatch());
  }

  /**
   * Tasks in flight per worker slot. When every operation is near-instant, the round trip to the
   * agent costs more than the work, so each slot gets a second task that waits on the agent
   * (its TaskRunner runs at most `concurrency` at once) and starts the moment the first is done.
   * Longer operations are not prefetched: a slot's work is then worth more than a round trip,
   * and queued work would sit behind it instead of going to an idle agent.
   */
  private prefetchDepth(): number {
    const s = this.settings;
    const longest = Math.max(s.additionMs, s.subtractionMs, s.multiplicationMs, s.divisionMs);
    return longest <= PREFETCH_MAX_MS ? 2 : 1;
  }

  /** Fills free slots one task per agent per round, so work spreads evenly; one emit per agent. */
  private dispatch(): void {
    this.dispatchScheduled = false;
    if (this.ringHead >= this.ring.length) return;
    const depth = this.prefetchDepth();
    const free = this.agents.withFreeSlots(depth);
    if (free.length === 0) return;
    const batches = new Map<AgentEntry, Task[]>();
    const now = Date.now();
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const candidate of free) {
        if (candidate.running.size >= candidate.concurrency * depth) continue;
        const next = this.takeReady();
        if (!next) break;
        let agent = candidate;
        const avoid = next.run.avoidAgent[next.opId];
        if (avoid === candidate.id) {
          agent =
            free.find((a) => a.id !== avoid && a.running.size < a.concurrency * depth) ?? candidate;
        }
        const lease = this.lease(next.run, next.opId, agent, now, 0);
        let batch = batches.get(agent);
        if (!batch) batches.set(agent, (batch = []));
        batch.push(this.taskOf(lease));
        progressed = true;
      }
    }
    for (const [agent, tasks] of batches) {
      agent.channel?.sendTasks(tasks);
      this.listener?.agentChanged(agent.id);
    }
  }

  private lease(
    run: ExpressionRun,
    opId: number,
    agent: AgentEntry,
    now: number,
    httpId: number,
  ): Lease {
    const op = run.op(opId);
    const durationMs = durationOf(op.op, this.settings);
    run.attempt[opId]! += 1;
    run.state[opId] = OpState.Running;
    run.agentId[opId] = agent.id;
    run.startedAt[opId] = now;
    const taskId = `${run.id}:${opId}`;
    const lease: Lease = {
      taskId,
      run,
      opId,
      attempt: run.attempt[opId]!,
      agent,
      deadline: now + durationMs + this.o.leaseGraceMs,
      dispatchedAt: now,
      httpId,
    };
    this.leases.set(taskId, lease);
    if (httpId !== 0) this.httpLeases.set(httpId, lease);
    agent.running.add(taskId);
    this.o.metrics.opsDispatched.inc({ kind: agent.kind });
    if (run.stored.status === 'pending') {
      run.stored.status = 'in_progress';
      run.stored.startedAt = now;
      this.expressionWriter.write(run.id, { status: 'in_progress', startedAt: now });
    }
    this.listener?.expressionChanged(run.id);
    this.listener?.operationsChanged(run.id, [opId]);
    return lease;
  }

  private taskOf(lease: Lease): Task {
    const op = lease.run.op(lease.opId);
    return {
      taskId: lease.taskId,
      attempt: lease.attempt,
      op: op.op,
      a: lease.run.valueOf(op.a)!,
      b: lease.run.valueOf(op.b)!,
      durationMs: durationOf(op.op, this.settings),
    };
  }

  /** Ends a lease without a result (agent lost, lease expired, wrong value, error). */
  private release(lease: Lease): void {
    this.leases.delete(lease.taskId);
    if (lease.httpId !== 0) this.httpLeases.delete(lease.httpId);
    lease.agent.running.delete(lease.taskId);
  }

  /**
   * Puts an attempt back in the ready queue. `counts` says whether it uses up one of the
   * operation's attempts (a timeout or an error does; losing the agent's connection does not,
   * since that is no fault of the operation).
   */
  private requeue(lease: Lease, reason: string, counts: boolean): void {
    this.release(lease);
    const { run, opId } = lease;
    if (run.finished) return;
    this.o.metrics.opsRequeued.inc({ reason });
    if (counts && run.attempt[opId]! >= this.o.maxAttempts) {
      const op = run.op(opId);
      this.finish(run, {
        status: 'error',
        error: {
          code: 'EXPR_OP_FAILED',
          message: `Operation ${op.op} at column ${op.opPos} failed on ${run.attempt[opId]} attempts (last: ${reason}).`,
          position: op.opPos,
        },
      });
      return;
    }
    run.reassigned[opId]! += 1;
    this.makeReady(run, opId);
    this.scheduleDispatch();
  }

  private checkLeases(): void {
    const now = Date.now();
    const expired: Lease[] = [];
    for (const lease of this.leases.values()) if (lease.deadline <= now) expired.push(lease);
    for (const lease of expired) {
      this.o.log.info(
        { taskId: lease.taskId, attempt: lease.attempt, agent: lease.agent.name },
        'lease expired; requeued',
      );
      lease.agent.channel?.revoke([lease.taskId]);
      lease.run.avoidAgent[lease.opId] = lease.agent.id;
      this.requeue(lease, 'lease_expired', true);
      this.listener?.agentChanged(lease.agent.id);
    }
  }

  // ------------------------------------------------------------------ agents

  /** Registers a socket agent (new, reconnecting, or replacing a connection not yet seen dead). */
  connectAgent(hello: AgentHello, channel: AgentChannel): AgentEntry {
    const now = Date.now();
    const existing = this.agents.get(hello.agentId);
    if (existing?.status === 'quarantined') {
      throw new ExpressionistError(
        'TASK_RESULT_WRONG',
        'This agent is quarantined for returning wrong results.',
      );
    }
    if (existing && existing.status !== 'lost') this.loseAgent(existing, 'lost', 'replaced');
    const agent = this.agents.join({
      id: hello.agentId,
      name: hello.name,
      kind: hello.kind,
      concurrency: hello.concurrency,
      channel,
      connectedAt: now,
      lastSeenAt: now,
    });
    channel.sendSettings(this.settings);
    this.o.log.info(
      { agent: agent.id, name: agent.name, kind: agent.kind, concurrency: agent.concurrency },
      'agent joined',
    );
    this.refreshAgentGauge();
    this.listener?.agentChanged(agent.id);
    this.scheduleDispatch();
    return agent;
  }

  /** The socket of `channel` closed. Ignored when the agent has since reconnected elsewhere. */
  disconnectAgent(agentId: string, channel: AgentChannel, reason: string): void {
    const agent = this.agents.get(agentId);
    if (!agent || agent.channel !== channel) return;
    this.loseAgent(agent, 'lost', reason);
  }

  private loseAgent(agent: AgentEntry, status: 'lost' | 'quarantined', reason: string): void {
    const leases = [...agent.running]
      .map((id) => this.leases.get(id))
      .filter((l): l is Lease => !!l);
    const wasDraining = agent.status === 'draining';
    this.agents.markGone(agent, status, Date.now(), this.settings.lostAgentRetentionMs);
    for (const lease of leases)
      this.requeue(lease, status === 'quarantined' ? 'quarantined' : 'agent_lost', false);
    const event =
      status === 'quarantined' ? 'agent quarantined' : wasDraining ? 'agent left' : 'agent lost';
    this.o.log.info({ agent: agent.id, name: agent.name, reason, requeued: leases.length }, event);
    this.refreshAgentGauge();
    this.listener?.agentChanged(agent.id);
  }

  /** Any sign of life from an agent (a message or a heartbeat pong). */
  agentSeen(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (agent) agent.lastSeenAt = Date.now();
  }

  /** The agent finishes what it has and takes nothing new. */
  drainAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent || agent.status !== 'active') return;
    agent.status = 'draining';
    this.o.log.info(
      { agent: agent.id, name: agent.name, running: agent.running.size },
      'agent draining',
    );
    this.listener?.agentChanged(agent.id);
  }

  private quarantine(agent: AgentEntry, reason: string): void {
    if (agent.status === 'quarantined') return;
    const channel = agent.channel;
    this.loseAgent(agent, 'quarantined', reason);
    channel?.quarantine(reason);
  }

  private sweepAgents(): void {
    const now = Date.now();
    for (const agent of this.agents.all()) {
      if (
        agent.kind === 'http' &&
        agent.status === 'active' &&
        now - agent.lastSeenAt > this.o.httpAgentTimeoutMs
      ) {
        this.loseAgent(agent, 'lost', 'no request within the HTTP agent timeout');
      }
    }
    for (const id of this.agents.sweep(now)) this.listener?.agentRemoved(id);
  }

  private refreshAgentGauge(): void {
    const counts = this.agents.counts();
    for (const kind of ['node', 'browser', 'http'] as const)
      this.o.metrics.agentsConnected.set({ kind }, counts[kind]);
  }

  // ------------------------------------------------------------------ results

  /** Results from a socket agent (already schema-validated). */
  handleResults(agentId: string, results: TaskResult[]): void {
    const agent = this.agents.get(agentId);
    if (!agent) return;
    agent.lastSeenAt = Date.now();
    for (const result of results) {
      const lease = this.leases.get(result.taskId);
      if (!lease || lease.agent !== agent || lease.attempt !== result.attempt) {
        // Fencing: a late answer of an attempt that was taken back, or a duplicate.
        this.o.metrics.opsRejected.inc({ reason: 'stale' });
        continue;
      }
      if ('error' in result) {
        this.o.metrics.opsRejected.inc({ reason: 'agent_error' });
        this.requeue(lease, `agent error ${result.error.code}: ${result.error.message}`, true);
        continue;
      }
      // Agents compute with the same `execute`, so a right answer is normally the very same
      // string; compare the strings first and parse both only when they differ.
      const verdict = this.verify(
        lease,
        (expected) => expected === result.value || decimalEquals(expected, result.value),
      );
      if (verdict === 'wrong') {
        this.quarantine(agent, `returned ${result.value} for task ${lease.taskId}`);
        return;
      }
    }
    this.listener?.agentChanged(agent.id);
    this.scheduleDispatch();
  }

  /**
   * Recomputes the attempt with core, compares, and on a match ends the lease and queues the
   * verified value for storage; the operation counts as done only once stored.
   */
  private verify(
    lease: Lease,
    matches: (expected: string) => boolean,
    onStored?: () => void,
  ): 'ok' | 'wrong' {
    const { run, opId } = lease;
    const op = run.op(opId);
    let expected: string;
    try {
      expected = execute(op.op, run.valueOf(op.a)!, run.valueOf(op.b)!);
    } catch {
      // Unreachable in practice: zero divisors never leave the orchestrator.
      this.requeue(lease, 'verification failed', true);
      return 'ok';
    }
    if (!matches(expected)) {
      this.o.metrics.opsRejected.inc({ reason: 'wrong_value' });
      this.o.log.warn({ taskId: lease.taskId, agent: lease.agent.name }, 'wrong result');
      return 'wrong';
    }
    const now = Date.now();
    this.release(lease);
    lease.agent.completed += 1;
    run.state[opId] = OpState.Storing;
    this.o.metrics.opLatency.observe((now - lease.dispatchedAt) / 1000);
    this.resultWriter.add(
      {
        expressionId: run.id,
        opId,
        value: expected,
        agentId: lease.agent.id,
        attempt: lease.attempt,
        finishedAt: now,
      },
      () => {
        this.onStored(run, opId, expected);
        onStored?.();
      },
    );
    return 'ok';
  }

  private onStored(run: ExpressionRun, opId: number, value: string): void {
    this.countCompletion();
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
    this.scheduleDispatch();
  }

  private finish(
    run: ExpressionRun,
    end:
      | { status: 'done'; value: string }
      | { status: 'error' | 'canceled'; error: ErrorInfo; cacheable?: boolean },
  ): void {
    if (run.finished) return;
    run.finished = true;
    const now = Date.now();
    const revokeByAgent = new Map<AgentEntry, string[]>();
    for (const lease of [...this.leases.values()].filter((l) => l.run === run)) {
      this.release(lease);
      const ids = revokeByAgent.get(lease.agent) ?? [];
      ids.push(lease.taskId);
      revokeByAgent.set(lease.agent, ids);
    }
    for (const [agent, ids] of revokeByAgent) {
      agent.channel?.revoke(ids);
      this.listener?.agentChanged(agent.id);
    }
    const changed: number[] = [];
    for (let i = 0; i < run.total; i += 1) {
      const state = run.state[i];
      if (state !== OpState.Done && state !== OpState.Storing) {
        run.state[i] = end.status === 'canceled' ? OpState.Canceled : OpState.Failed;
        changed.push(i);
      }
    }
    const stored = run.stored;
    stored.status = end.status;
    stored.finishedAt = now;
    stored.startedAt ??= now;
    if (end.status === 'done') {
      stored.value = end.value;
      this.o.cache.set(stored.normalized, { value: end.value });
    } else {
      stored.error = end.error;
      if (end.cacheable)
        this.o.cache.set(stored.normalized, cacheableError(stored.expression, end.error));
    }
    this.expressionWriter.write(run.id, {
      status: stored.status,
      value: stored.value,
      error: stored.error,
      startedAt: stored.startedAt,
      finishedAt: now,
    });
    this.o.metrics.expressionLatency.observe((now - stored.createdAt) / 1000);
    this.runs.delete(run.id);
    this.recent.set(run.id, run);
    if (this.recent.size > RECENT_RUNS) this.recent.delete(this.recent.keys().next().value!);
    if (changed.length > 0) this.listener?.operationsChanged(run.id, changed);
    this.listener?.expressionChanged(run.id);
    this.scheduleDispatch();
  }

  private countCompletion(): void {
    const second = Math.floor(Date.now() / 1000);
    const slot = second % this.completions.length;
    if (this.slotSecond[slot] !== second) {
      this.slotSecond[slot] = second;
      this.completions[slot] = 0;
    }
    this.completions[slot]! += 1;
  }

  // ------------------------------------------------------------------ course HTTP agents

  /** `GET /internal/task`: leases the next ready operation to a pulling HTTP agent. */
  leaseHttpTask(agentKey: string): CourseTask | 'quarantined' | null {
    const now = Date.now();
    let agent = this.agents.get(agentKey);
    if (agent?.status === 'quarantined') return 'quarantined';
    if (!agent || agent.status === 'lost') {
      agent = this.agents.join({
        id: agentKey,
        name: agentKey,
        kind: 'http',
        concurrency: 1,
        channel: null,
        connectedAt: now,
        lastSeenAt: now,
      });
      this.o.log.info({ agent: agent.id, kind: 'http' }, 'agent joined');
      this.refreshAgentGauge();
    }
    agent.lastSeenAt = now;
    const next = this.accepting ? this.takeReady() : undefined;
    if (!next) {
      this.listener?.agentChanged(agent.id);
      return null;
    }
    this.httpSeq += 1;
    const lease = this.lease(next.run, next.opId, agent, now, this.httpSeq);
    agent.concurrency = Math.max(agent.concurrency, agent.running.size);
    this.listener?.agentChanged(agent.id);
    const task = this.taskOf(lease);
    return {
      id: lease.httpId,
      arg1: toJsonNumber(task.a),
      arg2: toJsonNumber(task.b),
      operation: task.op,
      operation_time: task.durationMs,
    };
  }

  /**
   * `POST /internal/task`: a float result within float64 rounding of the exact value is accepted
   * and the exact value recorded. Resolves once the result is stored.
   */
  submitHttpResult(
    agentKey: string,
    httpId: number,
    result: number | string,
  ): Promise<HttpResultOutcome> {
    const lease = this.httpLeases.get(httpId);
    if (!lease) return Promise.resolve('unknown');
    if (lease.agent.status === 'quarantined') return Promise.resolve('quarantined');
    lease.agent.lastSeenAt = Date.now();
    const matches = (expected: string): boolean =>
      typeof result === 'number'
        ? withinFloatRounding(expected, result)
        : decimalEquals(expected, result);
    return new Promise((resolve) => {
      const verdict = this.verify(lease, matches, () => resolve('accepted'));
      if (verdict === 'wrong') {
        this.quarantine(
          lease.agent,
          `returned ${String(result)} for task ${httpId} (agent key ${agentKey})`,
        );
        resolve('wrong');
      } else {
        this.listener?.agentChanged(lease.agent.id);
        this.scheduleDispatch();
      }
    });
  }

  // ------------------------------------------------------------------ settings

  getSettings(): Settings {
    return this.settings;
  }

  async updateSettings(patch: SettingsPatch): Promise<Settings> {
    const next: Settings = { ...this.settings, ...patch };
    await this.o.store.saveSettings(next).catch((err: unknown) => {
      this.o.log.warn({ err }, 'storing settings failed');
      throw new ExpressionistError(
        'STORE_UNAVAILABLE',
        'The database is unreachable; settings were not changed.',
      );
    });
    this.settings = next;
    if (patch.lostAgentRetentionMs !== undefined)
      this.agents.retime(Date.now(), next.lostAgentRetentionMs);
    for (const agent of this.agents.all()) agent.channel?.sendSettings(next);
    this.listener?.settingsChanged(next);
    return next;
  }

  // ------------------------------------------------------------------ recovery

  /** Rebuilds unfinished expressions from the store, resuming from stored operation results. */
  private async recover(): Promise<void> {
    const unfinished = await this.o.store.listUnfinished();
    for (let from = 0; from < unfinished.length; from += RECOVERY_BATCH) {
      const batch = unfinished.slice(from, from + RECOVERY_BATCH);
      const results = new Map<string, StoredOpResult[]>();
      for (const result of await this.o.store.getOpResultsOfMany(batch.map((e) => e.id))) {
        const list = results.get(result.expressionId);
        if (list) list.push(result);
        else results.set(result.expressionId, [result]);
      }
      for (const stored of batch) this.resume(stored, results.get(stored.id) ?? []);
    }
    if (unfinished.length > 0)
      this.o.log.info({ resumed: unfinished.length }, 'resumed unfinished expressions');
    this.scheduleDispatch();
  }

  /** Rebuilds one unfinished expression from its stored results and queues what is ready. */
  private resume(stored: StoredExpression, results: StoredOpResult[]): void {
    let plan: Plan;
    try {
      plan = compile(stored.expression, UNLIMITED).plan;
    } catch (err) {
      this.o.log.error(
        { err, id: stored.id },
        'a stored expression no longer compiles; marking it failed',
      );
      this.expressionWriter.write(stored.id, {
        status: 'error',
        finishedAt: Date.now(),
        error: { code: 'INTERNAL', message: 'Could not be resumed after a restart.' },
      });
      return;
    }
    const run = new ExpressionRun(stored, plan);
    const rootValue = run.restore(results);
    this.runs.set(run.id, run);
    if (rootValue !== undefined) {
      this.finish(run, { status: 'done', value: rootValue });
      return;
    }
    for (let i = 0; i < run.total; i += 1) {
      if (run.state[i] === OpState.Waiting && run.pendingInputs[i] === 0) this.makeReady(run, i);
    }
  }

  // ------------------------------------------------------------------ views

  async expressionView(id: string): Promise<ExpressionView | null> {
    const run = this.runs.get(id) ?? this.recent.get(id);
    if (run) return this.viewOfRun(run);
    const stored = await this.o.store.getExpression(id);
    return stored ? this.viewOfStored(stored) : null;
  }

  /** Live view when the expression is in memory, stored view otherwise. */
  viewOf(stored: StoredExpression): ExpressionView {
    const run = this.runs.get(stored.id) ?? this.recent.get(stored.id);
    return run ? this.viewOfRun(run) : this.viewOfStored(stored);
  }

  /** A view for an id that changed (live or recently finished), or null if not in memory. */
  liveView(id: string): ExpressionView | null {
    const run = this.runs.get(id) ?? this.recent.get(id);
    return run ? this.viewOfRun(run) : null;
  }

  viewOfRun(run: ExpressionRun): ExpressionView {
    const view = this.viewOfStored(run.stored);
    view.progress = { done: run.doneCount, total: run.total };
    view.estimatedFinishAt = run.finished ? null : iso(this.estimate(run));
    return view;
  }

  viewOfStored(stored: StoredExpression): ExpressionView {
    const done = stored.status === 'done' ? stored.opCount : 0;
    return {
      id: stored.id,
      expression: stored.expression,
      status: stored.status,
      result: stored.value === null ? null : toJsonNumber(stored.value),
      value: stored.value,
      error: stored.error,
      createdAt: iso(stored.createdAt)!,
      startedAt: iso(stored.startedAt),
      finishedAt: iso(stored.finishedAt),
      progress: { done, total: stored.opCount },
      cached: stored.cached,
      estimatedFinishAt: null,
    };
  }

  /**
   * Expected finish: now + max(remaining critical path, remaining work / worker slots), the
   * plan's lower bound applied to what is left. Memoized per progress step.
   */
  private estimate(run: ExpressionRun): number {
    const now = Date.now();
    const memo = this.etaMemo.get(run);
    if (memo && memo.done === run.doneCount && now - memo.at < 1000) return memo.eta;
    const remaining = new Float64Array(run.total);
    let critical = 0;
    let work = 0;
    for (const op of run.plan.ops) {
      const state = run.state[op.id];
      if (state === OpState.Done) continue;
      let own = durationOf(op.op, this.settings);
      if (state === OpState.Running || state === OpState.Storing)
        own = Math.max(0, own - (now - run.startedAt[op.id]!));
      const inputA = op.a.kind === 'op' ? remaining[op.a.id]! : 0;
      const inputB = op.b.kind === 'op' ? remaining[op.b.id]! : 0;
      remaining[op.id] = own + Math.max(inputA, inputB);
      critical = Math.max(critical, remaining[op.id]!);
      work += own;
    }
    const slots = Math.max(1, this.agents.totalSlots());
    const eta = now + Math.max(critical, work / slots);
    this.etaMemo.set(run, { done: run.doneCount, at: now, eta });
    return eta;
  }

  async listExpressions(limit: number, cursor?: ListCursor): Promise<ExpressionView[]> {
    const stored = await this.o.store.listExpressions(limit, cursor);
    return stored.map((s) => this.viewOf(s));
  }

  /** Operations of an expression, live or rebuilt from the store. */
  async operations(id: string): Promise<OperationView[] | null> {
    const run = this.runs.get(id) ?? this.recent.get(id);
    if (run) return run.plan.ops.map((op) => this.operationView(run, op.id));
    const stored = await this.o.store.getExpression(id);
    if (!stored) return null;
    // A cached answer ran no operation at all: an empty list says so better than idle nodes.
    if (stored.cached) return [];
    const plan = compile(stored.expression, UNLIMITED).plan;
    const rebuilt = new ExpressionRun(stored, plan);
    rebuilt.restore(await this.o.store.getOpResults(id));
    if (stored.status !== 'done') {
      for (let i = 0; i < rebuilt.total; i += 1) {
        if (rebuilt.state[i] !== OpState.Done)
          rebuilt.state[i] = stored.status === 'canceled' ? OpState.Canceled : OpState.Failed;
      }
    }
    return plan.ops.map((op) => this.operationView(rebuilt, op.id));
  }

  operationView(run: ExpressionRun, opId: number): OperationView {
    const op = run.op(opId);
    const agentId = run.agentId[opId] ?? null;
    const finishedAt = run.finishedAt[opId]!;
    const startedAt = run.startedAt[opId]!;
    return {
      id: opId,
      op: op.op,
      a: operandView(op.a),
      b: operandView(op.b),
      state: STATE_NAMES[run.state[opId] as OpState],
      aValue: run.valueOf(op.a) ?? null,
      bValue: run.valueOf(op.b) ?? null,
      result: run.values[opId] ?? null,
      agentId,
      agentName: agentId === null ? null : (this.agents.get(agentId)?.name ?? agentId),
      attempt: run.attempt[opId]!,
      reassigned: run.reassigned[opId]!,
      depth: op.depth,
      span: { start: op.span.start, end: op.span.end },
      startedAt: startedAt === 0 ? null : iso(startedAt),
      finishedAt: finishedAt === 0 ? null : iso(finishedAt),
    };
  }

  /** Views of the given op ids of a live or recently finished expression. */
  operationViews(expressionId: string, opIds: Iterable<number>): OperationView[] {
    const run = this.runs.get(expressionId) ?? this.recent.get(expressionId);
    if (!run) return [];
    return [...opIds].map((id) => this.operationView(run, id));
  }

  agentViews(): AgentView[] {
    return [...this.agents.all()].map((agent) => this.agents.view(agent));
  }

  agentView(id: string): AgentView | null {
    const agent = this.agents.get(id);
    return agent ? this.agents.view(agent) : null;
  }

  stats(): StatsView {
    const second = Math.floor(Date.now() / 1000);
    let total = 0;
    // Whole seconds before the current one, so the rate is not diluted by a partial second.
    for (let back = 1; back <= THROUGHPUT_WINDOW_S; back += 1) {
      const slot = (second - back) % this.completions.length;
      if (this.slotSecond[slot] === second - back) total += this.completions[slot]!;
    }
    const readyQueue = this.readyCount;
    this.o.metrics.readyQueue.set(readyQueue);
    return { opsPerSecond: total / THROUGHPUT_WINDOW_S, readyQueue, running: this.leases.size };
  }
}

function operandView(operand: Operand): OperationView['a'] {
  return operand.kind === 'lit'
    ? { kind: 'lit', value: operand.value }
    : { kind: 'op', id: operand.id };
}

/**
 * A division-by-zero error for the cache, remembering which `/` of its source (by order) it
 * points at: a repeat spelled differently has the same normalized form, hence the same operators
 * in the same order, but its columns differ.
 */
function cacheableError(source: string, error: ErrorInfo): CachedOutcome {
  if (error.position === undefined || source[error.position] !== '/') return { error };
  let slash = 0;
  for (let i = source.indexOf('/'); i !== -1 && i < error.position; i = source.indexOf('/', i + 1))
    slash += 1;
  return { error, slash };
}

/** A cached division-by-zero error pointed at the same `/` of `source`. */
function respelledError(
  cached: { error: ErrorInfo; slash?: number },
  source: string,
): CachedOutcome {
  if (cached.slash === undefined) return { error: cached.error };
  let at = source.indexOf('/');
  for (let k = 0; k < cached.slash && at !== -1; k += 1) at = source.indexOf('/', at + 1);
  return { error: at === -1 ? cached.error : divZeroError(source, at) };
}

/** The division-by-zero error, naming the division and where its divisor stands. */
export function divZeroError(source: string, position: number): ErrorInfo {
  const from = Math.max(0, position - 20);
  const snippet = source.slice(from, position + 21).replace(/\s+/g, ' ');
  return {
    code: 'EXPR_DIV_ZERO',
    message: `Division by zero at column ${position}: the divisor of '/' in "${from > 0 ? '…' : ''}${snippet}" is 0.`,
    position,
  };
}
