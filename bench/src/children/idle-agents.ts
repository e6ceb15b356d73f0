/**
 * Helper process for the idle-agents bench: `count` agent connections (socket.io-clients,
 * `kind: 'node'`, websocket only, `forceNew`) that run nothing. Each records when it received
 * every `settings` message (epoch ms, so the parent can compare with its own PUT time on the
 * same machine clock) and the helper counts disconnects: an idle agent that heartbeats on time
 * never disconnects. With `compute` they run their tasks through core's TaskRunner (the same path
 * as agent-node) instead of holding nothing (bench 12: busy agents whose heartbeats must hold).
 *
 *   node idle-agents.js <url> <count> <id prefix> <concurrency> [wave size] [compute]
 */
import { TaskRunner } from '@expressionist/core';
import { onParent, toParent } from '../lib/ipc.js';
import { connectSocketAgent, type AgentSocket } from '@expressionist/testkit';

const [url, countArg, prefix = 'idle', concurrencyArg = '1', waveArg = '50', mode = 'idle'] =
  process.argv.slice(2);
const compute = mode === 'compute';
if (!url || !countArg) {
  process.stderr.write('usage: idle-agents.js <url> <count> [prefix] [concurrency] [wave]\n');
  process.exit(2);
}
const count = Number(countArg);
const concurrency = Number(concurrencyArg);
const wave = Number(waveArg);
const sockets: AgentSocket[] = [];
/** Per connection: the additionMs it last received, and when (epoch ms). */
const lastAddition = new Float64Array(count).fill(-1);
const lastAt = new Float64Array(count).fill(-1);
let disconnects = 0;
const reasons: Record<string, number> = {};
let firstDisconnectAt = -1;
/** Per connection: when its last heartbeat ping arrived (epoch ms). */
const lastPing = new Float64Array(count).fill(-1);
let maxPingGapMs = 0;

/** Epoch ms with sub-ms resolution; comparable across processes on one machine. */
const now = (): number => performance.timeOrigin + performance.now();

async function connectAll(): Promise<void> {
  // In waves: thousands of handshakes at once would overflow the listen backlog (a SYN storm).
  for (let start = 0; start < count; start += wave) {
    const batch = Array.from({ length: Math.min(wave, count - start) }, async (_, k) => {
      const i = start + k;
      // The runner needs the socket, which exists only once connectSocketAgent created it.
      const holder: { socket?: AgentSocket } = {};
      const runner = compute
        ? new TaskRunner({ send: (results) => holder.socket?.emit('results', results) })
        : null;
      const socket = await connectSocketAgent(
        url!,
        { agentId: `${prefix}-${i}`, name: `${prefix}-${i}`, concurrency },
        {
          created: (created) => (holder.socket = created),
          ...(runner ? { tasks: (tasks) => runner.accept(tasks) } : {}),
          settings: (settings) => {
            lastAddition[i] = settings.additionMs;
            lastAt[i] = now();
          },
        },
        120_000,
      );
      // The orchestrator pings every HEARTBEAT_INTERVAL_MS; a gap past interval + timeout drops
      // the connection, so the longest gap seen is the margin left.
      socket.io.engine.on('ping', () => {
        const t = now();
        if (lastPing[i]! >= 0) maxPingGapMs = Math.max(maxPingGapMs, t - lastPing[i]!);
        lastPing[i] = t;
      });
      if (runner) socket.on('revoke', (ids) => runner.revoke(ids));
      socket.on('disconnect', (reason) => {
        runner?.stop();
        disconnects += 1;
        reasons[reason] = (reasons[reason] ?? 0) + 1;
        if (firstDisconnectAt < 0) firstDisconnectAt = now();
      });
      sockets[i] = socket;
    });
    await Promise.all(batch);
  }
}

onParent((message) => {
  if (message.type === 'receipts') {
    const at = Array.from(lastAt, (t, i) => (lastAddition[i] === message.additionMs ? t : -1));
    toParent({ type: 'receipts', at, disconnects, reasons, firstDisconnectAt, maxPingGapMs });
    maxPingGapMs = 0;
    return;
  }
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
