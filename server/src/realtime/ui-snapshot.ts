/**
 * What a dashboard is sent whole: the snapshot on connect (recent expressions, agents, settings,
 * stats) and the answer to `subscribe` (an expression and the first page of its operations).
 */
import { errorInfo, type SubscribeReply, type UiSnapshot } from '@expressionist/core';
import { agentViewer, canSee, visibleOwner, type Principal } from '../auth/policy.js';
import type { Scheduler } from '../scheduler/scheduler.js';

const SNAPSHOT_EXPRESSIONS = 200;
/** Agent views built per event-loop turn for a snapshot (10,000 agents: 10 turns of ~1–2 ms). */
const SNAPSHOT_AGENTS_SLICE = 1000;
/**
 * Operations in a subscribe answer: the REST route's default page. Every subscribe builds and
 * serializes it (~150 KB); bigger first pages made a subscribe loop over 1 MB expressions allocate
 * enough to trigger major collections of a heap holding millions of operations (bench 12).
 */
const SUBSCRIBE_PAGE = 500;

/** The snapshot `principal` may see. */
export async function snapshotFor(scheduler: Scheduler, principal: Principal): Promise<UiSnapshot> {
  const expressions = await scheduler.views.listExpressions(
    SNAPSHOT_EXPRESSIONS,
    undefined,
    visibleOwner(principal),
  );
  return {
    expressions,
    agents: await scheduler.views.agentViewsInSlices(agentViewer(principal), SNAPSHOT_AGENTS_SLICE),
    settings: scheduler.getSettings(),
    stats: scheduler.stats(),
  };
}

/**
 * What `subscribe` answers: the expression (its text's prefix) and the first page of its
 * operations, if the principal may see it.
 */
export async function subscriptionFor(
  scheduler: Scheduler,
  principal: Principal,
  expressionId: string,
): Promise<SubscribeReply> {
  const visible = (owner: string | null): boolean => canSee(principal, owner);
  const expression = await scheduler.views.expressionView(expressionId, visible);
  const page = expression
    ? await scheduler.views.operationsPage(
        expressionId,
        0,
        SUBSCRIBE_PAGE,
        visible,
        agentViewer(principal),
      )
    : null;
  // Someone else's expression answers exactly as one that does not exist.
  if (!expression || !page)
    return { ok: false, error: errorInfo('EXPRESSION_NOT_FOUND', { id: expressionId }) };
  return {
    ok: true,
    expression,
    operations: page.operations,
    nextCursor: page.next === null ? null : String(page.next),
  };
}
