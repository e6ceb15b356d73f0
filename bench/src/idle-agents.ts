/**
 * Bench 8 — idle agents. 10,000 connected agents that have nothing to do (socket.io-clients,
 * `kind: 'node'`, websocket, 4 helper processes × 2,500) on one orchestrator child process:
 * how long they take to connect, what holding them costs (RSS, V8 heap, CPU of heartbeats
 * alone), whether every heartbeat stays on time (no agent lost, no connection dropped) and how
 * long a settings push takes to reach all of them.
 *
 *   node bench/dist/idle-agents.js [--quick] [--orchestrator-flags="<node flags>"]
 *
 * --quick: 1,000 agents, shorter windows. --orchestrator-flags: node flags for the orchestrator
 * (e.g. a heap cap under trial), so the cap can be checked against 10,000 agents.
 */
import {
  Api,
  sleep,
  spawnOrchestrator,
  stopProcess,
  type ChildHandle,
} from '@expressionist/testkit';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { fixed, heading, int, table, verdict } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { cpuMeter, rssMiB } from './lib/proc.js';
import { helperReceipts, spawnConnectedHelpers } from './lib/processes.js';
import { max, median, percentile } from './lib/stats.js';

const PROCESSES = 4;
const CONNECTION_CONCURRENCY = 1;
/** Handshakes each helper keeps in flight: 4 × 50 at once stays far below the listen backlog. */
const WAVE = 50;
const PUTS = 3;
/** The orchestrator's defaults (HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS), for the legend. */
const HEARTBEAT_MS = 1000;
const HEARTBEAT_TIMEOUT_MS = 2000;

/** Epoch ms with sub-ms resolution; the helpers timestamp receipts on the same clock. */
const now = (): number => performance.timeOrigin + performance.now();

/** Gauges and counters without labels from the orchestrator's `/metrics`, by name. */
async function metrics(url: string, names: readonly string[]): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const found = new Map<string, number>();
  for (const name of names) {
    const match = new RegExp(`^${name} (\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)$`, 'm').exec(text);
    if (!match) throw new Error(`${name} not found in /metrics`);
    found.set(name, Number(match[1]));
  }
  return found;
}

interface Memory {
  heapUsed: number;
  heapTotal: number;
  external: number;
}

async function memory(url: string): Promise<Memory> {
  const m = await metrics(url, [
    'nodejs_heap_size_used_bytes',
    'nodejs_heap_size_total_bytes',
    'nodejs_external_memory_bytes',
  ]);
  const mib = (name: string): number => m.get(name)! / 2 ** 20;
  return {
    heapUsed: mib('nodejs_heap_size_used_bytes'),
    heapTotal: mib('nodejs_heap_size_total_bytes'),
    external: mib('nodejs_external_memory_bytes'),
  };
}

/** Agents by status, from `GET /api/v1/agents`. */
async function agentStatuses(api: Api): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const agent of await api.agents())
    counts.set(agent.status, (counts.get(agent.status) ?? 0) + 1);
  return counts;
}

