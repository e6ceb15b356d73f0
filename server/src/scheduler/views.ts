import {
  compile,
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
import { ObjectPlan } from './plan-source.js';

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

  constructor(private readonly src: ViewSource) {}

  /**
   * The expression `id`, or null when it does not exist or `visible(owner)` says the caller may
   * not see it (the API answers both with the same 404).
   */
  async expressionView(
    id: string,
    visible: (owner: string | null) => boolean = () => true,
  ): Promise<ExpressionView | null> {
    const run = this.src.runOf(id);
    if (run) return visible(run.stored.owner) ? this.ofRun(run) : null;
    const stored = await this.src.store.getExpression(id);
    return stored && visible(stored.owner) ? this.ofStored(stored) : null;
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

  ofRun(run: ExpressionRun): ExpressionView {
    const view = this.ofStored(run.stored);
    view.progress = { done: run.doneCount, total: run.total };
    view.estimatedFinishAt = run.finished ? null : iso(this.estimate(run));
    view.waiting = run.finished || !run.hasReady ? null : this.waitingReason();
    return view;
  }

  ofStored(stored: Readonly<StoredExpression>): ExpressionView {
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

  /** Operations of an expression, live or rebuilt from the store (null: none, or not visible). */
  async operations(
    id: string,
    visible: (owner: string | null) => boolean = () => true,
  ): Promise<OperationView[] | null> {
    const run = this.src.runOf(id);
    if (run)
      return visible(run.stored.owner)
        ? Array.from({ length: run.total }, (_, id) => this.operationView(run, id))
        : null;
    const stored = await this.src.store.getExpression(id);
    if (!stored || !visible(stored.owner)) return null;
    // A cached answer ran no operation at all: an empty list says so better than idle nodes.
    if (stored.cached) return [];
    const plan = compile(stored.expression, UNLIMITED).plan;
    const rebuilt = new ExpressionRun(stored, new ObjectPlan(plan));
    rebuilt.restore(await this.src.store.getOpResults(id));
    rebuilt.settleOps(stored.status);
    return plan.ops.map((op) => this.operationView(rebuilt, op.id));
  }

  /** Views of the given op ids of a live or recently finished expression. */
  operationViews(expressionId: string, opIds: Iterable<number>): OperationView[] {
    const run = this.src.runOf(expressionId);
    if (!run) return [];
    return [...opIds].map((id) => this.operationView(run, id));
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
