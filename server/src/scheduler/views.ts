/**
 * The read model: REST and dashboard views of expressions, with operation pages, agents, expected
 * finish times and throughput delegated to their own files.
 */
import {
  EXPRESSION_PREFIX_CHARS,
  toJsonNumber,
  type AgentView,
  type ExpressionView,
  type OperationView,
  type Settings,
  type StatsView,
} from '@expressionist/core';
import type { ListCursor, StoredExpression } from '../store/store.js';
import type { AgentRegistry } from './agent-registry.js';
import { AgentViews, type Viewer } from './agent-views.js';
import { FinishEstimates } from './eta.js';
import type { ExpressionRun } from './expression-run.js';
import {
  OperationViews,
  iso,
  type OperationSource,
  type OperationsPage,
} from './operation-views.js';
import type { Throughput } from './throughput.js';

export type { Viewer } from './agent-views.js';
export type { OperationsPage } from './operation-views.js';

/** Stored expressions were accepted under the limits of their day: re-plan them without any. */
export const UNLIMITED = { maxLength: Number.MAX_SAFE_INTEGER, maxDepth: Number.MAX_SAFE_INTEGER };

/** What the read model reads from the write path. */
export interface ViewSource extends OperationSource {
  agents: AgentRegistry;
  throughput: Throughput;
  settings(): Settings;
  readyCount(): number;
  leasesInFlight(): number;
}

/**
 * The read model: REST and dashboard views of expressions, operations and agents, expected
 * finish times and throughput. It never changes scheduling state.
 */
export class SchedulerViews {
  private readonly agents: AgentViews;
  private readonly estimates: FinishEstimates;
  private readonly operations: OperationViews;

  constructor(private readonly src: ViewSource) {
    this.agents = new AgentViews(src.agents);
    this.estimates = new FinishEstimates(() => src.settings(), src.agents);
    this.operations = new OperationViews(src, this.agents);
  }

  /** The alias users see for an agent that is not theirs (the same for every user). */
  aliasOf(agentId: string): string {
    return this.agents.aliasOf(agentId);
  }

  /** The user whose browser-tab identity an agent holds, if any. */
  userOfAgent(agentId: string): string | null {
    return this.agents.userOfAgent(agentId);
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
    view.estimatedFinishAt = run.finished ? null : iso(this.estimates.estimate(run));
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

  /** A page of an expression's operations, or null for none to see (see `OperationViews.page`). */
  operationsPage(
    id: string,
    from: number,
    limit: number,
    visible: (owner: string | null) => boolean = () => true,
    viewer: Viewer = null,
  ): Promise<OperationsPage | null> {
    return this.operations.page(id, from, limit, visible, viewer);
  }

  /** Views of the given op ids of a live or recently finished expression. */
  operationViews(
    expressionId: string,
    opIds: Iterable<number>,
    viewer: Viewer = null,
  ): OperationView[] {
    return this.operations.operationViews(expressionId, opIds, viewer);
  }

  agentViews(viewer: Viewer = null): AgentView[] {
    return this.agents.agentViews(viewer);
  }

  agentView(id: string, viewer: Viewer = null): AgentView | null {
    return this.agents.agentView(id, viewer);
  }

  /** Every agent's view, a slice per event-loop turn (see `AgentViews.agentViewsInSlices`). */
  agentViewsInSlices(viewer: Viewer, slice: number): Promise<AgentView[]> {
    return this.agents.agentViewsInSlices(viewer, slice);
  }

  /** One page of the agents list, in join order (see `AgentRegistry.page`). */
  agentPage(
    after: number,
    limit: number,
    viewer: Viewer = null,
  ): { agents: AgentView[]; next: number | null } {
    return this.agents.agentPage(after, limit, viewer);
  }

  stats(): StatsView {
    return {
      opsPerSecond: this.src.throughput.perSecond(Date.now()),
      readyQueue: this.src.readyCount(),
      running: this.src.leasesInFlight(),
    };
  }
}
