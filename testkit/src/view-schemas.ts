/**
 * Runtime checks of the views the orchestrator sends, for the clients in this kit and the
 * benches. Stand-ins: core is turning its view interfaces into zod schemas under these same
 * names; when it exports them, import them from `@expressionist/core` instead and delete this
 * file. Until then they check only the fields tests and benches read, and let the rest through.
 */
import { z } from 'zod';

export const ExpressionViewSchema = z.looseObject({
  id: z.string(),
  status: z.enum(['pending', 'in_progress', 'done', 'error', 'canceled']),
  value: z.string().nullable(),
  error: z.looseObject({ code: z.string(), message: z.string() }).nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  progress: z.looseObject({ done: z.number(), total: z.number() }),
});

export const OperationViewSchema = z.looseObject({
  id: z.number(),
  op: z.enum(['+', '-', '*', '/']),
  state: z.enum(['waiting', 'ready', 'running', 'done', 'failed', 'canceled']),
  result: z.string().nullable(),
  attempt: z.number(),
});

export const AgentViewSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  concurrency: z.number(),
  running: z.array(z.string()),
});

/**
 * Checks `value` with one of the stand-ins above and names it by core's type. The one cast of
 * this kit: the stand-ins check a subset, so the full shape rests on the server's own tests.
 */
export function checkedView<T>(schema: z.ZodType, value: unknown): T {
  return schema.parse(value) as T;
}