export async function main(): Promise<void> {
  const { quick, orchestratorFlags } = benchArgs();
  const nodeArgs = orchestratorFlags.flatMap((flags) => flags.split(/\s+/).filter(Boolean));
  const perProcess = quick ? 250 : 2500;
  const total = PROCESSES * perProcess;
  const idleS = quick ? 5 : 20;
  heading(`Bench 8: idle agents (${int(total)} connections)`);
  console.log(describeMachine());
  console.log(
    `${PROCESSES} client processes × ${int(perProcess)} connections (websocket, concurrency ${CONNECTION_CONCURRENCY}, waves of ${WAVE} per process); idle window ${idleS} s${quick ? ' (--quick)' : ''}`,
  );
  if (nodeArgs.length > 0) console.log(`orchestrator: node ${nodeArgs.join(' ')}`);
  // Every connection comes from loopback: lift the per-address socket cap (default 256).
  // The orchestrator holds one descriptor per connection: its `ulimit -n` (inherited) must exceed
  // `total`; we check rather than raise it, a process cannot raise its hard limit.
  const orchestrator = await spawnOrchestrator({
    logLevel: 'warn',
    env: { MAX_SOCKETS_PER_ADDRESS: String(Math.max(20_000, total + 100)) },
    nodeArgs,
  });
  const api = new Api(orchestrator.url);
  const helpers: ChildHandle[] = [];
  const rows: (string | number)[][] = [];
  const pushRows: (string | number)[][] = [];
  let idleRss = NaN;
  let lost = NaN;
  let disconnects = NaN;
  let active = NaN;
  let connectS = NaN;
  let helperCpu = NaN;
  /** Agents that had not received a push 30 s after its PUT (worst PUT). */
  let missing = 0;
  let reasons = '';
  /** Seconds from the start of the idle window to the first dropped connection. */
  let firstDrop = NaN;
  try {
    await sleep(500);
    const base = await memory(orchestrator.url);
    const rssBase = rssMiB(orchestrator.pid);
    rows.push([
      'started, no agents',
      '',
      '',
      fixed(rssBase, 0),
      fixed(base.heapUsed, 0),
      fixed(base.heapTotal, 0),
      fixed(base.external, 0),
      '',
    ]);
    const connectStart = performance.now();
    helpers.push(
      ...(await spawnConnectedHelpers(
        'idle-agents',
        PROCESSES,
        (p) => [
          orchestrator.url,
          String(perProcess),
          `idle${p}`,
          String(CONNECTION_CONCURRENCY),
          String(WAVE),
        ],
        300_000,
      )),
    );
    // Registered on the orchestrator's side too; a coarse poll, listing 10,000 agents is not free.
    for (const deadline = Date.now() + 60_000; ;) {
      if (((await agentStatuses(api)).get('active') ?? 0) === total) break;
      if (Date.now() > deadline) throw new Error(`not all ${total} agents active after 60 s`);
      await sleep(250);
    }
    connectS = (performance.now() - connectStart) / 1000;
    console.log(`connected ${int(total)} agents in ${fixed(connectS, 1)} s (spawn → all active)`);
    await sleep(2000);

    await helperReceipts(helpers, -1); // resets the helpers' longest ping gap
    const idleStart = now();
    const meter = cpuMeter(orchestrator.pid);
    const helperMeter = cpuMeter(helpers.map((h) => h.child.pid!));
    const rss: number[] = [];
    const end = performance.now() + idleS * 1000;
    while (performance.now() < end) {
      rss.push(rssMiB(orchestrator.pid));
      await sleep(250);
    }
    const cpu = meter.stop();
    helperCpu = helperMeter.stop().percent;
    rss.push(rssMiB(orchestrator.pid));
    idleRss = max(rss);
    const idle = await memory(orchestrator.url);
    const idleGap = (await helperReceipts(helpers, -1)).maxPingGapMs;
    rows.push([
      `${int(total)} agents idle`,
      fixed(cpu.wallMs / 1000, 1),
      fixed(cpu.percent, 1),
      fixed(idleRss, 0),
      fixed(idle.heapUsed, 0),
      fixed(idle.heapTotal, 0),
      fixed(idle.external, 0),
      fixed(idleGap, 0),
    ]);
    const statuses = await agentStatuses(api);
    active = statuses.get('active') ?? 0;
    lost = statuses.get('lost') ?? 0;

    for (let p = 1; p <= PUTS; p += 1) {
      const additionMs = 1000 + p;
      await helperReceipts(helpers, -1); // resets the helpers' longest ping gap
      const sent = now();
      await api.settings({ additionMs });
      const putMs = now() - sent;
      let got = await helperReceipts(helpers, additionMs);
      const deadline = Date.now() + 30_000;
      while (got.at.some((t) => t < 0) && Date.now() < deadline) {
        await sleep(250);
        got = await helperReceipts(helpers, additionMs);
      }
      disconnects = got.disconnects;
      reasons = [...got.reasons].map(([reason, n]) => `${int(n)} ${reason}`).join(', ');
      if (Number.isFinite(got.firstDisconnectAt))
        firstDrop = (got.firstDisconnectAt - idleStart) / 1000;
      const delays = got.at.filter((t) => t >= 0).map((t) => t - sent);
      missing = Math.max(missing, total - delays.length);
      // Heartbeats around the push: every connection has pinged at least once more by then.
      await sleep(1500);
      const gap = (await helperReceipts(helpers, -1)).maxPingGapMs;
      pushRows.push([
        `PUT ${p}`,
        int(total - delays.length),
        fixed(putMs, 0),
        fixed(median(delays), 0),
        fixed(percentile(delays, 99), 0),
        fixed(max(delays), 0),
        fixed(gap, 0),
      ]);
    }
    const after = await agentStatuses(api);
    active = Math.min(active, after.get('active') ?? 0);
    lost = Math.max(lost, after.get('lost') ?? 0);
  } finally {
    for (const h of helpers) h.child.send?.({ type: 'close' });
    await Promise.all(helpers.map((h) => stopProcess(h, 'SIGTERM', 5000)));
    await orchestrator.stop();
  }
  console.log(
    table(
      [
        'orchestrator state',
        'window s',
        'CPU % of a core',
        'RSS max MiB',
        'V8 heap used MiB',
        'V8 heap total MiB',
        'external MiB',
        'longest ping gap ms',
      ],
      rows,
    ),
  );
  console.log(`client helpers while idle: ${fixed(helperCpu, 1)} % of a core (4 processes summed)`);
  console.log(
    `heartbeats: ${int(active)} of ${int(total)} active, ${int(lost)} lost, ${int(disconnects)} client disconnects (idle window and pushes)${reasons ? `: ${reasons}; first ${fixed(firstDrop, 1)} s into the idle window` : ''}`,
  );
  console.log(
    table(
      [
        'settings push',
        'agents without it after 30 s',
        'PUT round trip ms',
        'median ms',
        'p99 ms',
        'max ms',
        'longest ping gap ms (push + 1.5 s)',
      ],
      pushRows,
    ),
  );
  console.log(
    `(receipt − PUT sent, per agent, on one machine clock; ping gap: longest time between two heartbeats on any connection, nominal ${HEARTBEAT_MS} ms, dropped past ${HEARTBEAT_MS + HEARTBEAT_TIMEOUT_MS} ms)`,
  );
  const rssMB = idleRss * 1.048576;
  console.log(
    `target ${int(total)} idle agents < 1 GB RSS: ${verdict(rssMB < 1000)} (${fixed(rssMB, 0)} MB); no false lost: ${verdict(lost === 0 && disconnects === 0 && active === total && missing === 0)}`,
  );
}

if (isMain(import.meta.url)) runMain(main);
