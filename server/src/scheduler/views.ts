/**
 * The scheduler's read model: expression and agent views, expected finish, throughput, "waiting for an
 * agent".
 */
import { createHmac, randomBytes } from 'node:crypto';
import {
  EXPRESSION_PREFIX_CHARS,
  durationOf,
  toJsonNumber,
  type AgentView,
  type ExpressionView,
  type Operand,
  type OperationState,
  type OperationView,
  type Settings,
  type StatsView,
} from '@expressionist/core';
import type { ListCursor, Store, StoredExpression, StoredOpResult } from '../store/store.js';
import type { AgentRegistry } from './agent-registry.js';
import { ExpressionRun, OpState } from './expression-run.js';
import { OPERATORS, type PlanSource } from './plan-source.js';

const STATE_NAMES: Record<OpState, OperationState> = {
  [OpState.Waiting]: 'waiting',
  [OpState.Ready]: 'ready',
  [OpState.Running]: 'running',
  [OpState.Storing]: 'running',
  [OpState.Done]: 'done',
  [OpState.Failed]: 'failed',
  [OpState.Canceled]: 'canceled',
};

const THROUGHPUT_WINDOW_S = 5;
/**
 * Plans of finished expressions, kept so paging through one re-plans it once: a few (a
 * 500,000-op packed plan holds ~20 MB), each for a minute after its last read.
 */
const PLANS_KEPT = 8;
/** Runs up to this many operations get the exact estimate, walked at each progress step. */
const ETA_EXACT_MAX_OPS = 20_000;
const PLAN_TTL_MS = 60_000;
/** Stored expressions were accepted under the limits of their day: re-plan them without any. */
export const UNLIMITED = { maxLength: Number.MAX_SAFE_INTEGER, maxDepth: Number.MAX_SAFE_INTEGER };

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Completed operations per second over the last few whole seconds. */
export class Throughput {
  /** Completions per second in a small ring; `slotSecond` says which second a slot counts. */
  private readonly completions = new Array<number>(THROUGHPUT_WINDOW_S + 1).fill(0);
  private readonly slotSecond = new Array<number>(THROUGHPUT_WINDOW_S + 1).fill(-1);

  count(now: number): void {
    const second = Math.floor(now / 1000);
    const slot = second % this.completions.length;
    if (this.slotSecond[slot] !== second) {
      this.slotSecond[slot] = second;
      this.completions[slot] = 0;
    }
    this.completions[slot]! += 1;
  }

  perSecond(now: number): number {
    const second = Math.floor(now / 1000);
    let total = 0;
    // Whole seconds before the current one, so the rate is not diluted by a partial second.
    for (let back = 1; back <= THROUGHPUT_WINDOW_S; back += 1) {
      const slot = (second - back) % this.completions.length;
      if (this.slotSecond[slot] === second - back) total += this.completions[slot]!;
    }
    return total / THROUGHPUT_WINDOW_S;
  }
}

/**
 * Who reads an agent's details: null for an admin (and everyone in open mode), who sees them all;
 * else a signed-in user's id. A user sees their own agents (browser tabs: identity `user-<id>`)
 * as they are, and every other agent under an alias: agent ids and names are chosen by whoever
 * runs the agent (host names) or made from addresses (course guests), and are not users' to see.
 * Task ids (`running`) are an admin's alone.
 */
export type Viewer = string | null;

/** What the read model reads from the write path. */
export interface ViewSource {
  store: Store;
  agents: AgentRegistry;
  throughput: Throughput;
  settings(): Settings;
  /** A live or recently finished run. */
  runOf(id: string): ExpressionRun | undefined;
  readyCount(): number;
  leasesInFlight(): number;
  /** Plans a stored expression again, off the event loop when it is long (the plan pool). */
  replan(source: string): Promise<PlanSource>;
}

/** One page of operation views; `next` is the id the following page starts at (null: none). */
export interface OperationsPage {
  operations: OperationView[];
  next: number | null;
}

/**
 * The read model: REST and dashboard views of expressions, operations and agents, expected
 * finish times and throughput. It never changes scheduling state.
 */
export class SchedulerViews {
  private readonly etaMemo = new WeakMap<
    ExpressionRun,
    { done: number; at: number; eta: number }
  >();
  /** Operations per operator (`OPERATORS` order) of big runs, for `roughEstimate`. */
  private readonly opMix = new WeakMap<ExpressionRun, number[]>();
  /** Plans of finished expressions (see PLANS_KEPT), by id, oldest read first. */
  private readonly plans = new Map<string, { at: number; plan: Promise<PlanSource> }>();

  /** Keys the aliases: stable while the process lives, unguessable from outside. */
  private readonly aliasKey = randomBytes(32);

