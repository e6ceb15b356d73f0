/**
 * Bench 9 — many agents, no false alarms (issues 13 and 23). 10,000 agent connections
 * (socket.io-clients, `kind: 'node'`, websocket, 4 helper processes × 2,500, concurrency 1) on one
 * orchestrator child process, in three parts:
 *
 * - `idle`: `--runs` runs, each on a fresh orchestrator with fresh helpers: connect all, an idle
 *   window, 3 settings pushes and 3 full agents listings (paged); per run the connect time, RSS,
 *   agents lost (API and `expressionist_agents_lost_total`), client disconnects and their reasons,
 *   the longest heartbeat gap any client saw, the orchestrator's event-loop stalls, the PUT round
 *   trip, the push p99 and the listing time. Run 1 also prints the memory and push detail.
 * - `load`: the agents run their tasks (core's TaskRunner), every operation 100 ms, expressions
 *   kept in flight for a window: ops/s, dispatch latency of probe operations, agents lost,
 *   operations requeued, stalls.
 * - `storm`: the orchestrator (embedded store in a kept data dir) SIGKILLed under the agents with
 *   expressions in progress and started again on the same port and store: time until all agents
 *   are back and until it works again, the expressions' exact values, the admission refusals and
 *   retries the agents saw, the restarted orchestrator's peak RSS and CPU.
 *
 *   node bench/dist/idle-agents.js [--quick] [--part=all|idle|load|storm] [--runs=N]
 *                                  [--agents=N] [--orchestrator-flags="<node flags>"]
 *
 * --quick: 1,000 agents, 2 idle runs, shorter windows. --agents: another size (a multiple of 4).
 * --orchestrator-flags: node flags for the orchestrator (e.g. a heap cap under trial).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { execute } from '@expressionist/core';
import {
  Api,
  freePort,
  kill,
  metricValue,
  sleep,
  spawnOrchestrator,
  stopProcess,
  tempDir,
  type ChildHandle,
  type OrchestratorProcess,
} from '@expressionist/testkit';
import { isMain, runMain } from './lib/cli.js';
import { flatSum } from './lib/expressions.js';
import { fixed, heading, int, table, verdict, type Cell } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { cpuMeter, cpuTimeMs, rssMiB } from './lib/proc.js';
import {
  helperReceipts,
  helperStats,
  spawnConnectedHelpers,
  type HelperStats,
} from './lib/processes.js';
import { max, median, percentile } from './lib/stats.js';
import { CompletionWatcher } from './lib/ui-watch.js';

const PROCESSES = 4;
const CONNECTION_CONCURRENCY = 1;
/** Handshakes each helper keeps in flight: 4 × 50 at once stays far below the listen backlog. */
const WAVE = 50;
const PUTS = 3;
const LISTINGS = 3;
/** The orchestrator's defaults (HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS), for the legend. */
const HEARTBEAT_MS = 1000;
const HEARTBEAT_TIMEOUT_MS = 2000;
/** Every operation's modelled time in the load and storm parts. */
const OP_MS = 100;
const OP_TIMES = {
  TIME_ADDITION_MS: String(OP_MS),
  TIME_SUBTRACTION_MS: String(OP_MS),
  TIME_MULTIPLICATIONS_MS: String(OP_MS),
  TIME_DIVISIONS_MS: String(OP_MS),
};
/** Load: expressions kept in flight, each a flat sum of this many terms (255 operations). */
const IN_FLIGHT = 64;
const TERMS = 256;
/** Probe operands start here (the helpers recognise 9-digit integers from 900,000,000). */
const PROBE_BASE = 900_000_000;
const PROBE_EVERY_MS = 100;
/** Storm: expressions in progress when the orchestrator is killed. */
const STORM_EXPRESSIONS = 32;
const STORM_TERMS = 1024;

/** Epoch ms with sub-ms resolution; the helpers timestamp receipts on the same clock. */
const now = (): number => performance.timeOrigin + performance.now();

type Part = 'idle' | 'load' | 'storm';

interface Options {
  quick: boolean;
  parts: Part[];
  runs: number;
  total: number;
  nodeArgs: string[];
}

