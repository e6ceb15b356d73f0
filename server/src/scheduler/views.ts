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
import type { ListCursor, Store, StoredExpression } from '../store/store.js';
import type { AgentRegistry } from './agent-registry.js';
import { ExpressionRun, OpState } from './expression-run.js';
import type { PlanSource } from './plan-source.js';

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
 * Finished expressions rebuilt for their operation views, kept so paging through one re-plans it
 * once: a few (a 500,000-op run holds ~30 MB), each for a minute after its last read.
 */
const REBUILT_KEEP = 4;
const REBUILT_TTL_MS = 60_000;
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
  /** Finished expressions rebuilt from the store (see REBUILT_KEEP), by id, oldest read first. */
  private readonly rebuilt = new Map<string, { at: number; run: Promise<ExpressionRun> }>();

  constructor(private readonly src: ViewSource) {}

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
    if (memo && memo.done === run.doneCount && now - memo.at < 1000) return memo.eta;
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
   * Operations `from`, `from + 1`, … (at most `limit`) of an expression, live or rebuilt from the
   * store; null when there is no such expression or the caller may not see it. A page costs
   * `limit` views whatever the expression's size; a finished expression is re-planned on the
   * plan pool (not on the event loop) once, then kept for a while for its next pages.
   */
  async operationsPage(
    id: string,
    from: number,
    limit: number,
    visible: (owner: string | null) => boolean = () => true,
  ): Promise<OperationsPage | null> {
    let run = this.src.runOf(id);
    if (run && !visible(run.stored.owner)) return null;
    if (!run) {
      const stored = await this.src.store.getExpression(id);
      if (!stored || !visible(stored.owner)) return null;
      // A cached answer ran no operation at all: an empty list says so better than idle nodes.
      if (stored.cached) return { operations: [], next: null };
      run = await this.rebuild(stored);
    }
    const end = Math.min(run.total, from + limit);
    const operations: OperationView[] = [];
    for (let opId = from; opId < end; opId += 1) operations.push(this.operationView(run, opId));
    return { operations, next: end < run.total ? end : null };
  }

  /** A finished expression's run, rebuilt from its source and stored results (memoized). */
  private rebuild(stored: Readonly<StoredExpression>): Promise<ExpressionRun> {
    const now = Date.now();
    for (const [key, entry] of this.rebuilt)
      if (now - entry.at > REBUILT_TTL_MS) this.rebuilt.delete(key);
    const kept = this.rebuilt.get(stored.id);
    if (kept) {
      // Re-inserted: the map's order is the order of last reads.
      this.rebuilt.delete(stored.id);
      this.rebuilt.set(stored.id, { at: now, run: kept.run });
      return kept.run;
    }
    const run = (async () => {
      const plan = await this.src.replan(stored.expression);
      const rebuilt = new ExpressionRun(stored, plan);
      rebuilt.restore(await this.src.store.getOpResults(stored.id));
      rebuilt.settleOps(stored.status);
      return rebuilt;
    })();
    this.rebuilt.set(stored.id, { at: now, run });
    // A failed rebuild is not kept: the next read tries again.
    run.catch(() => {
      if (this.rebuilt.get(stored.id)?.run === run) this.rebuilt.delete(stored.id);
    });
    while (this.rebuilt.size > REBUILT_KEEP) this.rebuilt.delete(this.rebuilt.keys().next().value!);
    return run;
  }

  /** Views of the given op ids of a live or recently finished expression. */
  operationViews(expressionId: string, opIds: Iterable<number>): OperationView[] {
    const run = this.src.runOf(expressionId);
    if (!run) return [];
    const views: OperationView[] = [];
    for (const id of opIds) views.push(this.operationView(run, id));
    return views;
  }

  private operationView(run: ExpressionRun, opId: number): OperationView {
    const op = run.op(opId);
    const agentId = run.agentOf(opId) ?? null;
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
      agentId,
      agentName: agentId === null ? null : (this.src.agents.get(agentId)?.name ?? agentId),
      attempt: run.attemptOf(opId),
      reassigned: run.reassignedOf(opId),
      depth: op.depth,
      span: { start: op.span.start, end: op.span.end },
      startedAt: startedAt === 0 ? null : iso(startedAt),
      finishedAt: finishedAt === 0 ? null : iso(finishedAt),
    };
  }

  agentViews(): AgentView[] {
    return [...this.src.agents.all()].map((agent) => agent.toView());
  }

  agentView(id: string): AgentView | null {
    return this.src.agents.get(id)?.toView() ?? null;
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
