/**
 * Bench 1 — makespan vs the physical bound. Each expression runs alone on P worker slots (real
 * agent-node processes, 4 workers each) with every operator taking 50 ms; the measured makespan
 * (the API's startedAt → finishedAt) is divided by the plan's lower bound
 * `makespanLowerBound(plan, durations, P)` = max(critical path, total work / P).
 *
 *   node bench/dist/makespan.js [--quick]
 */
import {
  compile,
  criticalPathMs,
  evaluatePlan,
  makespanLowerBound,
  type OperatorDurations,
} from '@expressionist/core';
import type { Api } from '@expressionist/testkit';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { startCluster } from './lib/cluster.js';
import { KIND_LABELS, generate, type ExpressionKind } from './lib/expressions.js';
import { fixed, heading, int, table, verdict } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { listScheduleMakespan } from './lib/schedule.js';
import { max, median } from './lib/stats.js';

export const uniformDurations = (ms: number): OperatorDurations => ({
  additionMs: ms,
  subtractionMs: ms,
  multiplicationMs: ms,
  divisionMs: ms,
});

export interface MakespanResult {
  expression: string;
  ops: number;
  slots: number;
  criticalPathMs: number;
  /** `makespanLowerBound(plan, durations, slots)`. */
  boundMs: number;
  /** Best possible schedule with zero overhead (highest level first; optimal here). */
  optimumMs: number;
  /** The orchestrator's ready order (FIFO) with zero overhead. */
  fifoMs: number;
  /** startedAt → finishedAt as reported by the API. */
  makespanMs: number;
  /** createdAt → finishedAt (adds parsing, storing and the first dispatch). */
  submitToDoneMs: number;
  ratio: number;
  ratioToOptimum: number;
  expected: string;
  value: string | null;
  status: string;
  correct: boolean;
}

/**
 * Submits one expression, waits for it, and compares its makespan with the plan's bounds. The
 * orchestrator must have exactly `slots` free worker slots and all durations set to `opMs`.
 */
export async function measureMakespan(
  api: Api,
  expression: string,
  slots: number,
  opMs: number,
): Promise<MakespanResult> {
  const { plan } = compile(expression, { maxLength: 10_000_000, maxDepth: 100_000 });
  const durations = uniformDurations(opMs);
  const expected = evaluatePlan(plan);
  const boundMs = makespanLowerBound(plan, durations, slots);
  const id = await api.submit(expression);
  const view = await api.finished(id, Math.max(60_000, boundMs * 20));
  const started = Date.parse(view.startedAt ?? view.createdAt);
  const finished = Date.parse(view.finishedAt ?? view.createdAt);
  const makespanMs = finished - started;
  const optimumMs = listScheduleMakespan(plan, durations, slots, 'hlf');
  const fifoMs = listScheduleMakespan(plan, durations, slots, 'fifo');
  return {
    expression,
    ops: plan.ops.length,
    slots,
    criticalPathMs: criticalPathMs(plan, durations),
    boundMs,
    optimumMs,
    fifoMs,
    makespanMs,
    submitToDoneMs: finished - Date.parse(view.createdAt),
    ratio: makespanMs / boundMs,
    ratioToOptimum: makespanMs / optimumMs,
    expected,
    value: view.value,
    status: view.status,
    correct: view.status === 'done' && view.value === expected,
  };
}

interface Case {
  kind: ExpressionKind;
  terms: number;
}

function cases(quick: boolean): Case[] {
  const list: Case[] = [];
  const flatSizes = quick ? [16, 64] : [16, 64, 256, 1024];
  const treeSizes = quick ? [16, 64] : [16, 64, 256];
  for (const kind of ['sum', 'product'] as const)
    for (const terms of flatSizes) list.push({ kind, terms });
  for (const kind of ['balanced', 'random', 'mixed'] as const)
    for (const terms of treeSizes) list.push({ kind, terms });
  return list;
}