function options(argv: string[] = process.argv.slice(2)): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      part: { type: 'string', default: 'all' },
      runs: { type: 'string' },
      agents: { type: 'string' },
      'orchestrator-flags': { type: 'string', multiple: true, default: [] },
    },
  });
  const quick = values.quick === true;
  const part = values.part ?? 'all';
  if (!['all', 'idle', 'load', 'storm'].includes(part))
    throw new Error(`--part must be all, idle, load or storm (got ${part})`);
  const total = values.agents === undefined ? (quick ? 1000 : 10_000) : Number(values.agents);
  if (!Number.isInteger(total) || total <= 0 || total % PROCESSES !== 0)
    throw new Error(`--agents must be a positive multiple of ${PROCESSES}`);
  const runs = values.runs === undefined ? (quick ? 2 : 10) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  return {
    quick,
    parts: part === 'all' ? ['idle', 'load', 'storm'] : [part as Part],
    runs,
    total,
    nodeArgs: (values['orchestrator-flags'] ?? []).flatMap((f) => f.split(/\s+/).filter(Boolean)),
  };
}

/** A counter or gauge at `url`/metrics, summed over its labels (0 when not listed yet). */
const metric = (url: string, name: string): Promise<number> => metricValue(url, name);

interface Memory {
  heapUsed: number;
  heapTotal: number;
  external: number;
}

async function memory(url: string): Promise<Memory> {
  const mib = async (name: string): Promise<number> => (await metric(url, name)) / 2 ** 20;
  return {
    heapUsed: await mib('nodejs_heap_size_used_bytes'),
    heapTotal: await mib('nodejs_heap_size_total_bytes'),
    external: await mib('nodejs_external_memory_bytes'),
  };
}

/** What the orchestrator counted about its agents and its own event loop. */
interface Health {
  lostTotal: number;
  stalls: number;
  longestStallS: number;
  requeued: number;
}

async function health(url: string): Promise<Health> {
  return {
    lostTotal: await metric(url, 'expressionist_agents_lost_total'),
    stalls: await metric(url, 'expressionist_event_loop_stalls_total'),
    longestStallS: await metric(url, 'expressionist_event_loop_longest_stall_seconds'),
    requeued: await metric(url, 'expressionist_operations_requeued_total'),
  };
}

/** Agents by status, from the whole paged listing (`GET /api/v1/agents`), and how long it took. */
async function listing(api: Api): Promise<{ ms: number; statuses: Map<string, number> }> {
  const start = performance.now();
  const agents = await api.agents();
  const ms = performance.now() - start;
  const statuses = new Map<string, number>();
  for (const agent of agents) statuses.set(agent.status, (statuses.get(agent.status) ?? 0) + 1);
  return { ms, statuses };
}

