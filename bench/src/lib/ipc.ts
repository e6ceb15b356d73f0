/**
 * Messages between the bench scripts and their helper processes (over Node's IPC channel),
 * validated on receipt like every other process boundary.
 */
import type { ChildProcess } from 'node:child_process';
import { z } from 'zod';

export const ChildMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('listening'), port: z.number().int() }),
  z.object({ type: z.literal('connected'), count: z.number().int() }),
  z.object({ type: z.literal('progress'), count: z.number().int(), lastAt: z.number() }),
  z.object({
    type: z.literal('done'),
    startedAt: z.number(),
    finishedAt: z.number(),
    count: z.number().int(),
  }),
  z.object({
    type: z.literal('samples'),
    samples: z.array(z.number()),
    putMs: z.array(z.number()),
  }),
  z.object({
    type: z.literal('receipts'),
    /** Per connection: when (epoch ms) it received the settings asked about; -1 if it did not. */
    at: z.array(z.number()),
    /** Connections that have disconnected since they connected. */
    disconnects: z.number().int(),
    /** Disconnects by reason (`ping timeout`, `transport close`, `io server disconnect`, …). */
    reasons: z.record(z.string(), z.number().int()),
    /** When (epoch ms) the first connection dropped; -1 if none did. */
    firstDisconnectAt: z.number(),
    /** Longest gap (ms) between two heartbeat pings on any connection since the last request. */
    maxPingGapMs: z.number(),
  }),
  z.object({
    type: z.literal('stats'),
    /** Connections registered now. */
    connected: z.number().int(),
    /** When (epoch ms) the latest (re)connection registered; -1 if none did. */
    lastConnectAt: z.number(),
    disconnects: z.number().int(),
    reasons: z.record(z.string(), z.number().int()),
    /** Handshakes refused, by error code (AGENT_ADMISSION_BUSY, …). */
    refusals: z.record(z.string(), z.number().int()),
    /** Connection attempts that failed without a refusal (nobody listening, …). */
    unreachable: z.number().int(),
    /** Attempts made after a failed or lost one. */
    retries: z.number().int(),
    /** Tasks received. */
    tasks: z.number().int(),
    /** Probe operand → when (epoch ms) its task arrived. */
    probes: z.record(z.string(), z.number()),
    /** Longest gap (ms) between two pings since the last `receipts` request (not reset here). */
    maxPingGapMs: z.number(),
  }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type ChildMessage = z.infer<typeof ChildMessageSchema>;

export const ParentMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start'), total: z.number().int() }),
  z.object({ type: z.literal('close') }),
  /** Asks for every connection's receipt time of the settings with this `additionMs`. */
  z.object({ type: z.literal('receipts'), additionMs: z.number().int() }),
  /** Asks for the connection helper's counters (connections, refusals, retries, probes). */
  z.object({ type: z.literal('stats') }),
]);
export type ParentMessage = z.infer<typeof ParentMessageSchema>;

/** Sends to the parent (helper side). */
export function toParent(message: ChildMessage): void {
  process.send?.(message);
}

/** Listens to the parent (helper side). */
export function onParent(handler: (message: ParentMessage) => void): void {
  process.on('message', (raw: unknown) => {
    const parsed = ParentMessageSchema.safeParse(raw);
    if (parsed.success) handler(parsed.data);
  });
}

/** Listens to a helper (parent side); a helper reporting an error is logged. */
export function onChild(child: ChildProcess, handler: (message: ChildMessage) => void): void {
  child.on('message', (raw: unknown) => {
    const parsed = ChildMessageSchema.safeParse(raw);
    if (!parsed.success) return;
    if (parsed.data.type === 'error')
      process.stderr.write(`helper ${child.pid}: ${parsed.data.message}\n`);
    handler(parsed.data);
  });
}

/** Resolves with the first message from `child` that `pick` accepts; rejects if it exits first. */
export function nextMessage<T>(
  child: ChildProcess,
  pick: (message: ChildMessage) => T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
    const onMessage = (raw: unknown): void => {
      const parsed = ChildMessageSchema.safeParse(raw);
      if (!parsed.success) return;
      const value = pick(parsed.data);
      if (value !== undefined) finish(undefined, value);
    };
    const onExit = (code: number | null): void =>
      finish(new Error(`helper exited (${code}) before ${what}`));
    function finish(err: Error | undefined, value?: T): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
