/**
 * Bench 7 — a silent agent (issue 15). Eight small expressions `(a+b)*(c-d)` with the default
 * operation times (+ and − 200 ms, × 1000 ms) and the default LEASE_GRACE_MS (3000), on one
 * honest agent-node process with 4 workers: (a) alone, (b) with a socket agent that claims 256
 * slots, takes work and never answers, joined before the honest one. Each case runs 3 times on a
 * fresh orchestrator (a fresh store: nothing is answered from the result cache, and no agent
 * carries strikes from an earlier run). Latency is the API's createdAt → finishedAt per
 * expression; the makespan is the first createdAt → the last finishedAt of the eight.
 *
 *   node bench/dist/silent-agent.js [--quick]
 */
import { compile, evaluatePlan } from '@expressionist/core';
import {
  Api,
  connectSocketAgent,
  spawnAgent,
  spawnOrchestrator,
  stopProcess,
  type AgentSocket,
} from '@expressionist/testkit';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { fixed, heading, table, verdict } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { max, median, min } from './lib/stats.js';

const EXPRESSIONS = 8;
const WORKERS = 4;
const SILENT_SLOTS = 256;
const TARGET_RATIO = 1.5;

/** Eight `(a+b)*(c-d)`: two 200 ms operations side by side, then one of 1000 ms. */
export const silentBenchExpressions = (): string[] =>
  Array.from({ length: EXPRESSIONS }, (_, i) => `(${11 + i}+${22 + i})*(${33 + i}-${4 + i})`);

export interface SilentTrial {
  withSilent: boolean;
  /** createdAt → finishedAt per expression, ms. */
  latenciesMs: number[];
  /** First createdAt → last finishedAt, ms. */
  makespanMs: number;
  /** Tasks the silent agent received (0 without one). */
  silentTasks: number;
  /** The silent agent's status at the end (null without one). */
  silentStatus: string | null;
}

/**
 * One run on a fresh orchestrator: the honest agent process (and, first, the silent socket agent
 * when `withSilent`), then the eight expressions at once. Throws if any value is not exact.
 * `env` overrides the orchestrator's environment (the defaults are the case).
 */
export async function silentTrial(
  withSilent: boolean,
  trial: number,
  env: Record<string, string> = {},
): Promise<SilentTrial> {
  const orchestrator = await spawnOrchestrator({ logLevel: 'warn', env });
  const api = new Api(orchestrator.url);
  let silent: AgentSocket | undefined;
  let silentTasks = 0;
  const honest = spawnAgent(orchestrator.url, {
    concurrency: WORKERS,
    id: `honest-${trial}`,
    logLevel: 'warn',
  });
  try {
    if (withSilent) {
      silent = await connectSocketAgent(
        orchestrator.url,
        { agentId: `silent-${trial}`, name: 'silent', concurrency: SILENT_SLOTS },
        { tasks: (tasks) => (silentTasks += tasks.length) },
      );
    }
    await api.waitForAgents(withSilent ? 2 : 1, WORKERS + (withSilent ? SILENT_SLOTS : 0));
    const sources = silentBenchExpressions();
    const ids = await Promise.all(sources.map((s) => api.submit(s)));
    const views = await Promise.all(ids.map((id) => api.finished(id, 120_000, 10)));
    for (const [i, view] of views.entries()) {
      const expected = evaluatePlan(compile(sources[i]!).plan);
      if (view.status !== 'done' || view.value !== expected)
        throw new Error(`${sources[i]} → ${view.status} ${view.value}, expected ${expected}`);
    }
    const created = views.map((v) => Date.parse(v.createdAt));
    const finished = views.map((v) => Date.parse(v.finishedAt!));
    const silentView = withSilent
      ? (await api.agents()).find((a) => a.id === `silent-${trial}`)
      : undefined;
    return {
      withSilent,
      latenciesMs: finished.map((f, i) => f - created[i]!),
      makespanMs: max(finished) - min(created),
      silentTasks,
      silentStatus: silentView?.status ?? null,
    };
  } finally {
    silent?.disconnect();
    await stopProcess(honest, 'SIGKILL', 5_000);
    await orchestrator.stop();
  }
}

export async function main(): Promise<void> {
  const { quick } = benchArgs();
  const repeats = quick ? 1 : 3;
  heading('Bench 7: a silent agent beside an honest one');
  console.log(describeMachine());
  console.log(
    `${EXPRESSIONS} expressions (a+b)*(c-d) at once; default times (+ − 200 ms, × 1000 ms), LEASE_GRACE_MS 3000, UNRESPONSIVE_AFTER 3 (defaults)`,
  );
  console.log(
    `honest: agent-node process × ${WORKERS} workers; silent: socket agent claiming ${SILENT_SLOTS} slots, joined first, never answers; ${repeats} run(s) per case, fresh orchestrator each${quick ? ' (--quick)' : ''}`,
  );
  const trials: SilentTrial[] = [];
  for (let i = 0; i < repeats; i += 1) {
    for (const withSilent of [false, true]) {
      trials.push(await silentTrial(withSilent, i));
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
  const label = (t: SilentTrial): string => (t.withSilent ? 'honest + silent' : 'honest alone');
  console.log(
    table(
      [
        'case',
        'run',
        'latency min ms',
        'median ms',
        'max ms',
        'makespan ms',
        'silent got',
        'silent',
      ],
      trials.map((t, i) => [
        label(t),
        Math.floor(i / 2) + 1,
        min(t.latenciesMs),
        median(t.latenciesMs),
        max(t.latenciesMs),
        t.makespanMs,
        t.withSilent ? t.silentTasks : '-',
        t.silentStatus ?? '-',
      ]),
    ),
  );
  const summary = (withSilent: boolean): number[] => {
    const runs = trials.filter((t) => t.withSilent === withSilent);
    return [
      median(runs.map((t) => min(t.latenciesMs))),
      median(runs.map((t) => median(t.latenciesMs))),
      median(runs.map((t) => max(t.latenciesMs))),
      median(runs.map((t) => t.makespanMs)),
    ];
  };
  const alone = summary(false);
  const silent = summary(true);
  console.log(`\nmedians over ${repeats} run(s):`);
  console.log(
    table(
      ['case', 'latency min ms', 'median ms', 'max ms', 'makespan ms'],
      [
        ['honest alone', ...alone.map((v) => fixed(v, 0))],
        ['honest + silent', ...silent.map((v) => fixed(v, 0))],
        ['ratio', ...silent.map((v, i) => `${fixed(v / alone[i]!, 2)}×`)],
      ],
    ),
  );
  const ratio = silent[3]! / alone[3]!;
  console.log(
    `target makespan with a silent agent ≤ ${TARGET_RATIO}× without: ${fixed(ratio, 2)}× ${verdict(ratio <= TARGET_RATIO)}`,
  );
}

if (isMain(import.meta.url)) runMain(main);