/** Waits until the orchestrator counts `total` connected agents (a cheap gauge, not a listing). */
async function waitConnected(url: string, total: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const connected = await metric(url, 'expressionist_agents_connected');
    if (connected === total) return;
    if (Date.now() > deadline)
      throw new Error(`${connected} of ${total} agents connected after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Samples a process's RSS every 250 ms and its CPU per second, until `stop()`. */
function sampler(pid: number): { stop(): { rssMax: number; cpuPeak: number } } {
  let rssMax = rssMiB(pid);
  let cpuPeak = 0;
  let lastCpu = cpuTimeMs(pid);
  let lastAt = performance.now();
  const rssTimer = setInterval(() => {
    try {
      rssMax = Math.max(rssMax, rssMiB(pid));
    } catch {
      // the process is gone; the storm part kills it on purpose
    }
  }, 250);
  const cpuTimer = setInterval(() => {
    try {
      const cpu = cpuTimeMs(pid);
      const at = performance.now();
      cpuPeak = Math.max(cpuPeak, (100 * (cpu - lastCpu)) / (at - lastAt));
      lastCpu = cpu;
      lastAt = at;
    } catch {
      // the process is gone
    }
  }, 1000);
  return {
    stop() {
      clearInterval(rssTimer);
      clearInterval(cpuTimer);
      return { rssMax, cpuPeak };
    },
  };
}

const reasonsText = (reasons: Map<string, number>): string =>
  [...reasons].map(([reason, n]) => `${int(n)} ${reason}`).join(', ');

/** Starts the agent helpers: `total` connections in PROCESSES processes. */
function startAgents(
  url: string,
  total: number,
  prefix: string,
  mode: string,
): Promise<ChildHandle[]> {
  const perProcess = total / PROCESSES;
  return spawnConnectedHelpers(
    'idle-agents',
    PROCESSES,
    (p) => [
      url,
      String(perProcess),
      `${prefix}${p}`,
      String(CONNECTION_CONCURRENCY),
      String(WAVE),
      mode,
    ],
    600_000,
  );
}

async function stopAgents(helpers: readonly ChildHandle[]): Promise<void> {
  for (const h of helpers) h.child.send?.({ type: 'close' });
  await Promise.all(helpers.map((h) => stopProcess(h, 'SIGTERM', 5000)));
}

// ---------------------------------------------------------------------------------- idle runs

interface IdleRun {
  connectS: number;
  rssMax: number;
  idleCpu: number;
  apiLost: number;
  active: number;
  lostTotal: number;
  disconnects: number;
  reasons: string;
  maxGapMs: number;
  stalls: number;
  longestStallS: number;
  /** Stalls counted by the end of each phase: connect, idle window, pushes, listings. */
  stallsBy: number[];
  putMs: number[];
  pushP99: number[];
  /** Agents that had not received a push 30 s after its PUT (worst PUT). */
  missing: number;
  listingMs: number[];
}

const falseLost = (r: IdleRun, total: number): boolean =>
  r.apiLost > 0 || r.lostTotal > 0 || r.disconnects > 0 || r.active !== total || r.missing > 0;

/** One idle run on a fresh orchestrator and fresh helpers; `detail` prints run 1's tables. */
async function idleRun(total: number, idleS: number, nodeArgs: string[], detail: boolean) {
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
  const rows: Cell[][] = [];
  const pushRows: Cell[][] = [];
  const run: IdleRun = {
    connectS: NaN,
    rssMax: NaN,
    idleCpu: NaN,
    apiLost: NaN,
    active: NaN,
    lostTotal: NaN,
    disconnects: NaN,
    reasons: '',
    maxGapMs: NaN,
    stalls: NaN,
    longestStallS: NaN,
    stallsBy: [],
    putMs: [],
    pushP99: [],
    missing: 0,
    listingMs: [],
  };
  let helperCpu = NaN;
  let firstDrop = NaN;
  const rss = sampler(orchestrator.pid);
  try {
    await sleep(500);
    const base = await memory(orchestrator.url);
    rows.push([
      'started, no agents',
      '',
      '',
      fixed(rssMiB(orchestrator.pid), 0),
      fixed(base.heapUsed, 0),
      fixed(base.heapTotal, 0),
      fixed(base.external, 0),
      '',
    ]);
    const connectStart = performance.now();
    helpers.push(...(await startAgents(orchestrator.url, total, 'idle', 'idle')));
    await waitConnected(orchestrator.url, total, 120_000);
    run.connectS = (performance.now() - connectStart) / 1000;
    const stallsNow = (): Promise<number> =>
      metric(orchestrator.url, 'expressionist_event_loop_stalls_total');
    run.stallsBy.push(await stallsNow());
    await sleep(2000);

    await helperReceipts(helpers, -1); // resets the helpers' longest ping gap
    const idleStart = now();
    const meter = cpuMeter(orchestrator.pid);
    const helperMeter = cpuMeter(helpers.map((h) => h.child.pid!));
    const idleRss = sampler(orchestrator.pid);
    await sleep(idleS * 1000);
    run.idleCpu = meter.stop().percent;
    const idleWallS = (now() - idleStart) / 1000;
    helperCpu = helperMeter.stop().percent;
    const idleRssMax = idleRss.stop().rssMax;
    run.stallsBy.push(await stallsNow());
    const idle = await memory(orchestrator.url);
    const gaps = [(await helperReceipts(helpers, -1)).maxPingGapMs];
    rows.push([
      `${int(total)} agents idle`,
      fixed(idleWallS, 1),
      fixed(run.idleCpu, 1),
      fixed(idleRssMax, 0),
      fixed(idle.heapUsed, 0),
      fixed(idle.heapTotal, 0),
      fixed(idle.external, 0),
      fixed(gaps[0]!, 0),
    ]);

    for (let p = 1; p <= PUTS; p += 1) {
      const additionMs = 1000 + p;
      gaps.push((await helperReceipts(helpers, -1)).maxPingGapMs);
      const sent = now();
      await api.settings({ additionMs });
      const putMs = now() - sent;
      let got = await helperReceipts(helpers, additionMs);
      const deadline = Date.now() + 30_000;
      while (got.at.some((t) => t < 0) && Date.now() < deadline) {
        await sleep(250);
        got = await helperReceipts(helpers, additionMs);
      }
      const delays = got.at.filter((t) => t >= 0).map((t) => t - sent);
      run.missing = Math.max(run.missing, total - delays.length);
      // Heartbeats around the push: every connection has pinged at least once more by then.
      await sleep(1500);
      const gap = (await helperReceipts(helpers, -1)).maxPingGapMs;
      gaps.push(got.maxPingGapMs, gap);
      run.putMs.push(putMs);
      run.pushP99.push(percentile(delays, 99));
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

    run.stallsBy.push(await stallsNow());
    let apiLost = 0;
    let active = total;
    for (let l = 1; l <= LISTINGS; l += 1) {
      const { ms, statuses } = await listing(api);
      run.listingMs.push(ms);
      apiLost = Math.max(apiLost, statuses.get('lost') ?? 0);
      active = Math.min(active, statuses.get('active') ?? 0);
    }
    // Heartbeats around the listings.
    await sleep(1500);
    const stats = await helperStats(helpers);
    gaps.push((await helperReceipts(helpers, -1)).maxPingGapMs);
    run.apiLost = apiLost;
    run.active = active;
    run.disconnects = stats.disconnects;
    run.reasons = reasonsText(stats.reasons);
    run.maxGapMs = max(gaps);
    const lastReceipts = await helperReceipts(helpers, -1);
    if (Number.isFinite(lastReceipts.firstDisconnectAt))
      firstDrop = (lastReceipts.firstDisconnectAt - idleStart) / 1000;
    const h = await health(orchestrator.url);
    run.lostTotal = h.lostTotal;
    run.stalls = h.stalls;
    run.stallsBy.push(h.stalls);
    run.longestStallS = h.longestStallS;
  } finally {
    run.rssMax = rss.stop().rssMax;
    await stopAgents(helpers);
    await orchestrator.stop();
  }
  if (detail) {
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
    console.log(
      `client helpers while idle: ${fixed(helperCpu, 1)} % of a core (4 processes summed)`,
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
    console.log(
      `agents listings (GET /api/v1/agents, every page): ${run.listingMs.map((ms) => `${fixed(ms, 0)} ms`).join(', ')}`,
    );
  }
  if (run.disconnects > 0)
    console.log(
      `  client disconnects: ${run.reasons}; first ${fixed(firstDrop, 1)} s into the idle window`,
    );
  return run;
}

async function idlePart(o: Options): Promise<boolean> {
  const idleS = o.quick ? 5 : 10;
  heading(`Bench 9a: ${int(o.total)} idle agents, ${o.runs} runs`);
  console.log(
    `${PROCESSES} client processes × ${int(o.total / PROCESSES)} connections (websocket, concurrency ${CONNECTION_CONCURRENCY}, waves of ${WAVE} per process); per run: idle window ${idleS} s, ${PUTS} settings PUTs, ${LISTINGS} full agents listings${o.quick ? ' (--quick)' : ''}`,
  );
  if (o.nodeArgs.length > 0) console.log(`orchestrator: node ${o.nodeArgs.join(' ')}`);
  const runs: IdleRun[] = [];
  const rows: Cell[][] = [];
  for (let r = 1; r <= o.runs; r += 1) {
    const load = loadavg();
    if (r === 1) console.log(`run 1 in detail (load average before: ${load}):`);
    const run = await idleRun(o.total, idleS, o.nodeArgs, r === 1);
    runs.push(run);
    rows.push([
      r,
      fixed(run.connectS, 1),
      fixed(run.rssMax, 0),
      fixed(run.idleCpu, 1),
      `${int(run.apiLost)} / ${int(run.lostTotal)}`,
      int(run.disconnects),
      fixed(run.maxGapMs, 0),
      `${int(run.stalls)} / ${fixed(run.longestStallS, 2)}`,
      run.stallsBy.map((n, i) => int(n - (run.stallsBy[i - 1] ?? 0))).join('/'),
      fixed(max(run.putMs), 0),
      fixed(max(run.pushP99), 0),
      fixed(max(run.listingMs), 0),
      load.split(' ')[0]!,
      falseLost(run, o.total) ? 'FALSE LOST' : 'ok',
    ]);
  }
  console.log(
    table(
      [
        'run',
        'connect s',
        'RSS max MiB',
        'idle CPU %',
        'lost API / metric',
        'client disconnects',
        'longest ping gap ms',
        'stalls / longest s',
        'stalls c/i/p/l',
        'PUT max ms',
        'push p99 max ms',
        'listing max ms',
        'load avg',
        '',
      ],
      rows,
    ),
  );
  console.log(
    `(connect: helpers spawned → all ${int(o.total)} counted connected; RSS max over the whole run; idle CPU: orchestrator over the idle window; lost: status lost in the listings / expressionist_agents_lost_total; ping gap over idle window, pushes and listings; stalls: expressionist_event_loop_stalls_total / _longest_stall_seconds, and the stalls by phase: connect, idle window, pushes, listings; PUT and push p99: worst of ${PUTS}; listing: worst of ${LISTINGS}; load avg: 1-min, before the run)`,
  );
  const failed = runs.filter((r) => falseLost(r, o.total)).length;
  const rssMB = max(runs.map((r) => r.rssMax)) * 1.048576;
  console.log(
    `target 0 false lost in every run: ${verdict(failed === 0)} (${runs.length - failed} of ${runs.length} runs clean); ${int(o.total)} idle agents < 1 GB RSS: ${verdict(rssMB < 1000)} (max ${fixed(rssMB, 0)} MB)`,
  );
  return failed === 0;
}

// ---------------------------------------------------------------------------------- load

/** Cumulative buckets of `expressionist_operation_latency_seconds` (upper bound s → count). */
async function latencyBuckets(url: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const buckets = new Map<number, number>();
  const re = /^expressionist_operation_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text))
    buckets.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  return buckets;
}

/** The bucket bound (s) under which a share `q` of the observations between two reads fall. */
function bucketQuantile(before: Map<number, number>, after: Map<number, number>, q: number) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const count = (le: number): number => after.get(le)! - (before.get(le) ?? 0);
  const total = count(Infinity);
  for (const le of bounds) if (count(le) >= q * total) return le;
  return Infinity;
}

/** The exact value of a flat sum, through core's `execute` (left to right; addition is exact). */
const sumOf = (text: string): string =>
  text.split(' + ').reduce((acc, term) => (acc === '' ? term : execute('+', acc, term)), '');

async function loadPart(o: Options): Promise<boolean> {
  const loadS = o.quick ? 10 : 30;
  heading(`Bench 9b: ${int(o.total)} agents under load (1 slot each, ${OP_MS}-ms operations)`);
  console.log(
    `${IN_FLIGHT} flat sums of ${TERMS} terms (${TERMS - 1} operations each) kept in flight for ${loadS} s, plus a one-operation probe expression every ${PROBE_EVERY_MS} ms; every operation ${OP_MS} ms (TIME_*_MS); load average before: ${loadavg()}`,
  );
  const orchestrator = await spawnOrchestrator({
    logLevel: 'warn',
    env: { MAX_SOCKETS_PER_ADDRESS: String(Math.max(20_000, o.total + 100)), ...OP_TIMES },
    nodeArgs: o.nodeArgs,
  });
  const api = new Api(orchestrator.url);
  const helpers: ChildHandle[] = [];
  let ok = false;
  try {
    const connectStart = performance.now();
    helpers.push(...(await startAgents(orchestrator.url, o.total, 'busy', 'compute')));
    await waitConnected(orchestrator.url, o.total, 120_000);
    console.log(
      `connected ${int(o.total)} agents in ${fixed((performance.now() - connectStart) / 1000, 1)} s`,
    );
    await sleep(2000);
    await helperReceipts(helpers, -1); // resets the helpers' longest ping gap
    const before = await health(orchestrator.url);
    const buckets0 = await latencyBuckets(orchestrator.url);
    const watcher = new CompletionWatcher(orchestrator.url);
    await watcher.connected();
    let running = true;
    let seq = 0;
    let expressions = 0;
    let wrong = 0;
    const keepBusy = Array.from({ length: IN_FLIGHT }, async () => {
      while (running) {
        const text = flatSum(TERMS, 1_000_003 * ++seq + Date.now());
        const id = await api.submit(text);
        const view = await watcher.one(id, 300_000);
        expressions += 1;
        if (view.status !== 'done' || view.value !== sumOf(text)) wrong += 1;
      }
    });
    const probesSent = new Map<string, number>();
    /** Per probe: the POST's round trip (ms); the probes go out on a timer, not one by one. */
    const probePosts: Promise<number>[] = [];
    const probing = (async () => {
      for (let p = 1; running; p += 1) {
        const operand = String(PROBE_BASE + p);
        const sent = now();
        probesSent.set(operand, sent);
        probePosts.push(api.submit(`${operand} + 0.5`).then(() => now() - sent));
        await sleep(PROBE_EVERY_MS);
      }
    })();
    await sleep(3000); // ramp up
    const ops0 = await metric(orchestrator.url, 'expressionist_operations_completed_total');
    const meter = cpuMeter(orchestrator.pid);
    const helperMeter = cpuMeter(helpers.map((h) => h.child.pid!));
    const rss = sampler(orchestrator.pid);
    await sleep(loadS * 1000);
    const cpu = meter.stop();
    const helperCpu = helperMeter.stop().percent;
    const ops = (await metric(orchestrator.url, 'expressionist_operations_completed_total')) - ops0;
    const { rssMax } = rss.stop();
    const readyQueue = await metric(orchestrator.url, 'expressionist_ready_queue_depth');
    running = false;
    await Promise.all([...keepBusy, probing]);
    const postMs = await Promise.all(probePosts);
    watcher.close();
    // The last probes' tasks: every probe is one operation on an idle fleet by now.
    await sleep(1000);
    const buckets1 = await latencyBuckets(orchestrator.url);
    const after = await health(orchestrator.url);
    const stats: HelperStats = await helperStats(helpers);
    const gap = (await helperReceipts(helpers, -1)).maxPingGapMs;
    const { statuses } = await listing(api);
    const dispatch = [...probesSent]
      .filter(([operand]) => stats.probes.has(operand))
      .map(([operand, sent]) => stats.probes.get(operand)! - sent);
    const lost = statuses.get('lost') ?? 0;
    const lostTotal = after.lostTotal - before.lostTotal;
    const requeued = after.requeued - before.requeued;
    console.log(
      table(
        [
          'window s',
          'ops/s',
          'expressions done',
          'wrong values',
          'orchestrator CPU %',
          'agent helpers CPU %',
          'RSS max MiB',
          'ready queue at end',
          'load avg',
        ],
        [
          [
            fixed(cpu.wallMs / 1000, 1),
            int(ops / (cpu.wallMs / 1000)),
            int(expressions),
            int(wrong),
            fixed(cpu.percent, 1),
            fixed(helperCpu, 1),
            fixed(rssMax, 0),
            int(readyQueue),
            loadavg().split(' ')[0]!,
          ],
        ],
      ),
    );
    console.log(
      table(
        [
          'dispatch latency (probe)',
          'probes',
          'without a task',
          'p50 ms',
          'p99 ms',
          'max ms',
          'POST p50 / p99 ms',
          'op latency p50 ≤ s',
          'op latency p99 ≤ s',
        ],
        [
          [
            'POST sent → task at an agent',
            int(probesSent.size),
            int(probesSent.size - dispatch.length),
            fixed(median(dispatch), 0),
            fixed(percentile(dispatch, 99), 0),
            fixed(max(dispatch), 0),
            `${fixed(median(postMs), 0)} / ${fixed(percentile(postMs, 99), 0)}`,
            String(bucketQuantile(buckets0, buckets1, 0.5)),
            String(bucketQuantile(buckets0, buckets1, 0.99)),
          ],
        ],
      ),
    );
    console.log(
      `(probe: a one-operation expression "<9-digit integer> + 0.5" submitted every ${PROBE_EVERY_MS} ms into the load; its latency is the agent's receipt of the task minus the moment the bench sent the POST, one machine clock — it includes the HTTP round trip, parsing, the store write and the wait in the ready queue; POST: the submission's round trip alone. op latency: the bucket of expressionist_operation_latency_seconds (dispatch → verified result, ${OP_MS} ms of it the operation) under which 50 / 99 % of this window's operations fall)`,
    );
    console.log(
      `agents: ${int(statuses.get('active') ?? 0)} of ${int(o.total)} active, ${int(lost)} lost in the listing, ${int(lostTotal)} expressionist_agents_lost_total, ${int(stats.disconnects)} client disconnects${stats.disconnects > 0 ? ` (${reasonsText(stats.reasons)})` : ''}, longest ping gap ${fixed(max([gap, stats.maxPingGapMs]), 0)} ms; ${int(requeued)} operations requeued; stalls ${int(after.stalls - before.stalls)} (longest since start ${fixed(after.longestStallS, 2)} s); ${int(stats.tasks)} tasks received by the agents`,
    );
    ok = lost === 0 && lostTotal === 0 && stats.disconnects === 0 && requeued === 0 && wrong === 0;
    console.log(
      `target 0 false lost under load: ${verdict(lost === 0 && lostTotal === 0 && stats.disconnects === 0)}; 0 requeued: ${verdict(requeued === 0)}; exact values: ${verdict(wrong === 0)}; dispatch p99: ${fixed(percentile(dispatch, 99), 0)} ms (no target set)`,
    );
  } finally {
    await stopAgents(helpers);
    await orchestrator.stop();
  }
  return ok;
}