  constructor(private readonly src: ViewSource) {}

  /** Aliases computed so far: every delta of 1,000 busy agents would otherwise run 1,000 HMACs. */
  private readonly aliases = new Map<string, string>();

  /** The alias users see for an agent that is not theirs (the same for every user). */
  aliasOf(agentId: string): string {
    let alias = this.aliases.get(agentId);
    if (alias === undefined) {
      // Bounded: ids are chosen by agents, and forgetting costs only a recomputation.
      if (this.aliases.size >= 100_000) this.aliases.clear();
      alias = `agent-${createHmac('sha256', this.aliasKey).update(agentId).digest('hex').slice(0, 12)}`;
      this.aliases.set(agentId, alias);
    }
    return alias;
  }

  /** The user whose browser-tab identity an agent holds, if any. */
  userOfAgent(agentId: string): string | null {
    const identity = this.src.agents.get(agentId)?.identity ?? null;
    return identity !== null && identity.startsWith('user-')
      ? identity.slice('user-'.length)
      : null;
  }

  /** An agent as `viewer` may see it (see `Viewer`). */
  private agentRef(
    agentId: string | null,
    viewer: Viewer,
  ): { agentId: string | null; agentName: string | null } {
    if (agentId === null) return { agentId: null, agentName: null };
    if (viewer === null || this.userOfAgent(agentId) === viewer)
      return { agentId, agentName: this.src.agents.get(agentId)?.name ?? agentId };
    const alias = this.aliasOf(agentId);
    return { agentId: alias, agentName: alias };
  }

  /**
   * The expression `id`, or null when it does not exist or `visible(owner)` says the caller may
   * not see it (the API answers both with the same 404).
   */
  async expressionView(
    id: string,
    visible: (owner: string | null) => boolean = () => true,
    whole = false,
  ): Promise<ExpressionView | null> {
    const run = this.src.runOf(id);
    if (run) return visible(run.stored.owner) ? this.ofRun(run, whole) : null;
    const stored = await this.src.store.getExpression(id);
    return stored && visible(stored.owner) ? this.ofStored(stored, whole) : null;
  }

  /** Who owns `id` (null: nobody, open mode); undefined when there is no such expression. */
  async ownerOf(id: string): Promise<string | null | undefined> {
    const run = this.src.runOf(id);
    if (run) return run.stored.owner;
    return (await this.src.store.getExpression(id))?.owner;
  }

  /** A view for an id that changed (live or recently finished), or null if not in memory. */
  liveView(id: string): ExpressionView | null {
    const run = this.src.runOf(id);
    return run ? this.ofRun(run) : null;
  }

  /** Like `liveView`, with the expression's owner (who may be told about it). */
  liveViewWithOwner(id: string): { view: ExpressionView; owner: string | null } | null {
    const run = this.src.runOf(id);
    return run ? { view: this.ofRun(run), owner: run.stored.owner } : null;
  }

  /** Newest first; only `owner`'s when given. */
  async listExpressions(
    limit: number,
    cursor?: ListCursor,
    owner?: string,
  ): Promise<ExpressionView[]> {
    const stored = await this.src.store.listExpressions(limit, cursor, owner);
    return stored.map((s) => {
      const run = this.src.runOf(s.id);
      return run ? this.ofRun(run) : this.ofStored(s);
    });
  }

  /** The view of a run; `whole`: the whole text, else its first EXPRESSION_PREFIX_CHARS. */
  ofRun(run: ExpressionRun, whole = false): ExpressionView {
    const view = this.ofStored(run.stored, whole);
    view.progress = { done: run.doneCount, total: run.total };
    view.estimatedFinishAt = run.finished ? null : iso(this.estimate(run));
    view.waiting = run.finished || !run.hasReady ? null : this.waitingReason();
    return view;
  }

  ofStored(stored: Readonly<StoredExpression>, whole = false): ExpressionView {
    const done = stored.status === 'done' ? stored.opCount : 0;
    const text = stored.expression;
    return {
      id: stored.id,
      expression:
        whole || text.length <= EXPRESSION_PREFIX_CHARS
          ? text
          : text.slice(0, EXPRESSION_PREFIX_CHARS),
      expressionLength: text.length,
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
      waiting: null,
    };
  }

  /** Why ready work is not being taken: nobody could take it now. */
  private waitingReason(): ExpressionView['waiting'] {
    const agents = this.src.agents;
    if (agents.hasResponsive()) return null;
    for (const agent of agents.all())
      if (agent.status === 'unresponsive') return 'no_responsive_agent';
    return 'no_agent';
  }