const OP_MS = 50;
const WORKERS_PER_AGENT = 4;

export async function main(): Promise<void> {
  const { quick } = benchArgs();
  heading('Bench 1: makespan vs the physical bound');
  console.log(describeMachine());
  console.log(
    `every operator ${OP_MS} ms; P = 4, 8, 16 slots = 1, 2, 4 agent-node processes × ${WORKERS_PER_AGENT} workers; one expression at a time${quick ? ' (--quick)' : ''}`,
  );
  console.log(
    'ratio = measured makespan (startedAt → finishedAt) / makespanLowerBound(plan, durations, P)',
  );
  console.log(
    "optimum = zero-overhead highest-level-first schedule (optimal for these in-trees); fifo = zero-overhead schedule in the orchestrator's ready order",
  );
  const cluster = await startCluster({
    agents: 1,
    workersPerAgent: WORKERS_PER_AGENT,
    opMs: OP_MS,
  });
  const results: (MakespanResult & Case)[] = [];
  try {
    for (const agentCount of [1, 2, 4]) {
      await cluster.scale(agentCount);
      const slots = cluster.slots;
      // Warm-up (JIT, connections), not recorded.
      await measureMakespan(cluster.api, generate('mixed', 32, `warmup-${slots}`), slots, OP_MS);
      for (const c of cases(quick)) {
        const result = await measureMakespan(
          cluster.api,
          generate(c.kind, c.terms, `P${slots}`),
          slots,
          OP_MS,
        );
        results.push({ ...result, ...c });
        process.stdout.write('.');
      }
    }
  } finally {
    process.stdout.write('\n');
    await cluster.stop();
  }
  console.log(
    table(
      [
        'expression',
        'terms',
        'ops',
        'P',
        'crit. path ms',
        'bound ms',
        'optimum ms',
        'fifo ms',
        'measured ms',
        'ratio',
        'measured/fifo',
        'submit→done ms',
        'value',
      ],
      results.map((r) => [
        KIND_LABELS[r.kind],
        r.terms,
        r.ops,
        r.slots,
        int(r.criticalPathMs),
        int(r.boundMs),
        int(r.optimumMs),
        int(r.fifoMs),
        int(r.makespanMs),
        fixed(r.ratio, 3),
        fixed(r.makespanMs / r.fifoMs, 3),
        int(r.submitToDoneMs),
        r.correct ? 'ok' : `WRONG (${r.status} ${r.value ?? ''})`,
      ]),
    ),
  );
  const ratios = results.map((r) => r.ratio);
  const worst = results.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  const medianRatio = median(ratios);
  const summary = (label: string, values: number[]): string =>
    `${label}: median ${fixed(median(values), 3)}, worst ${fixed(max(values), 3)}`;
  console.log(
    `\n${summary('measured / lower bound', ratios)} (${KIND_LABELS[worst.kind]} of ${worst.terms} terms, P=${worst.slots})`,
  );
  console.log('  where it goes (the three factors multiply to the ratio):');
  console.log(
    `  ${summary(
      'optimum / lower bound (no schedule beats this)',
      results.map((r) => r.optimumMs / r.boundMs),
    )}`,
  );
  console.log(
    `  ${summary(
      'fifo / optimum (cost of the FIFO ready order)',
      results.map((r) => r.fifoMs / r.optimumMs),
    )}`,
  );
  console.log(
    `  ${summary(
      'measured / fifo (system overhead: timers, messages, storage)',
      results.map((r) => r.makespanMs / r.fifoMs),
    )}`,
  );
  console.log(`target median ratio ≤ 1.10: ${verdict(medianRatio <= 1.1)}`);
  const wrong = results.filter((r) => !r.correct).length;
  if (wrong > 0) throw new Error(`${wrong} expression(s) finished with a wrong value or status`);
}

if (isMain(import.meta.url)) runMain(main);