// ---------------------------------------------------------------------------------- storm

async function stormPart(o: Options): Promise<boolean> {
  heading(
    `Bench 9c: a storm — the orchestrator SIGKILLed and restarted under ${int(o.total)} agents`,
  );
  console.log(
    `embedded store in a kept data dir, same port; ${STORM_EXPRESSIONS} flat sums of ${STORM_TERMS} terms in progress (${OP_MS}-ms operations); agents reconnect as agent-node does (full jitter from 0.5 s doubling to 10 s, AGENT_ADMISSION_BUSY's window honoured); load average before: ${loadavg()}`,
  );
  const dir = tempDir('expr-storm-');
  const port = await freePort();
  const env = {
    PORT: String(port),
    DATA_DIR: dir.dir,
    MAX_SOCKETS_PER_ADDRESS: String(Math.max(20_000, o.total + 100)),
    ...OP_TIMES,
  };
  let orchestrator: OrchestratorProcess | undefined = await spawnOrchestrator({
    logLevel: 'warn',
    env,
    nodeArgs: o.nodeArgs,
  });
  const helpers: ChildHandle[] = [];
  let ok = false;
  try {
    let api = new Api(orchestrator.url);
    helpers.push(...(await startAgents(orchestrator.url, o.total, 'storm', 'compute,reconnect')));
    await waitConnected(orchestrator.url, o.total, 120_000);
    await sleep(2000);
    const texts = Array.from({ length: STORM_EXPRESSIONS }, (_, i) =>
      flatSum(STORM_TERMS, 7_000_003 * (i + 1) + Date.now()),
    );
    const ids = await Promise.all(texts.map((text) => api.submit(text)));
    const opsTotal = STORM_EXPRESSIONS * (STORM_TERMS - 1);
    // Killed early in the work: results stored, leases out, operations still queued. (Reading
    // /metrics under 10,000 agents takes a while: by the time it says a tenth, it is more.)
    let doneAtKill = 0;
    let finishedAtKill = 0;
    while (doneAtKill < opsTotal / 10) {
      await sleep(50);
      doneAtKill = await metric(orchestrator.url, 'expressionist_operations_completed_total');
      finishedAtKill = await metricValue(orchestrator.url, 'expressionist_expressions', {
        status: 'done',
      });
    }
    const before = await helperStats(helpers);
    await kill(orchestrator);
    const killedAt = now();
    orchestrator = undefined;
    console.log(
      `SIGKILL with ${int(doneAtKill)} of ${int(opsTotal)} operations done (expressionist_operations_completed_total) and ${int(finishedAtKill)} of ${STORM_EXPRESSIONS} expressions (expressionist_expressions{status="done"}), read just before`,
    );
    const restartAt = now();
    orchestrator = await spawnOrchestrator({
      logLevel: 'warn',
      env,
      nodeArgs: o.nodeArgs,
      readyTimeoutMs: 120_000,
    });
    const readyAt = now();
    const watch = sampler(orchestrator.pid);
    api = new Api(orchestrator.url);
    const probeText = `${Date.now()} + 0.25`;
    const probeId = await api.submit(probeText);
    let allActiveAt = NaN;
    let probeAt = NaN;
    let allDoneAt = NaN;
    const finished = new Map<string, { status: string; value: string | null }>();
    const deadline = Date.now() + 300_000;
    let activeNow = 0;
    while (!(
      Number.isFinite(allActiveAt) &&
      Number.isFinite(probeAt) &&
      Number.isFinite(allDoneAt)
    )) {
      if (Date.now() > deadline)
        throw new Error(
          `after 300 s: ${activeNow} of ${o.total} agents active, probe ${Number.isFinite(probeAt) ? 'done' : 'not done'}, ${finished.size} of ${ids.length} expressions finished`,
        );
      if (!Number.isFinite(allActiveAt)) {
        activeNow = await metric(orchestrator.url, 'expressionist_agents_connected');
        if (activeNow === o.total) allActiveAt = now();
      }
      if (!Number.isFinite(probeAt)) {
        const view = await api.expression(probeId);
        if (view.status === 'done' && view.value === sumOf(probeText)) probeAt = now();
        else if (view.status !== 'in_progress' && view.status !== 'pending')
          throw new Error(`probe ${view.status}`);
      }
      if (!Number.isFinite(allDoneAt)) {
        for (const id of ids.filter((i) => !finished.has(i))) {
          const view = await api.expression(id);
          if (view.status !== 'in_progress' && view.status !== 'pending')
            finished.set(id, { status: view.status, value: view.value });
        }
        if (finished.size === ids.length) allDoneAt = now();
      }
      await sleep(250);
    }
    const { rssMax, cpuPeak } = watch.stop();
    const cpuAvg = (100 * cpuTimeMs(orchestrator.pid)) / (now() - restartAt);
    await sleep(1500);
    const after = await helperStats(helpers);
    const h = await health(orchestrator.url);
    const { statuses } = await listing(api);
    const exact = ids.filter(
      (id, i) =>
        finished.get(id)?.status === 'done' && finished.get(id)?.value === sumOf(texts[i]!),
    ).length;
    const s = (at: number): string => fixed((at - restartAt) / 1000, 1);
    const delta = (m: Map<string, number>, b: Map<string, number>, key: string): number =>
      (m.get(key) ?? 0) - (b.get(key) ?? 0);
    console.log(
      table(
        ['storm', 's after the restart was spawned'],
        [
          ['SIGKILL → restart spawned', fixed((restartAt - killedAt) / 1000, 1)],
          ['orchestrator ready (/readyz 200)', s(readyAt)],
          [`all ${int(o.total)} agents connected again`, s(allActiveAt)],
          ['probe submitted after the restart done', s(probeAt)],
          [`all ${STORM_EXPRESSIONS} in-progress expressions done`, s(allDoneAt)],
        ],
      ),
    );
    const busy = delta(after.refusals, before.refusals, 'AGENT_ADMISSION_BUSY');
    const otherRefusals = [...after.refusals.keys()]
      .filter((code) => code !== 'AGENT_ADMISSION_BUSY')
      .map((code) => `${int(delta(after.refusals, before.refusals, code))} ${code}`)
      .join(', ');
    console.log(
      `clients: ${int(after.disconnects - before.disconnects)} disconnects (${reasonsText(after.reasons)}), ${int(busy)} AGENT_ADMISSION_BUSY refusals${otherRefusals ? `, ${otherRefusals}` : ''}, ${int(after.unreachable - before.unreachable)} attempts while nobody listened, ${int(after.retries - before.retries)} retries in all (${fixed((after.retries - before.retries) / o.total, 1)} per agent); ${int(after.connected)} connected`,
    );
    console.log(
      `restarted orchestrator: RSS max ${fixed(rssMax, 0)} MiB, CPU peak ${fixed(cpuPeak, 0)} % of a core (1-s samples), ${fixed(cpuAvg, 0)} % on average from spawn until all were back and working; stalls ${int(h.stalls)} (longest ${fixed(h.longestStallS, 2)} s); agents lost since the restart ${int(h.lostTotal)} (listing: ${int(statuses.get('active') ?? 0)} active, ${int(statuses.get('lost') ?? 0)} lost); ${int(h.requeued)} operations requeued`,
    );
    console.log(
      `expressions: ${exact} of ${ids.length} done with the exact value; probe ${Number.isFinite(probeAt) ? 'done, exact' : 'NOT done'}; load average after: ${loadavg()}`,
    );
    ok = exact === ids.length && after.connected === o.total && h.lostTotal === 0;
    console.log(
      `target all back and working, nothing lost: ${verdict(ok)} (all connected ${s(allActiveAt)} s, working ${s(probeAt)} s, in-progress done ${s(allDoneAt)} s after the restart)`,
    );
  } finally {
    await stopAgents(helpers);
    await orchestrator?.stop();
    dir.remove();
  }
  return ok;
}

/** The 1-, 5- and 15-minute load averages (`/proc/loadavg`). */
function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

/** The soft `ulimit -n` this process (and the orchestrator it spawns) runs with. */
function descriptorLimit(): string {
  try {
    const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line ? `${line[1]} (hard ${line[2]})` : 'n/a';
  } catch {
    return 'n/a';
  }
}

export async function main(): Promise<void> {
  const o = options();
  heading(`Bench 9: many agents, no false alarms (${int(o.total)} connections)`);
  console.log(describeMachine());
  console.log(`ulimit -n: ${descriptorLimit()}`);
  let ok = true;
  for (const part of o.parts) {
    if (part === 'idle') ok = (await idlePart(o)) && ok;
    if (part === 'load') ok = (await loadPart(o)) && ok;
    if (part === 'storm') ok = (await stormPart(o)) && ok;
  }
  if (!ok) console.log('bench 9: at least one target MISSED (see above)');
}

if (isMain(import.meta.url)) runMain(main);
