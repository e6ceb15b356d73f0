/**
 * Bench 12 — big inputs at the edge (issue 20, item 6). One client submits ten 1 MB expressions
 * (`1+1+…+1`, 999,999 characters, 499,999 operations each) and then, in a loop, subscribes to
 * each of them on a `/ui` socket and reads a page of its operations over REST, while 1,000 agents
 * (4 helper processes × 250 socket.io-clients, each computing its tasks) are connected to the
 * same orchestrator process. `SUBSCRIBES_PER_MINUTE` is lifted for the run, so the numbers are
 * the cost of the bounded views themselves, not of a limit refusing most calls.
 *
 * Measured over the loop window: the orchestrator's own event-loop delay (prom-client's
 * `monitorEventLoopDelay` p99 and max on /metrics, reset by the scrape just before the window),
 * the longest gap between two heartbeats on any agent connection, client disconnects, and agents
 * listed `lost`.
 *
 *   node bench/dist/big-inputs.js [--quick] [--orchestrator-flags="--cpu-prof --cpu-prof-dir=…"]
 */
import { io, type Socket } from 'socket.io-client';
import type { ServerToUiEvents, SubscribeReply, UiToServerEvents } from '@expressionist/core';
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
import { helperReceipts, spawnConnectedHelpers } from './lib/processes.js';
import { max, median, percentile } from './lib/stats.js';

const PROCESSES = 4;
const EXPRESSIONS = 10;
const TARGET_P99_MS = 50;
/** Operations per REST page read in the loop (the route's default page). */
const PAGE = 500;

const megabyteSum = (): string => `${'1+'.repeat(499_999)}1`;

async function loopDelay(url: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string): number => {
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) * 1000 : Number.NaN;
  };
  return {
    p99: read('nodejs_eventloop_lag_p99_seconds'),
    max: read('nodejs_eventloop_lag_max_seconds'),
  };
}

/** Garbage collections so far by kind (major, minor, incremental, weakcb): count and seconds. */
async function gcTotals(url: string): Promise<Map<string, { n: number; s: number }>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, { n: number; s: number }>();
  for (const m of text.matchAll(
    /^nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} ([0-9.e+-]+)$/gm,
  )) {
    const entry = out.get(m[2]!) ?? { n: 0, s: 0 };
    if (m[1] === 'sum') entry.s = Number(m[3]);
    else entry.n = Number(m[3]);
    out.set(m[2]!, entry);
  }
  return out;
}

/** Collections between two `gcTotals`, as `kind: n × mean ms`. */
function gcBetween(
  a: Map<string, { n: number; s: number }>,
  b: Map<string, { n: number; s: number }>,
): string {
  return [...b]
    .map(([kind, { n, s }]) => {
      const dn = n - (a.get(kind)?.n ?? 0);
      const ds = s - (a.get(kind)?.s ?? 0);
      return dn > 0 ? `${kind} ${dn} × ${fixed((ds * 1000) / dn, 1)} ms` : '';
    })
    .filter(Boolean)
    .join(', ');
}

async function heapMiB(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^nodejs_heap_size_used_bytes ([0-9.e+-]+)$/m.exec(text);
  return m ? Number(m[1]) / 2 ** 20 : Number.NaN;
}

async function agentStatuses(api: Api): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const agent of await api.agents())
    counts.set(agent.status, (counts.get(agent.status) ?? 0) + 1);
  return counts;
}

