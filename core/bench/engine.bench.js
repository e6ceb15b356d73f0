// Engine micro-benchmarks: parse + plan of a 100,000-operation expression, execute() throughput,
// and TaskRunner (the agents' execution path) on 0-ms tasks.
// Run after a build: `npm run build && npm run bench -w core` (imports the compiled ../dist).
import { performance } from 'node:perf_hooks';
import { TaskRunner, execute, normalize, parse, plan } from '../dist/index.js';

const RUNS = 7;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** `n` operations: groups like `(7*3/(2-5.5))` joined by `+` and `-`. */
function mixedExpression(n) {
  const parts = [];
  let ops = 0;
  for (let i = 0; ops < n; i++) {
    if (i > 0) {
      parts.push(i % 3 === 0 ? ' - ' : ' + ');
      ops++;
    }
    if (n - ops >= 3) {
      parts.push(`(${(i % 97) + 1}*${(i % 13) + 1}/(${(i % 7) + 1}-${i % 5}.5))`);
      ops += 3;
    } else {
      parts.push(String((i % 97) + 1));
    }
  }
  return parts.join('');
}

function time(fn) {
  const start = performance.now();
  const cpu = process.cpuUsage();
  const value = fn();
  const used = process.cpuUsage(cpu);
  return { value, ms: performance.now() - start, cpuMs: (used.user + used.system) / 1000 };
}

const source = mixedExpression(100_000);
const parseMs = [];
const planMs = [];
const totalMs = [];
const totalCpuMs = [];
const normalizeMs = [];
let result;
for (let i = 0; i < RUNS; i++) {
  const parsed = time(() => parse(source));
  const planned = time(() => plan(parsed.value));
  const normalized = time(() => normalize(parsed.value));
  parseMs.push(parsed.ms);
  planMs.push(planned.ms);
  totalMs.push(parsed.ms + planned.ms);
  totalCpuMs.push(parsed.cpuMs + planned.cpuMs);
  normalizeMs.push(normalized.ms);
  result = planned.value;
}
console.log(
  `expression: ${source.length} characters, ${result.ops.length} operations, critical path ${result.criticalPathOps} ops`,
);
console.log(
  `parse+plan: median ${median(totalMs).toFixed(1)} ms over ${RUNS} runs (first run ${totalMs[0].toFixed(1)} ms; CPU time median ${median(totalCpuMs).toFixed(1)} ms)`,
);
console.log(
  `  parse ${median(parseMs).toFixed(1)} ms, plan ${median(planMs).toFixed(1)} ms, normalize ${median(normalizeMs).toFixed(1)} ms`,
);

const flat = Array(100_001).fill('1').join('+');
const flatMs = [];
for (let i = 0; i < RUNS; i++) flatMs.push(time(() => plan(parse(flat))).ms);
console.log(`flat sum of 100,001 numbers: parse+plan median ${median(flatMs).toFixed(1)} ms`);

const cases = [
  ['small integers', ['+', '-', '*', '/'], ['12', '34', '-7', '1000', '5', '96']],
  ['decimals', ['+', '-', '*'], ['12.5', '0.25', '-3.75', '1000.125', '0.1', '9.99']],
  ['division', ['/'], ['1', '3', '-7.5', '22', '0.7', '9']],
];
for (const [name, ops, values] of cases) {
  const n = 1_000_000;
  const rates = [];
  for (let r = 0; r < 3; r++) {
    const start = performance.now();
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const op = ops[i % ops.length];
      sink += execute(op, values[i % values.length], values[(i + 1) % values.length]).length;
    }
    rates.push(n / ((performance.now() - start) / 1000));
    if (sink === 0) console.log('unreachable');
  }
  console.log(`execute (${name}): ${Math.round(median(rates)).toLocaleString('en-US')} ops/s`);
}

/**
 * 0-ms tasks through one TaskRunner with `slots` worker slots, fed as the orchestrator feeds an
 * agent (2 × slots in flight, a new batch for each batch of results): tasks per CPU-second.
 */
async function runnerRate(slots, total) {
  let fed = 0;
  let done = 0;
  const cpu = process.cpuUsage();
  await new Promise((resolve) => {
    const feed = (k) => {
      const batch = [];
      for (let i = 0; i < k; i++, fed++)
        batch.push({
          taskId: `t${fed.toString(36).padStart(20, '0')}`,
          attempt: 1,
          op: '+',
          a: String(fed),
          b: '1',
          durationMs: 0,
        });
      runner.accept(batch);
    };
    const runner = new TaskRunner({
      concurrency: slots,
      send: (results) => {
        done += results.length;
        if (done >= total) resolve();
        else feed(results.length);
      },
    });
    feed(2 * slots);
  });
  const used = process.cpuUsage(cpu);
  return total / ((used.user + used.system) / 1e6);
}
for (const slots of [4, 256]) {
  const rates = [];
  for (let r = 0; r < RUNS; r++) rates.push(await runnerRate(slots, 200_000));
  console.log(
    `TaskRunner, ${slots} slots, 0-ms tasks: ${Math.round(median(rates)).toLocaleString('en-US')} tasks per CPU-second (median of ${RUNS})`,
  );
}
