/**
 * Messages between the page and the browser-agent Web Worker. Both directions are checked at
 * run time: `postMessage` is a process boundary like any socket.
 */
import { z } from 'zod';
import { AgentHelloSchema, OperatorSchema, SettingsSchema } from '@expressionist/core';

export const PageToWorkerSchema = z.discriminatedUnion('type', [
  /** Connect to `${origin}/agents` and start accepting tasks. */
  z.object({ type: z.literal('start'), origin: z.string().url(), hello: AgentHelloSchema }),
  /** Disconnect at once; the orchestrator requeues whatever was running. */
  z.object({ type: z.literal('stop') }),
]);
export type PageToWorker = z.infer<typeof PageToWorkerSchema>;

export const RunningOpSchema = z.object({
  taskId: z.string(),
  attempt: z.number().int(),
  op: OperatorSchema,
  a: z.string(),
  b: z.string(),
  durationMs: z.number(),
  startedAt: z.number(),
});
export type RunningOp = z.infer<typeof RunningOpSchema>;

export const WorkerConnectionSchema = z.enum(['connecting', 'connected', 'disconnected']);
export type WorkerConnection = z.infer<typeof WorkerConnectionSchema>;

export const WorkerToPageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('status'),
    connection: WorkerConnectionSchema,
    running: z.array(RunningOpSchema),
    completed: z.number().int().min(0),
  }),
  z.object({ type: z.literal('settings'), settings: SettingsSchema }),
  z.object({ type: z.literal('quarantined'), reason: z.string() }),
  z.object({ type: z.literal('error'), message: z.string() }),
  z.object({ type: z.literal('stopped') }),
]);
export type WorkerToPage = z.infer<typeof WorkerToPageSchema>;