export async function main(): Promise<void> {
  const { quick, orchestratorFlags } = benchArgs();
  const nodeArgs = orchestratorFlags.flatMap((flags) => flags.split(/\s+/).filter(Boolean));
  const perProcess = 250;
  const total = PROCESSES * perProcess;
  const windowS = quick ? 8 : 20;
  heading(`Bench 12: big inputs at the edge (${EXPRESSIONS} × 1 MB, ${int(total)} agents)`);
  console.log(describeMachine());
  const orchestrator = await spawnOrchestrator({
    logLevel: 'warn',
    env: {
      MAX_SOCKETS_PER_ADDRESS: String(total + 100),
      SUBSCRIBES_PER_MINUTE: '1000000',
      SUBMISSIONS_PER_MINUTE: '1000000',
      BODY_LIMIT_BYTES: String(4 * 1024 * 1024),
    },
    nodeArgs,
  });
  const api = new Api(orchestrator.url);
  const helpers: ChildHandle[] = [];
  const ui: Socket<ServerToUiEvents, UiToServerEvents> = io(`${orchestrator.url}/ui`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  const subscribeMs: number[] = [];
  const pageMs: number[] = [];
  const submitMs: number[] = [];
  let refused = 0;
  let rounds = 0;
  let loop = { p99: Number.NaN, max: Number.NaN };
  let baseline = { p99: Number.NaN, max: Number.NaN };
  const baselineS = quick ? 4 : 10;
  let baselineGc = '';
  let loopGc = '';
  let heap = Number.NaN;
  let gap = Number.NaN;
  let disconnects = Number.NaN;
  let reasons = '';
  let lost = Number.NaN;
  let active = Number.NaN;
  let done = Number.NaN;
  try {
    helpers.push(
      ...(await spawnConnectedHelpers(
        'idle-agents',
        PROCESSES,
        (p) => [orchestrator.url, String(perProcess), `big${p}`, '1', '50', 'compute'],
        300_000,
      )),
    );
    await api.waitForAgents(total, total, 60_000);
    // Created before the agents, so it may well be connected already.
    if (!ui.connected)
      await new Promise<void>((resolve, reject) => {
        ui.once('connect', () => resolve());
        ui.once('connect_error', reject);
      });
    const source = megabyteSum();
    const ids: string[] = [];
    for (let i = 0; i < EXPRESSIONS; i += 1) {
      const t = performance.now();
      ids.push(await api.submit(source));
      submitMs.push(performance.now() - t);
    }
    console.log(
      `${int(total)} computing agents connected; ${EXPRESSIONS} submissions of 999,999 characters, submit → 201 median ${fixed(median(submitMs), 0)} ms, max ${fixed(max(submitMs), 0)} ms`,
    );
    // Baseline: the same agents computing the same expressions, nobody reading them.
    await loopDelay(orchestrator.url); // resets the orchestrator's delay histogram
    const gc0 = await gcTotals(orchestrator.url);
    await sleep(baselineS * 1000);
    baseline = await loopDelay(orchestrator.url);
    const gc1 = await gcTotals(orchestrator.url);
    baselineGc = gcBetween(gc0, gc1);
    heap = await heapMiB(orchestrator.url);
    await helperReceipts(helpers, -1); // resets the helpers' longest ping gap
    const end = performance.now() + windowS * 1000;
    while (performance.now() < end) {
      await Promise.all(
        ids.map(async (id, i) => {
          const s = performance.now();
          const reply = await new Promise<SubscribeReply>((resolve) =>
            ui.emit('subscribe', id, resolve),
          );
          subscribeMs.push(performance.now() - s);
          if (!reply.ok) refused += 1;
          const p = performance.now();
          const cursor = ((rounds * EXPRESSIONS + i) * PAGE) % 498_000;
          const res = await api.call(
            'GET',
            `/api/v1/expressions/${id}/operations?limit=${PAGE}&cursor=${cursor}`,
          );
          pageMs.push(performance.now() - p);
          if (res.status !== 200) refused += 1;
        }),
      );
      rounds += 1;
    }
    loop = await loopDelay(orchestrator.url);
    loopGc = gcBetween(gc1, await gcTotals(orchestrator.url));
    const receipts = await helperReceipts(helpers, -1);
    gap = receipts.maxPingGapMs;
    disconnects = receipts.disconnects;
    reasons = [...receipts.reasons].map(([reason, n]) => `${int(n)} ${reason}`).join(', ');
    const statuses = await agentStatuses(api);
    lost = statuses.get('lost') ?? 0;
    active = statuses.get('active') ?? 0;
    done = 0;
    for (const id of ids) done += (await api.expression(id)).progress.done;
  } finally {
    ui.close();
    for (const h of helpers) h.child.send?.({ type: 'close' });
    await Promise.all(helpers.map((h) => stopProcess(h, 'SIGTERM', 5000)));
    await orchestrator.stop();
  }
  console.log(
    table(
      [
        'window s',
        'rounds',
        'subscribes',
        `pages of ${PAGE}`,
        'refused',
        'subscribe p50 / p99 ms',
        'page p50 / p99 ms',
        'loop p99 ms',
        'loop max ms',
        'longest ping gap ms',
        'disconnects',
        'lost',
        'active',
        'ops done meanwhile',
      ],
      [
        [
          windowS,
          rounds,
          int(subscribeMs.length),
          int(pageMs.length),
          refused,
          `${fixed(median(subscribeMs), 1)} / ${fixed(percentile(subscribeMs, 99), 1)}`,
          `${fixed(median(pageMs), 1)} / ${fixed(percentile(pageMs, 99), 1)}`,
          fixed(loop.p99, 1),
          fixed(loop.max, 1),
          fixed(gap, 0),
          `${int(disconnects)}${reasons ? ` (${reasons})` : ''}`,
          int(lost),
          int(active),
          int(done),
        ],
      ],
    ),
  );
  console.log(
    `baseline (${baselineS} s just before, agents computing, no reads): loop p99 ${fixed(baseline.p99, 1)} ms, max ${fixed(baseline.max, 1)} ms; V8 heap used ${fixed(heap, 0)} MiB`,
  );
  console.log(`collections: baseline ${baselineGc || 'none'}; reads ${loopGc || 'none'}`);
  console.log(
    `target: loop p99 < ${TARGET_P99_MS} ms and no agent dropped: ${verdict(loop.p99 < TARGET_P99_MS && disconnects === 0 && lost === 0)} (p99 ${fixed(loop.p99, 1)} ms, ${int(disconnects)} disconnects, ${int(lost)} lost)`,
  );
}

if (isMain(import.meta.url)) runMain(main);
