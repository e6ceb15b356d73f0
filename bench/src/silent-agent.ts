/**
 * Bench 7 — a silent agent (issue 15): how much an agent that takes work and never answers
 * delays honest work.
 *
 * Eight small expressions `(a+b)*(c-d)` with the default
 * operation times (+ and − 200 ms, × 1000 ms) and the default LEASE_GRACE_MS (3000), on one
 * honest agent-node process with 4 workers: (a) alone, (b) with a socket agent that claims 256
 * slots, takes work and never answers, joined before the honest one, (c) the same silent agent
 * joined first and alone: the eight are submitted while it is the only agent, and the honest
 * process is started only once the silent one holds tasks (issue 19). Each case runs 3 times on
 * a fresh orchestrator (a fresh store: nothing is answered from the result cache, and no agent
 * carries strikes from an earlier run). Latency is the API's createdAt → finishedAt per
 * expression; the makespan is the first createdAt → the last finishedAt of the eight.
 *
 *   node bench/dist/silent-agent.js [--quick]
 */
import { compile, evaluatePlan } from '@expressionist/core';
import {
  Api,
  connectSocketAgent,
  sleep,
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

/**
 * `alone`: the honest agent only. `silent`: the silent agent joins, then the honest one, then the
 * eight are submitted. `silent-alone`: the silent agent joins, the eight are submitted while it is
 * alone, and the honest agent process is started once the silent one holds tasks.
 */
export type SilentCase = 'alone' | 'silent' | 'silent-alone';

const CASE_LABELS: Record<SilentCase, string> = {
  alone: 'honest alone',
  silent: 'honest + silent',
  'silent-alone': 'silent alone first',
};

export interface SilentTrial {
  mode: SilentCase;
  /** createdAt → finishedAt per expression, ms. */
  latenciesMs: number[];
  /** First createdAt → last finishedAt, ms. */
  makespanMs: number;
  /** Tasks the silent agent received (0 without one). */
  silentTasks: number;
  /** The silent agent's status at the end (null without one). */
  silentStatus: string | null;
  /** `silent-alone`: the eight submitted → the honest agent seen active, ms (null otherwise). */
  honestJoinedMs: number | null;
}

/**
 * One run on a fresh orchestrator: the honest agent process (and, first, the silent socket agent
 * unless `mode` is `alone`), then the eight expressions at once — or, in `silent-alone`, the
 * eight while the silent agent is alone, and the honest process once it holds tasks. Throws if
 * any value is not exact. `env` overrides the orchestrator's environment (the defaults are the
 * issue's case).
 */
export async function silentTrial(
  mode: SilentCase,
  trial: number,
  env: Record<string, string> = {},
): Promise<SilentTrial> {
  const orchestrator = await spawnOrchestrator({ logLevel: 'warn', env });
  const api = new Api(orchestrator.url);
  const withSilent = mode !== 'alone';
  let silent: AgentSocket | undefined;
  let silentTasks = 0;
  const startHonest = (): ReturnType<typeof spawnAgent> =>
    spawnAgent(orchestrator.url, { concurrency: WORKERS, id: `honest-${trial}`, logLevel: 'warn' });
  let honest = mode === 'silent-alone' ? undefined : startHonest();
  let honestJoinedMs: number | null = null;
  try {
    if (withSilent) {
      silent = await connectSocketAgent(
        orchestrator.url,
        { agentId: `silent-${trial}`, name: 'silent', concurrency: SILENT_SLOTS },
        { tasks: (tasks) => (silentTasks += tasks.length) },
      );
    }
    const sources = silentBenchExpressions();
    let ids: string[];
    if (mode === 'silent-alone') {
      await api.waitForAgents(1, SILENT_SLOTS);
      const submitted = Date.now();
      ids = await Promise.all(sources.map((s) => api.submit(s)));
      for (let waited = 0; silentTasks === 0; waited += 5) {
        if (waited > 10_000) throw new Error('the silent agent got no task in 10 s');
        await sleep(5);
      }
      honest = startHonest();
      // Not waitForAgents(2, …): the silent one may already have stopped being `active`.
      const honestId = `honest-${trial}`;
      while (!(await api.agents()).some((a) => a.id === honestId && a.status === 'active')) {
        if (Date.now() - submitted > 60_000) throw new Error(`${honestId} not registered in 60 s`);
        await sleep(10);
      }
      honestJoinedMs = Date.now() - submitted;
    } else {
      await api.waitForAgents(withSilent ? 2 : 1, WORKERS + (withSilent ? SILENT_SLOTS : 0));
      ids = await Promise.all(sources.map((s) => api.submit(s)));
    }
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
      mode,
      latenciesMs: finished.map((f, i) => f - created[i]!),
      makespanMs: max(finished) - min(created),
      silentTasks,
      silentStatus: silentView?.status ?? null,
      honestJoinedMs,
    };
  } finally {
    silent?.disconnect();
    if (honest) await stopProcess(honest, 'SIGKILL', 5_000);
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
  console.log(
    `silent alone first: the silent agent alone, the eight submitted, the honest process started once the silent one holds tasks (its start-up counts in the makespan)`,
  );
  const modes: SilentCase[] = ['alone', 'silent', 'silent-alone'];
  const trials: SilentTrial[] = [];
  for (let i = 0; i < repeats; i += 1) {
    for (const mode of modes) {
      trials.push(await silentTrial(mode, i));
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
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
        'honest joined ms',
      ],
      trials.map((t, i) => [
        CASE_LABELS[t.mode],
        Math.floor(i / modes.length) + 1,
        min(t.latenciesMs),
        median(t.latenciesMs),
        max(t.latenciesMs),
        t.makespanMs,
        t.mode === 'alone' ? '-' : t.silentTasks,
        t.silentStatus ?? '-',
        t.honestJoinedMs ?? '-',
      ]),
    ),
  );
  const summary = (mode: SilentCase): number[] => {
    const runs = trials.filter((t) => t.mode === mode);
    return [
      median(runs.map((t) => min(t.latenciesMs))),
      median(runs.map((t) => median(t.latenciesMs))),
      median(runs.map((t) => max(t.latenciesMs))),
      median(runs.map((t) => t.makespanMs)),
    ];
  };
  const alone = summary('alone');
  const silent = summary('silent');
  const silentFirst = summary('silent-alone');
  const ratios = (values: number[]): string[] =>
    values.map((v, i) => `${fixed(v / alone[i]!, 2)}×`);
  console.log(`\nmedians over ${repeats} run(s):`);
  console.log(
    table(
      ['case', 'latency min ms', 'median ms', 'max ms', 'makespan ms'],
      [
        [CASE_LABELS.alone, ...alone.map((v) => fixed(v, 0))],
        [CASE_LABELS.silent, ...silent.map((v) => fixed(v, 0))],
        ['ratio', ...ratios(silent)],
        [CASE_LABELS['silent-alone'], ...silentFirst.map((v) => fixed(v, 0))],
        ['ratio', ...ratios(silentFirst)],
      ],
    ),
  );
  const ratio = silent[3]! / alone[3]!;
  console.log(
    `target makespan with a silent agent ≤ ${TARGET_RATIO}× without: ${fixed(ratio, 2)}× ${verdict(ratio <= TARGET_RATIO)}`,
  );
  const firstRatio = silentFirst[3]! / alone[3]!;
  console.log(
    `target makespan with the silent agent alone first ≤ ${TARGET_RATIO}× honest alone: ${fixed(firstRatio, 2)}× ${verdict(firstRatio <= TARGET_RATIO)}`,
  );
}

if (isMain(import.meta.url)) runMain(main);
