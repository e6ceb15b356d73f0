/**
 * Helper process: `count` agent connections (socket.io-clients, `kind: 'node'`, one connection
 * each) in one process. Each runs tasks through core's TaskRunner — the same execution path as
 * agent-node — or, for the settings bench, timestamps every `settings` message and can do the
 * `PUT /api/v1/settings` itself so both ends are measured on one clock.
 *
 *   node socket-agents.js <url> <count> <id prefix> <concurrency> [settings-puts]
 */
import { TaskRunner } from '@expressionist/core';
import { onParent, toParent } from '../lib/ipc.js';
import { connectSocketAgent, type AgentSocket } from '@expressionist/testkit';

const [url, countArg, prefix = 'sock', concurrencyArg = '1', putsArg] = process.argv.slice(2);
if (!url || !countArg) {
  process.stderr.write(
    'usage: socket-agents.js <url> <count> [prefix] [concurrency] [settings-puts]\n',
  );
  process.exit(2);
}
const count = Number(countArg);
const concurrency = Number(concurrencyArg);
const puts = putsArg === undefined ? 0 : Number(putsArg);
const sockets: AgentSocket[] = [];
/** Per connection: the additionMs value it last received and when. */
const lastAddition = new Float64Array(count).fill(-1);
const lastAt = new Float64Array(count);

async function connectAll(): Promise<void> {
  // In waves, so a thousand handshakes do not all land in the same millisecond.
  const WAVE = 50;
  for (let start = 0; start < count; start += WAVE) {
    const wave = Array.from({ length: Math.min(WAVE, count - start) }, async (_, k) => {
      const i = start + k;
      // The runner needs the socket, which exists only once connectSocketAgent created it.
      const holder: { socket?: AgentSocket } = {};
      const runner = new TaskRunner({ send: (results) => holder.socket?.emit('results', results) });
      const socket = await connectSocketAgent(
        url!,
        { agentId: `${prefix}-${i}`, name: `${prefix}-${i}`, concurrency },
        {
          created: (created) => (holder.socket = created),
          tasks: (tasks) => runner.accept(tasks),
          settings: (settings) => {
            lastAddition[i] = settings.additionMs;
            lastAt[i] = performance.now();
          },
        },
        60_000,
      );
      socket.on('revoke', (ids) => runner.revoke(ids));
      socket.on('disconnect', () => runner.stop());
      sockets[i] = socket;
    });
    await Promise.all(wave);
  }
}

/** Times `puts` settings changes: PUT sent → the last connection holding the new value. */
async function measureSettings(): Promise<void> {
  const samples: number[] = [];
  const putMs: number[] = [];
  for (let p = 1; p <= puts; p += 1) {
    const value = 1000 + p;
    const sent = performance.now();
    const res = await fetch(`${url}/api/v1/settings`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ additionMs: value }),
    });
    putMs.push(performance.now() - sent);
    if (res.status !== 200) throw new Error(`PUT /api/v1/settings → ${res.status}`);
    const deadline = performance.now() + 10_000;
    while (!lastAddition.every((v) => v === value)) {
      if (performance.now() > deadline)
        throw new Error(`not every connection got additionMs=${value} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    samples.push(Math.max(...lastAt) - sent);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  toParent({ type: 'samples', samples, putMs });
}

onParent((message) => {
  if (message.type !== 'close') return;
  for (const socket of sockets) socket?.disconnect();
  setTimeout(() => process.exit(0), 100);
});

try {
  await connectAll();
  toParent({ type: 'connected', count: sockets.length });
  if (puts > 0) await measureSettings();
} catch (err) {
  toParent({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
