/**
 * Bench 4 — capacity. 1,000 concurrent agent connections (socket.io-clients, `kind: 'node'`,
 * 2 processes × 500, each connection running tasks through core's TaskRunner) on one
 * orchestrator child process: its RSS and CPU idle, then under load (expressions kept in flight
 * so there is always work; operations take 0–10 ms).
 *
 *   node bench/dist/capacity.js [--quick] [--orchestrator-flags="<node flags>"]...
 *
 * With `--orchestrator-flags=…` (repeatable; the `=` is needed, the value starts with a dash) it measures the orchestrator as started in
 * production, then once more per flag set (e.g. `--max-semi-space-size=4`), each on a fresh
 * orchestrator and fresh agents: a before/after in one run.
 */
import { Api, sleep, spawnOrchestrator, stopProcess } from '@expressionist/testkit';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { generate } from './lib/expressions.js';
import { fixed, heading, int, table, verdict } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { cpuMeter, rssMiB } from './lib/proc.js';
import { spawnConnectedHelpers, type spawnChild } from './lib/processes.js';
import { max } from './lib/stats.js';
import { CompletionWatcher } from './lib/ui-watch.js';

const PROCESSES = 2;
const PER_PROCESS = 500;
const CONNECTION_CONCURRENCY = 1;
const IN_FLIGHT = 64;
const TERMS = 256;

/** A counter or gauge without labels from the orchestrator's `/metrics`. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  if (!match) throw new Error(`${name} not found in /metrics`);
  return Number(match[1]);
}
const opsCompleted = (url: string): Promise<number> =>
  metric(url, 'expressionist_operations_completed_total');

interface Window {
  seconds: number;
  cpuPercent: number;
  rssMax: number;
  rssEnd: number;
  ops: number;
  /** Ready operations waiting for a slot, sampled at the end of the window. */
  readyQueue: number;
  /** V8 heap in use at the end of the window (MiB): live data plus garbage not yet collected. */
  heapUsed: number;
  /** V8 heap reserved at the end of the window (MiB): what the heap holds of the RSS. */
  heapTotal: number;
  /** Memory outside the V8 heap held by JS objects (Buffers): socket write buffers and the like. */
  external: number;
}

/** Samples the orchestrator's RSS every 250 ms and its CPU over `seconds`. */
async function observe(pid: number, url: string, seconds: number): Promise<Window> {
  const ops0 = await opsCompleted(url);
  const meter = cpuMeter(pid);
  const rss: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    rss.push(rssMiB(pid));
    await sleep(250);
  }
  const cpu = meter.stop();
  rss.push(rssMiB(pid));
  const ops = (await opsCompleted(url)) - ops0;
  const readyQueue = await metric(url, 'expressionist_ready_queue_depth');
  const heapUsed = (await metric(url, 'nodejs_heap_size_used_bytes')) / 2 ** 20;
  const heapTotal = (await metric(url, 'nodejs_heap_size_total_bytes')) / 2 ** 20;
  const external = (await metric(url, 'nodejs_external_memory_bytes')) / 2 ** 20;
  return {
    seconds: cpu.wallMs / 1000,
    cpuPercent: cpu.percent,
    rssMax: max(rss),
    rssEnd: rss.at(-1)!,
    ops,
    readyQueue,
    heapUsed,
    heapTotal,
    external,
  };
}

