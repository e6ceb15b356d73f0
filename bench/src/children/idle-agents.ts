/**
 * Helper process for the idle-agents bench: `count` agent connections (socket.io-clients,
 * `kind: 'node'`, websocket only, `forceNew`) that run nothing. Each records when it received
 * every `settings` message (epoch ms, so the parent can compare with its own PUT time on the
 * same machine clock) and the helper counts disconnects: an idle agent that heartbeats on time
 * never disconnects. With `compute` they run their tasks through core's TaskRunner (the same path
 * as agent-node) instead of holding nothing (bench 12: busy agents whose heartbeats must hold).
 *
 * Like agent-node, a handshake refused with AGENT_ADMISSION_BUSY is retried after a full-jitter
 * delay within the window the orchestrator gives (core's `Reconnector`). With `reconnect` a lost
 * connection is retried the same way, forever (bench 9's storm: the orchestrator restarted under
 * them); without it a lost connection stays lost, and is counted.
 *
 *   node idle-agents.js <url> <count> <id prefix> <concurrency> [wave size] [compute[,reconnect]]
 */
import { io } from 'socket.io-client';
import { z } from 'zod';
import { AGENT_PROTOCOL, Reconnector, TaskRunner, type Task } from '@expressionist/core';
import type { AgentSocket } from '@expressionist/testkit';
import { onParent, toParent } from '../lib/ipc.js';

const [url, countArg, prefix = 'idle', concurrencyArg = '1', waveArg = '50', modeArg = 'idle'] =
  process.argv.slice(2);
const modes = new Set(modeArg.split(','));
const compute = modes.has('compute');
const reconnect = modes.has('reconnect');
if (!url || !countArg) {
  process.stderr.write(
    'usage: idle-agents.js <url> <count> [prefix] [concurrency] [wave] [compute[,reconnect]]\n',
  );
  process.exit(2);
}
const count = Number(countArg);
const concurrency = Number(concurrencyArg);
const wave = Number(waveArg);
/** agent-node's reconnection backoff: full jitter from a 0.5 s window, doubling, up to 10 s. */
const BACKOFF = { baseMs: 500, capMs: 10_000 };
/** Probe operands (bench 9's dispatch latency): integers from 900,000,000 up, nothing else is. */
const PROBE = /^9\d{8}$/;

/** What the orchestrator attaches to a refused handshake (`connect_error`'s `data`). */
const RefusalSchema = z.object({
  code: z.string(),
  retryAfterMs: z.number().int().min(0).optional(),
});

const sockets: AgentSocket[] = [];
/** Per connection: the additionMs it last received, and when (epoch ms). */
const lastAddition = new Float64Array(count).fill(-1);
const lastAt = new Float64Array(count).fill(-1);
let disconnects = 0;
const reasons: Record<string, number> = {};
let firstDisconnectAt = -1;
/** Per connection: when its last heartbeat ping arrived (epoch ms); -1 while disconnected. */
const lastPing = new Float64Array(count).fill(-1);
let maxPingGapMs = 0;
/** Handshakes refused, by code (AGENT_ADMISSION_BUSY: the admission bucket was empty). */
const refusals: Record<string, number> = {};
/** Connection attempts that failed without a refusal (the orchestrator down: ECONNREFUSED, …). */
let unreachable = 0;
/** Attempts made after a failed or lost one (each waits a full-jitter delay first). */
let retries = 0;
let connected = 0;
/** When the latest (re)connection registered (epoch ms). */
let lastConnectAt = -1;
let tasksReceived = 0;
/** Probe operand → when its task arrived (epoch ms; the first attempt only). */
const probes: Record<string, number> = {};

/** Epoch ms with sub-ms resolution; comparable across processes on one machine. */
const now = (): number => performance.timeOrigin + performance.now();

/** Records when probe tasks (an operand PROBE) arrived. */
function notice(tasks: readonly Task[], at: number): void {
  tasksReceived += tasks.length;
  for (const task of tasks) {
    const probe = PROBE.test(task.a) ? task.a : PROBE.test(task.b) ? task.b : null;
    if (probe !== null && probes[probe] === undefined) probes[probe] = at;
  }
}

