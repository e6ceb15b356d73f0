/**
 * Bench 5 — settings propagation. 100 agent connections (socket.io-clients in one helper process)
 * on an orchestrator child process; the helper sends `PUT /api/v1/settings` itself and
 * timestamps every connection's `settings` message on the same clock: PUT sent → the last
 * connection holding the new values. 20 PUTs.
 *
 *   node bench/dist/settings.js [--quick]
 */
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { fixed, heading, table, verdict } from './lib/format.js';
import { nextMessage } from './lib/ipc.js';
import { describeMachine } from './lib/machine.js';
import { spawnOrchestrator, stopProcess } from '@expressionist/testkit';
import { childScript, spawnChild } from './lib/processes.js';
import { max, median, min } from './lib/stats.js';

const AGENTS = 100;

export async function main(): Promise<void> {
  const { quick } = benchArgs();
  const puts = quick ? 5 : 20;
  heading('Bench 5: settings propagation');
  console.log(describeMachine());
  console.log(
    `${AGENTS} agent connections in one helper process; ${puts} PUTs of additionMs${quick ? ' (--quick)' : ''}`,
  );
  const orchestrator = await spawnOrchestrator({ logLevel: 'warn' });
  const helper = spawnChild(childScript('socket-agents'), [
    orchestrator.url,
    String(AGENTS),
    'set',
    '1',
    String(puts),
  ]);
  try {
    const result = await nextMessage(
      helper.child,
      (m) => (m.type === 'samples' ? m : undefined),
      180_000,
      'settings samples',
    );
    const rows = [
      [
        'PUT sent → last of 100 agents has it',
        fixed(min(result.samples), 1),
        fixed(median(result.samples), 1),
        fixed(max(result.samples), 1),
      ],
      [
        'PUT round trip (response received)',
        fixed(min(result.putMs), 1),
        fixed(median(result.putMs), 1),
        fixed(max(result.putMs), 1),
      ],
    ];
    console.log(table(['measure', 'min ms', 'median ms', 'max ms'], rows));
    console.log(`target ≤ 100 ms (max over ${puts} PUTs): ${verdict(max(result.samples) <= 100)}`);
  } finally {
    helper.child.send?.({ type: 'close' });
    await stopProcess(helper, 'SIGTERM', 5000);
    await orchestrator.stop();
  }
}

if (isMain(import.meta.url)) runMain(main);