/** One orchestrator (started with `nodeArgs`), 1,000 agents, idle then under load; prints a table. */
async function measure(windowS: number, nodeArgs: string[]): Promise<number> {
  const total = PROCESSES * PER_PROCESS;
  // Every connection comes from this one machine: lift the per-address socket cap
  // (MAX_SOCKETS_PER_ADDRESS, default 256) above what the bench opens, with room for dashboards.
  const orchestrator = await spawnOrchestrator({
    logLevel: 'warn',
    env: { MAX_SOCKETS_PER_ADDRESS: String(total + 100) },
    nodeArgs,
  });
  const api = new Api(orchestrator.url);
  const clients: ReturnType<typeof spawnChild>[] = [];
  const rows: (string | number)[][] = [];
  let loadRss = NaN;
  try {
    await sleep(500);
    const rssBase = rssMiB(orchestrator.pid);
    rows.push([
      'started, no agents',
      '',
      '',
      fixed(rssBase, 0),
      fixed(rssBase, 0),
      '',
      '',
      '',
      '',
      '',
    ]);
    const connectStart = performance.now();
    clients.push(
      ...(await spawnConnectedHelpers(
        'socket-agents',
        PROCESSES,
        (p) => [orchestrator.url, String(PER_PROCESS), `cap${p}`, String(CONNECTION_CONCURRENCY)],
        120_000,
      )),
    );
    await api.waitForAgents(total, total * CONNECTION_CONCURRENCY, 60_000);
    const connectS = (performance.now() - connectStart) / 1000;
    await sleep(2000);
    const idle = await observe(orchestrator.pid, orchestrator.url, windowS);
    rows.push([
      `${int(total)} agents idle`,
      fixed(idle.seconds, 1),
      fixed(idle.cpuPercent, 1),
      fixed(idle.rssMax, 0),
      fixed(idle.rssEnd, 0),
      fixed(idle.heapUsed, 0),
      fixed(idle.heapTotal, 0),
      fixed(idle.external, 0),
      '',
      '',
    ]);

    await api.settings({ additionMs: 0, subtractionMs: 3, multiplicationMs: 7, divisionMs: 10 });
    const watcher = new CompletionWatcher(orchestrator.url);
    await watcher.connected();
    let running = true;
    let seq = 0;
    const keepBusy = Array.from({ length: IN_FLIGHT }, async () => {
      while (running) {
        const id = await api.submit(generate('mixed', TERMS, `cap-${seq++}-${Date.now()}`));
        const view = await watcher.one(id, 300_000);
        if (view.status !== 'done') throw new Error(`expression ${id} ended ${view.status}`);
      }
    });
    await sleep(3000); // ramp up
    const load = await observe(orchestrator.pid, orchestrator.url, windowS);
    running = false;
    await Promise.all(keepBusy);
    watcher.close();
    loadRss = load.rssMax;
    rows.push([
      `${int(total)} agents, under load`,
      fixed(load.seconds, 1),
      fixed(load.cpuPercent, 1),
      fixed(load.rssMax, 0),
      fixed(load.rssEnd, 0),
      fixed(load.heapUsed, 0),
      fixed(load.heapTotal, 0),
      fixed(load.external, 0),
      int(load.ops / load.seconds),
      int(load.readyQueue),
    ]);
    console.log(`connected ${int(total)} agents in ${fixed(connectS, 1)} s`);
  } finally {
    for (const c of clients) c.child.send?.({ type: 'close' });
    await Promise.all(clients.map((c) => stopProcess(c, 'SIGTERM', 5000)));
    await orchestrator.stop();
  }
  console.log(
    table(
      [
        'orchestrator state',
        'window s',
        'CPU % of a core',
        'RSS max MiB',
        'RSS end MiB',
        'V8 heap used MiB',
        'V8 heap total MiB',
        'external MiB',
        'ops/s',
        'ready queue at end',
      ],
      rows,
    ),
  );
  return loadRss;
}

export async function main(): Promise<void> {
  const { quick, orchestratorFlags } = benchArgs();
  const windowS = quick ? 3 : 10;
  heading('Bench 4: capacity (1,000 agent connections)');
  console.log(describeMachine());
  console.log(
    `${PROCESSES} client processes × ${PER_PROCESS} connections (concurrency ${CONNECTION_CONCURRENCY} each); windows of ${windowS} s${quick ? ' (--quick)' : ''}`,
  );
  const variants = [[], ...orchestratorFlags.map((flags) => flags.split(/\s+/).filter(Boolean))];
  let loadRss = NaN;
  for (const nodeArgs of variants) {
    if (variants.length > 1)
      console.log(
        `\norchestrator: node ${nodeArgs.length > 0 ? nodeArgs.join(' ') : '(no flags, as in production)'}`,
      );
    const rss = await measure(windowS, nodeArgs);
    if (nodeArgs.length === 0) loadRss = rss;
  }
  console.log(
    `load: ${IN_FLIGHT} mixed expressions of ${TERMS} terms kept in flight; + 0 ms, - 3 ms, * 7 ms, / 10 ms`,
  );
  console.log(
    `target RSS < 300 MB under load (as started in production): ${verdict(loadRss * 1.048576 < 300)} (${fixed(loadRss * 1.048576, 0)} MB)`,
  );
}

if (isMain(import.meta.url)) runMain(main);