/** Opens agent `i` and resolves once it is registered (the orchestrator's first `settings`). */
function open(i: number): Promise<void> {
  const socket: AgentSocket = io(`${url}/agents`, {
    auth: {
      agentId: `${prefix}-${i}`,
      name: `${prefix}-${i}`,
      concurrency,
      kind: 'node',
      protocol: AGENT_PROTOCOL,
    },
    transports: ['websocket'],
    forceNew: true,
    // As agent-node: Socket.IO's own backoff is off, core's `Reconnector` spreads the retries.
    reconnection: false,
    autoConnect: false,
  });
  sockets[i] = socket;
  const runner = compute
    ? new TaskRunner({
        send: (results) => {
          if (socket.connected) socket.emit('results', results);
        },
        concurrency,
      })
    : null;
  const retry = new Reconnector(BACKOFF, () => {
    retries += 1;
    socket.connect();
  });
  let registered = false;
  let up = false;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`agent ${prefix}-${i} not registered after 300 s`)),
      300_000,
    );
    socket.on('settings', (settings) => {
      lastAddition[i] = settings.additionMs;
      lastAt[i] = now();
      if (up) return;
      up = true;
      connected += 1;
      lastConnectAt = now();
      retry.succeeded();
      if (!registered) {
        registered = true;
        clearTimeout(timer);
        resolve();
      }
    });
    socket.on('tasks', (tasks) => {
      notice(tasks, now());
      runner?.accept(tasks);
    });
    if (runner) socket.on('revoke', (ids) => runner.revoke(ids));
    // The orchestrator pings every HEARTBEAT_INTERVAL_MS; a gap past interval + timeout drops
    // the connection, so the longest gap seen is the margin left. (The Manager re-emits the
    // engine's pings, whichever engine a reconnection opened.)
    socket.io.on('ping', () => {
      const t = now();
      if (lastPing[i]! >= 0) maxPingGapMs = Math.max(maxPingGapMs, t - lastPing[i]!);
      lastPing[i] = t;
    });
    socket.on('disconnect', (reason) => {
      runner?.stop();
      lastPing[i] = -1;
      if (up) connected -= 1;
      up = false;
      disconnects += 1;
      reasons[reason] = (reasons[reason] ?? 0) + 1;
      if (firstDisconnectAt < 0) firstDisconnectAt = now();
      if (reconnect && reason !== 'io client disconnect') retry.schedule();
    });
    socket.on('connect_error', (err) => {
      const refusal = RefusalSchema.safeParse((err as Error & { data?: unknown }).data);
      if (refusal.success) refusals[refusal.data.code] = (refusals[refusal.data.code] ?? 0) + 1;
      else unreachable += 1;
      // Admissions busy is always worth a retry; anything else only once registered, in
      // `reconnect` mode (the orchestrator restarting), else the first connection fails.
      const busy = refusal.success && refusal.data.code === 'AGENT_ADMISSION_BUSY';
      if (busy || (reconnect && registered))
        retry.schedule(refusal.success ? (refusal.data.retryAfterMs ?? 0) : 0);
      else if (!registered) {
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.connect();
  });
}

async function connectAll(): Promise<void> {
  // In waves: thousands of handshakes at once would overflow the listen backlog (a SYN storm).
  for (let start = 0; start < count; start += wave)
    await Promise.all(
      Array.from({ length: Math.min(wave, count - start) }, (_, k) => open(start + k)),
    );
}

onParent((message) => {
  if (message.type === 'receipts') {
    const at = Array.from(lastAt, (t, i) => (lastAddition[i] === message.additionMs ? t : -1));
    toParent({ type: 'receipts', at, disconnects, reasons, firstDisconnectAt, maxPingGapMs });
    maxPingGapMs = 0;
    return;
  }
  if (message.type === 'stats') {
    toParent({
      type: 'stats',
      connected,
      lastConnectAt,
      disconnects,
      reasons,
      refusals,
      unreachable,
      retries,
      tasks: tasksReceived,
      probes,
      maxPingGapMs,
    });
    return;
  }
  if (message.type !== 'close') return;
  for (const socket of sockets) socket?.disconnect();
  setTimeout(() => process.exit(0), 100);
});

try {
  await connectAll();
  toParent({ type: 'connected', count: sockets.length });
} catch (err) {
  toParent({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