  /**
   * Expected finish: now + max(remaining critical path, remaining work / worker slots), the
   * plan's lower bound applied to what is left. Memoized per progress step.
   */
  private estimate(run: ExpressionRun): number {
    const now = Date.now();
    const memo = this.etaMemo.get(run);
    const big = run.total > ETA_EXACT_MAX_OPS;
    // A big run's estimate is kept a second even as it progresses: every delta asks for it.
    if (memo && (memo.done === run.doneCount || big) && now - memo.at < 1000) return memo.eta;
    if (big) {
      const eta = this.roughEstimate(run, now);
      this.etaMemo.set(run, { done: run.doneCount, at: now, eta });
      return eta;
    }
    const settings = this.src.settings();
    const remaining = new Float64Array(run.total);
    let critical = 0;
    let work = 0;
    for (let id = 0; id < run.total; id += 1) {
      const state = run.stateOf(id);
      if (state === OpState.Done) continue;
      let own = durationOf(run.operatorOf(id), settings);
      if (state === OpState.Running || state === OpState.Storing)
        own = Math.max(0, own - (now - run.startedAtOf(id)));
      const a = run.inputOf(id, 0);
      const b = run.inputOf(id, 1);
      const inputA = a >= 0 ? remaining[a]! : 0;
      const inputB = b >= 0 ? remaining[b]! : 0;
      remaining[id] = own + Math.max(inputA, inputB);
      critical = Math.max(critical, remaining[id]!);
      work += own;
    }
    const slots = Math.max(1, this.src.agents.totalSlots());
    const eta = now + Math.max(critical, work / slots);
    this.etaMemo.set(run, { done: run.doneCount, at: now, eta });
    return eta;
  }

  /**
   * The estimate of a run too big to walk on every view (a 1 MB expression: 500,000 ops, ~10 ms
   * a walk, and ten such runs made every delta flush stall the loop for half a second): the
   * plan's bound with the remaining operations taken as the plan's average one, and the critical
   * path shrunk in proportion to what is left. Walks the plan once per run for the average.
   */
  private roughEstimate(run: ExpressionRun, now: number): number {
    let mix = this.opMix.get(run);
    if (!mix) {
      mix = [0, 0, 0, 0];
      for (let id = 0; id < run.total; id += 1) mix[OPERATORS.indexOf(run.operatorOf(id))]! += 1;
      this.opMix.set(run, mix);
    }
    const settings = this.src.settings();
    let sum = 0;
    for (let k = 0; k < OPERATORS.length; k += 1)
      sum += mix[k]! * durationOf(OPERATORS[k]!, settings);
    const mean = run.total > 0 ? sum / run.total : 0;
    const left = run.total - run.doneCount;
    const critical = run.plan.criticalPathOps * mean * (run.total > 0 ? left / run.total : 0);
    const slots = Math.max(1, this.src.agents.totalSlots());
    return now + Math.max(critical, (left * mean) / slots);
  }

  /**
   * Operations `from`, `from + 1`, … (at most `limit`) of an expression, live or rebuilt from the
   * store; null when there is no such expression or the caller may not see it. A page costs
   * `limit` views whatever the expression's size. A finished expression is re-planned on the plan
   * pool (not on the event loop) once and its plan kept a while for the next pages; each page
   * reads from the store only the results it shows (its ops' and their inputs').
   */
  async operationsPage(
    id: string,
    from: number,
    limit: number,
    visible: (owner: string | null) => boolean = () => true,
    viewer: Viewer = null,
  ): Promise<OperationsPage | null> {
    const run = this.src.runOf(id);
    if (run) {
      if (!visible(run.stored.owner)) return null;
      const end = Math.min(run.total, from + limit);
      const operations: OperationView[] = [];
      for (let opId = from; opId < end; opId += 1)
        operations.push(this.operationView(run, opId, viewer));
      return { operations, next: end < run.total ? end : null };
    }
    const stored = await this.src.store.getExpression(id);
    if (!stored || !visible(stored.owner)) return null;
    // A cached answer ran no operation at all: an empty list says so better than idle nodes.
    if (stored.cached || stored.opCount === 0) return { operations: [], next: null };
    const plan = await this.planOf(stored);
    return this.storedPage(stored, plan, from, Math.min(plan.size, from + limit), viewer);
  }

