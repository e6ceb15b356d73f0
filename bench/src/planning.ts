/**
 * Bench 8 — planning a 1 MB expression off the event loop (issue 13, item 4). A real
 * orchestrator process with three agent-node processes connected; one submission of `1+1+…+1`
 * (999,999 characters, 499,999 operations). Two cases in one run, each on a fresh orchestrator:
 * PLAN_WORKER_THRESHOLD=0 (everything parsed and planned on the event loop, as before) and the
 * default threshold (a worker thread plans it).
 *
 * Two views of the orchestrator's event loop over the window "submit → 201 → 1 s of dispatch":
 * its own `monitorEventLoopDelay` (prom-client's default `nodejs_eventloop_lag_p99_seconds` and
 * `_max_seconds` on /metrics, reset by the scrape just before the window), and from outside, the
 * latency of `GET /healthz` polled back to back every 5 ms (a stall shows as one slow answer).
 *
 *   node bench/dist/planning.js [--quick]
 */
import { Api, spawnAgent, spawnOrchestrator, stopProcess } from '@expressionist/testkit';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { fixed, heading, table, verdict } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { max } from './lib/stats.js';

const AGENTS = 3;
const SLOTS = 2;
const TARGET_P99_MS = 50;
const AFTER_MS = 1000;
const SAMPLE_EVERY_MS = 5;

export const megabyteSum = (): string => `${'1+'.repeat(499_999)}1`;

export interface PlanningCase {
  label: string;
  threshold: string;
  /** POST /calculate → 201, ms. */
  submitMs: number;
  /** The orchestrator's own event-loop delay over the window, ms. */
  loopP99Ms: number;
  loopMaxMs: number;
  /** GET /healthz latency over the window, ms. */
  healthzP99Ms: number;
  healthzMaxMs: number;
  healthzSamples: number;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(nodejs_eventloop_lag_\w+_seconds) ([0-9.e+-]+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** One orchestrator, its agents, one 1 MB submission; the loop's delay over the window. */
export async function planningCase(label: string, threshold: string): Promise<PlanningCase> {
  const orchestrator = await spawnOrchestrator({
    logLevel: 'warn',
    env: { PLAN_WORKER_THRESHOLD: threshold },
  });
  const agents = Array.from({ length: AGENTS }, (_, i) =>
    spawnAgent(orchestrator.url, { concurrency: SLOTS, logLevel: 'warn', name: `bench-${i}` }),
  );
  try {
    const api = new Api(orchestrator.url);
    await api.waitForAgents(AGENTS, AGENTS * SLOTS);
    const expression = megabyteSum();
    await scrape(orchestrator.url); // resets the orchestrator's delay histogram
    let sampling = true;
    const latencies: number[] = [];
    const sampler = (async () => {
      while (sampling) {
        const t = performance.now();
        const res = await fetch(`${orchestrator.url}/healthz`);
        await res.body?.cancel();
        latencies.push(performance.now() - t);
        await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
      }
    })();
    const started = performance.now();
    const res = await api.call('POST', '/api/v1/calculate', { expression });
    const submitMs = performance.now() - started;
    if (res.status !== 201) throw new Error(`submission answered ${res.status}`);
    await new Promise((resolve) => setTimeout(resolve, AFTER_MS));
    sampling = false;
    await sampler;
    const loop = await scrape(orchestrator.url);
    return {
      label,
      threshold,
      submitMs,
      loopP99Ms: (loop.get('nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000,
      loopMaxMs: (loop.get('nodejs_eventloop_lag_max_seconds') ?? Number.NaN) * 1000,
      healthzP99Ms: percentile(latencies, 99),
      healthzMaxMs: max(latencies),
      healthzSamples: latencies.length,
    };
  } finally {
    await Promise.all(agents.map((a) => stopProcess(a)));
    await orchestrator.stop();
  }
}

async function main(): Promise<void> {
  const { quick } = benchArgs();
  heading('Bench 8 — planning a 1 MB expression (event-loop delay of the orchestrator)');
  console.log(describeMachine());
  console.log(
    `${AGENTS} agent processes × ${SLOTS} slots; one submission of 999,999 characters; window = submit → 201 → ${AFTER_MS} ms${quick ? ' (--quick: same run, it is one submission)' : ''}`,
  );
  const cases = [
    await planningCase('before: in-thread', '0'),
    await planningCase('after: worker thread', '50000'),
  ];
  console.log(
    table(
      [
        'case',
        'PLAN_WORKER_THRESHOLD',
        'submit → 201 ms',
        'loop p99 ms',
        'loop max ms',
        '/healthz p99 ms',
        '/healthz max ms',
        'samples',
      ],
      cases.map((c) => [
        c.label,
        c.threshold,
        fixed(c.submitMs, 0),
        fixed(c.loopP99Ms, 1),
        fixed(c.loopMaxMs, 1),
        fixed(c.healthzP99Ms, 1),
        fixed(c.healthzMaxMs, 1),
        c.healthzSamples,
      ]),
    ),
  );
  const after = cases[1]!;
  console.log(
    `target: loop p99 < ${TARGET_P99_MS} ms with the worker: ${verdict(after.loopP99Ms < TARGET_P99_MS)} (p99 ${fixed(after.loopP99Ms, 1)} ms, max ${fixed(after.loopMaxMs, 1)} ms)`,
  );
}

if (isMain(import.meta.url)) runMain(main);
