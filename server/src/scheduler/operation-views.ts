/**
 * Operation views: pages of a live expression's operations, or of a finished one rebuilt from its
 * plan (re-planned once, kept briefly) and its stored results.
 */
import type { Operand, OperationState, OperationView } from '@expressionist/core';
import type { Store, StoredExpression, StoredOpResult } from '../store/store.js';
import type { AgentViews, Viewer } from './agent-views.js';
import { OpState, type ExpressionRun } from './expression-run.js';
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

/**
 * Plans of finished expressions, kept so paging through one re-plans it once: a few (a
 * 500,000-op packed plan holds ~20 MB), each for a minute after its last read.
 */
const PLANS_KEPT = 8;
const PLAN_TTL_MS = 60_000;

/** A time as ISO 8601, or null for none. */
export const iso = (ms: number | null): string | null =>
  ms === null ? null : new Date(ms).toISOString();

/** One page of operation views; `next` is the id the following page starts at (null: none). */
export interface OperationsPage {
  operations: OperationView[];
  next: number | null;
}

/** What operation views read from the write path. */
export interface OperationSource {
  store: Store;
  /** A live or recently finished run. */
  runOf(id: string): ExpressionRun | undefined;
  /** Plans a stored expression again, off the event loop when it is long (the plan pool). */
  replan(source: string): Promise<PlanSource>;
}

/** Views of the operations of live and finished expressions. */
export class OperationViews {
  /** Plans of finished expressions (see PLANS_KEPT), by id, oldest read first. */
  private readonly plans = new Map<string, { at: number; plan: Promise<PlanSource> }>();

  constructor(
    private readonly src: OperationSource,
    private readonly agents: AgentViews,
  ) {}

  /**
   * Operations `from`, `from + 1`, … (at most `limit`) of an expression, live or rebuilt from the
   * store; null when there is no such expression or the caller may not see it. A page costs
   * `limit` views whatever the expression's size. A finished expression is re-planned on the plan
   * pool (not on the event loop) once and its plan kept a while for the next pages; each page
   * reads from the store only the results it shows (its ops' and their inputs').
   */
  async page(
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
        ...this.agents.agentRef(result?.agentId ?? null, viewer),
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
      ...this.agents.agentRef(run.agentOf(opId) ?? null, viewer),
      attempt: run.attemptOf(opId),
      reassigned: run.reassignedOf(opId),
      depth: op.depth,
      span: { start: op.span.start, end: op.span.end },
      startedAt: startedAt === 0 ? null : iso(startedAt),
      finishedAt: finishedAt === 0 ? null : iso(finishedAt),
    };
  }
}

function operandView(operand: Operand): OperationView['a'] {
  return operand.kind === 'lit'
    ? { kind: 'lit', value: operand.value }
    : { kind: 'op', id: operand.id };
}
