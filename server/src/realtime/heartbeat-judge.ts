/**
 * The heartbeat judge: closes a connection whose pong is late by HEARTBEAT_TIMEOUT_MS of the
 * orchestrator's own running time, so a stall of the orchestrator is never charged to an agent.
 */
import type { RunningClock } from '../scheduler/stall-monitor.js';
import type { IoServer } from './io.js';

/**
 * The part of an engine.io socket (one client connection) the judge reads. `onClose` is what
 * engine.io's own ping timeout calls (engine.io/build/socket.js `resetPingTimeout`): the judge
 * ends a connection exactly as engine.io would, with the same `ping timeout` reason.
 */
export interface JudgedConnection {
  readonly readyState: string;
  on(event: 'packetCreate' | 'packet', listener: (packet: { type: string }) => void): void;
  once(event: 'close', listener: () => void): void;
  onClose(reason: string): void;
}

/**
 * Judges every connection's heartbeat on top of engine.io's ping/pong. engine.io itself sends a
 * ping `pingInterval` after the last pong and closes the connection when no pong comes within
 * `pingTimeout`, by a plain timer: after a stall of the orchestrator that timer fires before the
 * pongs waiting in the sockets are read, and every agent would be dropped at once. So engine.io's
 * `pingTimeout` is set far longer (socket-server.ts, it also tells clients how long to wait for the
 * orchestrator), and this judge gives a pong `timeoutMs` of running time: the stalls since the
 * ping are added to its deadline, and a verdict waits until the loop caught up (see
 * `RunningClock`). Like engine.io, any other packet while a pong is awaited extends the wait once.
 */
export function judgeHeartbeats(io: IoServer, timeoutMs: number, clock: RunningClock): void {
  io.engine.on('connection', (raw: JudgedConnection) => judgeConnection(raw, timeoutMs, clock));
}

/** Judges one connection (see `judgeHeartbeats`). */
export function judgeConnection(
  raw: JudgedConnection,
  timeoutMs: number,
  clock: RunningClock,
): void {
  /** When the unanswered ping left (null: none awaited) and how long it may go unanswered. */
  let pingAt: number | null = null;
  let allowedMs = timeoutMs;
  let extended = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number): void => {
    clearTimeout(timer);
    timer = setTimeout(check, ms);
  };
  const left = (at: number, now: number): number =>
    at + allowedMs + clock.stalledSince(at, now) - now;
  const check = (): void => {
    timer = undefined;
    const at = pingAt;
    if (at === null) return;
    const remaining = left(at, Date.now());
    if (remaining > 0) {
      arm(remaining);
      return;
    }
    clock.afterCatchUp(() => {
      // A pong (or a new ping) read meanwhile, or the connection already gone: no verdict.
      if (pingAt !== at || raw.readyState === 'closed') return;
      const still = left(at, Date.now());
      if (still > 0) arm(still);
      else raw.onClose('ping timeout');
    });
  };
  raw.on('packetCreate', (packet) => {
    if (packet.type !== 'ping') return;
    pingAt = Date.now();
    allowedMs = timeoutMs;
    extended = false;
    arm(timeoutMs);
  });
  raw.on('packet', (packet) => {
    if (pingAt === null) return;
    if (packet.type === 'pong') {
      pingAt = null;
      clearTimeout(timer);
      timer = undefined;
    } else if (!extended) {
      extended = true;
      allowedMs = Date.now() - pingAt + timeoutMs;
    }
  });
  raw.once('close', () => {
    pingAt = null;
    clearTimeout(timer);
  });
}
