/**
 * The dashboard's state reducer, kept free of Svelte so it can be unit-tested: snapshots replace
 * state, deltas upsert into Maps keyed by id. The list order is an array of ids that is replaced
 * only when membership changes, so an update to one expression touches one row, not the list.
 */
import type {
  AgentView,
  ExpressionView,
  OperationView,
  Settings,
  StatsView,
  UiDelta,
  UiSnapshot,
} from '@expressionist/core';

/** Everything the `/ui` socket keeps current. Works with plain Maps and with SvelteMap. */
export interface LiveModel {
  expressions: Map<string, ExpressionView>;
  /** Ids of listed expressions, newest first. Replaced (never mutated) on change. */
  order: string[];
  /**
   * `createdAt` of the oldest listed expression when older ones may exist on the server but are
   * not loaded; `null` when the list is complete. Live updates about expressions older than the
   * floor refresh the Map (a detail page may show them) but do not join the list: they would
   * appear out of place above a gap that "Load more" has not filled yet.
   */
  floor: string | null;
  agents: Map<string, AgentView>;
  settings: Settings | null;
  stats: StatsView | null;
  /** Operations of subscribed expressions, by expression id, then operation id. */
  operations: Map<string, Map<number, OperationView>>;
}

type Dated = Pick<ExpressionView, 'id' | 'createdAt'>;

/** Newest first; equal timestamps fall back to the id so the order is total and stable. */
export function compareNewestFirst(a: Dated, b: Dated): number {
  const ta = Date.parse(a.createdAt);
  const tb = Date.parse(b.createdAt);
  if (ta !== tb) return tb - ta;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function isOlderThanFloor(expression: Dated, floor: string | null): boolean {
  return floor !== null && Date.parse(expression.createdAt) < Date.parse(floor);
}

/** Inserts `ids` (not yet in `order`) at their sorted places; returns a new array. */
function insertSorted(
  order: readonly string[],
  incoming: readonly ExpressionView[],
  lookup: (id: string) => Dated | undefined,
): string[] {
  const next = order.slice();
  const sorted = incoming.slice().sort(compareNewestFirst);
  for (const expression of sorted) {
    let lo = 0;
    let hi = next.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = lookup(next[mid]!);
      if (other && compareNewestFirst(other, expression) <= 0) lo = mid + 1;
      else hi = mid;
    }
    next.splice(lo, 0, expression.id);
  }
  return next;
}

/**
 * Upserts expressions. `live` data (snapshot, delta, subscribe ack) always wins; a REST `page`
 * never overwrites what the socket already delivered, since the socket is at least as fresh.
 * Pages extend the list downwards and lower the floor.
 */
export function upsertExpressions(
  model: LiveModel,
  expressions: readonly ExpressionView[],
  source: 'live' | 'page',
): void {
  if (expressions.length === 0) return;
  const listed = new Set(model.order);
  const added: ExpressionView[] = [];
  for (const expression of expressions) {
    const known = model.expressions.has(expression.id);
    if (source === 'live' || !known) model.expressions.set(expression.id, expression);
    if (listed.has(expression.id)) continue;
    if (source === 'live' && isOlderThanFloor(expression, model.floor)) continue;
    listed.add(expression.id);
    added.push(model.expressions.get(expression.id)!);
  }
  if (source === 'page') {
    for (const expression of expressions) {
      if (model.floor === null || isOlderThanFloor(expression, model.floor)) {
        model.floor = expression.createdAt;
      }
    }
  }
  if (added.length > 0) {
    model.order = insertSorted(model.order, added, (id) => model.expressions.get(id));
  }
}

/** Marks the list as complete: nothing older exists on the server. */
export function markListComplete(model: LiveModel): void {
  model.floor = null;
}

/**
 * Replaces all state with a fresh snapshot (on every connect and reconnect). Operation Maps of
 * subscribed expressions stay: the owner re-subscribes and the acks replace their contents.
 */
export function applySnapshot(model: LiveModel, snapshot: UiSnapshot): void {
  model.expressions.clear();
  const sorted = snapshot.expressions.slice().sort(compareNewestFirst);
  for (const expression of sorted) model.expressions.set(expression.id, expression);
  model.order = sorted.map((e) => e.id);
  model.floor = sorted.length > 0 ? sorted[sorted.length - 1]!.createdAt : null;
  model.agents.clear();
  for (const agent of snapshot.agents) model.agents.set(agent.id, agent);
  model.settings = snapshot.settings;
  model.stats = snapshot.stats;
}

/** Replaces the operations of one subscribed expression (subscribe ack). */
export function replaceOperations(
  model: LiveModel,
  expressionId: string,
  operations: readonly OperationView[],
): Map<number, OperationView> {
  let map = model.operations.get(expressionId);
  if (!map) {
    map = new Map();
    model.operations.set(expressionId, map);
  }
  map.clear();
  for (const op of operations) map.set(op.id, op);
  return map;
}

/** Drops deleted expressions from the Map and the list (and their operations). */
export function removeExpressions(model: LiveModel, ids: readonly string[]): void {
  const gone = new Set(ids.filter((id) => model.expressions.delete(id)));
  for (const id of ids) model.operations.delete(id);
  if (gone.size > 0) model.order = model.order.filter((id) => !gone.has(id));
}

/** Merges one delta batch into the model. */
export function applyDelta(model: LiveModel, delta: UiDelta): void {
  if (delta.expressions) upsertExpressions(model, delta.expressions, 'live');
  if (delta.agents) for (const agent of delta.agents) model.agents.set(agent.id, agent);
  if (delta.agentsRemoved) for (const id of delta.agentsRemoved) model.agents.delete(id);
  if (delta.expressionsRemoved) removeExpressions(model, delta.expressionsRemoved);
  if (delta.settings) model.settings = delta.settings;
  if (delta.stats) model.stats = delta.stats;
  if (delta.operations) {
    for (const { expressionId, operations } of delta.operations) {
      // Only subscribed expressions have a Map; anything else is a late batch after unsubscribe.
      const map = model.operations.get(expressionId);
      if (!map) continue;
      for (const op of operations) map.set(op.id, op);
    }
  }
}

/** One throughput reading. */
export interface Sample {
  t: number;
  v: number;
}

/**
 * Appends a reading and drops those older than the window, keeping one just before it so the
 * line enters the chart from its left edge instead of starting mid-air.
 */
export function appendSample(
  samples: readonly Sample[],
  sample: Sample,
  windowMs: number,
): Sample[] {
  const start = sample.t - windowMs;
  let firstInside = samples.findIndex((s) => s.t >= start);
  if (firstInside === -1) firstInside = samples.length;
  const keepFrom = Math.max(0, firstInside - 1);
  return [...samples.slice(keepFrom), sample];
}