  /** Views of ops [from, end) of a finished expression, from its plan and stored results. */
  private async storedPage(
    stored: Readonly<StoredExpression>,
    plan: PlanSource,
    from: number,
    end: number,
    viewer: Viewer,
  ): Promise<OperationsPage> {
    const wanted = new Set<number>();
    for (let opId = from; opId < end; opId += 1) {
      wanted.add(opId);
      for (const side of [0, 1] as const) {
        const input = plan.input(opId, side);
        if (input >= 0) wanted.add(input);
      }
    }
    const results = new Map<number, StoredOpResult>();
    if (wanted.size > 0)
      for (const r of await this.src.store.getOpResults(stored.id, [...wanted]))
        results.set(r.opId, r);
    // As the run left them: what did not finish was canceled or failed with the expression.
    const unfinished: OperationState =
      stored.status === 'canceled' ? 'canceled' : stored.status === 'error' ? 'failed' : 'waiting';
    const valueOf = (operand: Operand): string | null =>
      operand.kind === 'lit' ? operand.value : (results.get(operand.id)?.value ?? null);
    const operations: OperationView[] = [];
    for (let opId = from; opId < end; opId += 1) {
      const op = plan.op(opId);
      const result = results.get(opId);
      operations.push({
        id: opId,
        op: op.op,
        a: operandView(op.a),
        b: operandView(op.b),
        state: result ? 'done' : unfinished,
        aValue: valueOf(op.a),
        bValue: valueOf(op.b),
        result: result?.value ?? null,
        ...this.agentRef(result?.agentId ?? null, viewer),
        attempt: result?.attempt ?? 0,
        reassigned: 0,
        depth: op.depth,
        span: { start: op.span.start, end: op.span.end },
        startedAt: null,
        finishedAt: result ? iso(result.finishedAt) : null,
      });
    }
    return { operations, next: end < plan.size ? end : null };
  }

  /** A finished expression's plan, planned again on the plan pool (memoized briefly). */
  private planOf(stored: Readonly<StoredExpression>): Promise<PlanSource> {
    const now = Date.now();
    for (const [key, entry] of this.plans) if (now - entry.at > PLAN_TTL_MS) this.plans.delete(key);
    const kept = this.plans.get(stored.id);
    if (kept) {
      // Re-inserted: the map's order is the order of last reads.
      this.plans.delete(stored.id);
      this.plans.set(stored.id, { at: now, plan: kept.plan });
      return kept.plan;
    }
    const plan = this.src.replan(stored.expression);
    this.plans.set(stored.id, { at: now, plan });
    // A failed plan is not kept: the next read tries again.
    plan.catch(() => {
      if (this.plans.get(stored.id)?.plan === plan) this.plans.delete(stored.id);
    });
    while (this.plans.size > PLANS_KEPT) this.plans.delete(this.plans.keys().next().value!);
    return plan;
  }

  /** Views of the given op ids of a live or recently finished expression. */
  operationViews(
    expressionId: string,
    opIds: Iterable<number>,
    viewer: Viewer = null,
  ): OperationView[] {
    const run = this.src.runOf(expressionId);
    if (!run) return [];
    const views: OperationView[] = [];
    for (const id of opIds) views.push(this.operationView(run, id, viewer));
    return views;
  }

  private operationView(run: ExpressionRun, opId: number, viewer: Viewer): OperationView {
    const op = run.op(opId);
    const finishedAt = run.finishedAtOf(opId);
    const startedAt = run.startedAtOf(opId);
    return {
      id: opId,
      op: op.op,
      a: operandView(op.a),
      b: operandView(op.b),
      state: STATE_NAMES[run.stateOf(opId)],
      aValue: run.valueOf(op.a) ?? null,
      bValue: run.valueOf(op.b) ?? null,
      result: run.resultOf(opId) ?? null,
      ...this.agentRef(run.agentOf(opId) ?? null, viewer),
      attempt: run.attemptOf(opId),
      reassigned: run.reassignedOf(opId),
      depth: op.depth,
      span: { start: op.span.start, end: op.span.end },
      startedAt: startedAt === 0 ? null : iso(startedAt),
      finishedAt: finishedAt === 0 ? null : iso(finishedAt),
    };
  }

  agentViews(viewer: Viewer = null): AgentView[] {
    return [...this.src.agents.all()].map((agent) => this.seenBy(agent.toView(), viewer));
  }

  agentView(id: string, viewer: Viewer = null): AgentView | null {
    const view = this.src.agents.get(id)?.toView();
    return view ? this.seenBy(view, viewer) : null;
  }

  /** `view` as `viewer` may see it (see `Viewer`). */
  private seenBy(view: AgentView, viewer: Viewer): AgentView {
    if (viewer === null) return view;
    view.running = [];
    if (this.userOfAgent(view.id) === viewer) return view;
    const alias = this.aliasOf(view.id);
    view.id = alias;
    view.name = alias;
    return view;
  }

  stats(): StatsView {
    return {
      opsPerSecond: this.src.throughput.perSecond(Date.now()),
      readyQueue: this.src.readyCount(),
      running: this.src.leasesInFlight(),
    };
  }
}

function operandView(operand: Operand): OperationView['a'] {
  return operand.kind === 'lit'
    ? { kind: 'lit', value: operand.value }
    : { kind: 'op', id: operand.id };
}
