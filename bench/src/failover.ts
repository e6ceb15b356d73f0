/**
 * Bench 3 — failover. A real agent-node process holds an expression's running operations; it is
 * then SIGKILLed (socket closed by the kernel) or SIGSTOPped (frozen, socket open: only the
 * Socket.IO heartbeat notices, HEARTBEAT_INTERVAL_MS + HEARTBEAT_TIMEOUT_MS = 1000 + 2000 ms by
 * default). A hand-driven socket agent in this process timestamps when the reassigned operations
 * reach it; the same clock timestamps the signal.
 *
 *   node bench/dist/failover.js [--quick]
 */
import type { Task } from '@expressionist/core';
import { connectSocketAgent, spawnAgent, stopProcess, waitFor } from '@expressionist/testkit';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { startCluster, type Cluster } from './lib/cluster.js';
import { generate } from './lib/expressions.js';
import { fixed, heading, table, verdict } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { max, median, min } from './lib/stats.js';

const OP_MS = 60_000;
const WORKERS = 4;

export interface FailoverTrial {
  /** Signal → the first reassigned task received elsewhere, ms. */
  firstMs: number;
  /** Signal → all of the victim's tasks received elsewhere, ms. */
  allMs: number;
}

/** One trial: a fresh victim process runs 4 operations, gets `signal`, a rescuer receives them. */
export async function failoverTrial(
  cluster: Cluster,
  signal: 'SIGKILL' | 'SIGSTOP',
  trial: number,
): Promise<FailoverTrial> {
  const tag = `${signal.toLowerCase()}-${trial}-${Date.now().toString(36)}`;
  const victim = spawnAgent(cluster.orchestrator.url, {
    concurrency: WORKERS,
    id: `victim-${tag}`,
    logLevel: 'warn',
  });
  try {
    await cluster.api.waitForAgents(1, WORKERS);
    // 8 terms: 4 independent first-level additions, all on the victim's 4 workers.
    const id = await cluster.api.submit(generate('sum', 8, tag));
    const running = await waitFor(
      async () => {
        const agent = (await cluster.api.agents()).find((a) => a.id === victim.id);
        return agent && agent.running.length === WORKERS ? agent.running : null;
      },
      15_000,
      'the victim to run 4 operations',
    );
    const received: { at: number; tasks: Task[] }[] = [];
    const rescuer = await connectSocketAgent(
      cluster.orchestrator.url,
      { agentId: `rescuer-${tag}`, name: 'rescuer', concurrency: WORKERS },
      {
        tasks: (tasks) => received.push({ at: performance.now(), tasks }),
      },
    );
    try {
      const signalledAt = performance.now();
      victim.child.kill(signal);
      await waitFor(
        () => received.reduce((n, r) => n + r.tasks.length, 0) >= WORKERS,
        20_000,
        `the victim's tasks to be reassigned after ${signal}`,
        2,
      );
      const got = received.flatMap((r) => r.tasks.map((t) => t.taskId)).sort();
      if (got.join() !== [...running].sort().join())
        throw new Error(`reassigned ${got.join()} but the victim ran ${running.join()}`);
      if (received.some((r) => r.tasks.some((t) => t.attempt < 2)))
        throw new Error('a reassigned task kept its attempt number');
      await cluster.api.cancel(id);
      return { firstMs: received[0]!.at - signalledAt, allMs: received.at(-1)!.at - signalledAt };
    } finally {
      rescuer.disconnect();
    }
  } finally {
    await stopProcess(victim, 'SIGKILL', 5_000);
  }
}

export async function main(): Promise<void> {
  const { quick } = benchArgs();
  const trials = quick ? 5 : 20;
  heading('Bench 3: failover');
  console.log(describeMachine());
  console.log(
    `${trials} trials per signal; victim = agent-node process × ${WORKERS} workers running 4 operations of ${OP_MS / 1000} s; rescuer = socket agent in the bench process`,
  );
  console.log(
    `heartbeat: orchestrator defaults HEARTBEAT_INTERVAL_MS=1000, HEARTBEAT_TIMEOUT_MS=2000 (not overridden)${quick ? ' (--quick)' : ''}`,
  );
  // No agents of its own: each trial brings its victim.
  const cluster = await startCluster({ agents: 0, workersPerAgent: WORKERS, opMs: OP_MS });
  const results: Record<'SIGKILL' | 'SIGSTOP', FailoverTrial[]> = { SIGKILL: [], SIGSTOP: [] };
  try {
    for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
      for (let i = 0; i < trials; i += 1) {
        results[signal].push(await failoverTrial(cluster, signal, i));
        process.stdout.write('.');
      }
    }
  } finally {
    process.stdout.write('\n');
    await cluster.stop();
  }
  const rows = (['SIGKILL', 'SIGSTOP'] as const).map((signal) => {
    const first = results[signal].map((r) => r.firstMs);
    const all = results[signal].map((r) => r.allMs);
    return [
      signal,
      results[signal].length,
      fixed(min(first), 1),
      fixed(median(first), 1),
      fixed(max(first), 1),
      fixed(median(all), 1),
      fixed(max(all), 1),
    ];
  });
  console.log(
    table(
      ['signal', 'trials', 'min ms', 'median ms', 'max ms', 'all 4: median ms', 'all 4: max ms'],
      rows,
    ),
  );
  const kill = results.SIGKILL.map((r) => r.allMs);
  const stop = results.SIGSTOP.map((r) => r.allMs);
  console.log(
    `target SIGKILL → running elsewhere ≤ 0.5 s (max, all tasks): ${verdict(max(kill) <= 500)}`,
  );
  console.log(
    `target SIGSTOP → running elsewhere ≤ 5 s (max, all tasks): ${verdict(max(stop) <= 5000)}`,
  );
}

if (isMain(import.meta.url)) runMain(main);
