/**
 * Restart recovery: every unfinished expression is re-planned from its source and resumed from
 * the operation results already stored, so work done before a crash is never done again and
 * nothing accepted is lost.
 */
import type { Logger } from 'pino';
import { compile } from '@expressionist/core';
import type { Store, StoredExpression, StoredOpResult } from '../store/store.js';
import type { ExpressionWriter } from './expression-writer.js';
import { ExpressionRun } from './expression-run.js';
import { ObjectPlan } from './plan-source.js';
import { UNLIMITED } from './views.js';

/** Unfinished expressions whose results are fetched per store round trip during recovery. */
const RECOVERY_BATCH = 500;

/**
 * Rebuilds each unfinished expression with its stored results applied and hands it to `resume`
 * (with the root's value when the root was already computed). Returns how many were resumed.
 */
export async function recoverUnfinished(
  store: Store,
  writer: ExpressionWriter,
  log: Logger,
  resume: (run: ExpressionRun, rootValue: string | undefined) => void,
): Promise<number> {
  const started = performance.now();
  let reading = 0;
  const unfinished = await store.listUnfinished();
  reading += performance.now() - started;
  for (let from = 0; from < unfinished.length; from += RECOVERY_BATCH) {
    const batch = unfinished.slice(from, from + RECOVERY_BATCH);
    const results = new Map<string, StoredOpResult[]>();
    const readFrom = performance.now();
    const stored = await store.getOpResultsOfMany(batch.map((e) => e.id));
    reading += performance.now() - readFrom;
    for (const result of stored) {
      const list = results.get(result.expressionId);
      if (list) list.push(result);
      else results.set(result.expressionId, [result]);
    }
    for (const expression of batch) {
      const run = rebuild(expression, writer, log);
      if (run) resume(run, run.restore(results.get(expression.id) ?? []));
    }
  }
  if (unfinished.length > 0)
    log.info(
      {
        resumed: unfinished.length,
        readMs: Math.round(reading),
        totalMs: Math.round(performance.now() - started),
      },
      'resumed unfinished expressions',
    );
  return unfinished.length;
}

function rebuild(
  stored: StoredExpression,
  writer: ExpressionWriter,
  log: Logger,
): ExpressionRun | undefined {
  try {
    return new ExpressionRun(stored, new ObjectPlan(compile(stored.expression, UNLIMITED).plan));
  } catch (err) {
    log.error({ err, id: stored.id }, 'a stored expression no longer compiles; marking it failed');
    writer.write(stored.id, {
      status: 'error',
      finishedAt: Date.now(),
      error: { code: 'INTERNAL', message: 'Could not be resumed after a restart.' },
    });
    return undefined;
  }
}
