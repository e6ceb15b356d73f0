import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ExpressionistError, compile, type Operand, type ParseLimits } from '@expressionist/core';
import { api } from '@expressionist/testkit';
import { PlanPool, PlanWorkerError, type Compiled } from '../src/scheduler/plan-pool.js';
import { ObjectPlan } from '../src/scheduler/plan-source.js';
import { startTestOrchestrator } from './in-process.js';

const LIMITS: ParseLimits = { maxLength: 1_000_000, maxDepth: 1000 };
const MEGABYTE_SUM = `${'1+'.repeat(499_999)}1`; // 999,999 characters

/**
 * A compiled plan in comparable form: core's `Plan` read through the pool's `PlanSource` (every
 * op, root, critical path) and the literal zero divisor intake checks (the worker finds it).
 */
function comparable({ plan, normalized }: Compiled): string {
  const ops = Array.from({ length: plan.size }, (_, id) => plan.op(id));
  const ref = (o: Operand): number => (o.kind === 'op' ? o.id : -1);
  const misread = ops.filter(
    (op) =>
      plan.operator(op.id) !== op.op ||
      plan.input(op.id, 0) !== ref(op.a) ||
      plan.input(op.id, 1) !== ref(op.b),
  );
  expect(misread.map((op) => op.id).slice(0, 5)).toEqual([]);
  return JSON.stringify({
    plan: { ops, root: plan.root, criticalPathOps: plan.criticalPathOps },
    normalized,
    zeroDivisor: plan.literalZeroDivisor() ?? null,
  });
}

const inThreadPlan = (source: string): string => {
  const { plan, normalized } = compile(source, LIMITS);
  return comparable({ plan: new ObjectPlan(plan), normalized });
};

/** What `compile` gives in-thread, or the error it throws, in comparable form. */
function inThread(source: string): string {
  try {
    return inThreadPlan(source);
  } catch (err) {
    if (!(err instanceof ExpressionistError)) throw err;
    return JSON.stringify({ code: err.code, message: err.message, position: err.position });
  }
}

async function onWorker(pool: PlanPool, source: string): Promise<string> {
  try {
    return comparable(await pool.compile(source));
  } catch (err) {
    if (!(err instanceof ExpressionistError)) throw err;
    return JSON.stringify({ code: err.code, message: err.message, position: err.position });
  }
}

describe('PlanPool', () => {
  // Threshold 1: every expression of the corpus goes to a worker.
  const pool = new PlanPool({ limits: LIMITS, threshold: 1, workers: 2 });
  afterAll(() => pool.close());

  const corpus: [string, string][] = [
    ['a literal', '42'],
    ['a negative literal', '-3.5'],
    ['precedence', '2+2*2'],
    ['regrouped signs', '1-(2-3)-(-(4+5))*-6'],
    ['divisions with divisors', '8/(2/0.5)/4*3/(1-1+2)'],
    ['a literal zero divisor', '7/(3*0)'],
    ['a zero divisor moved into a numerator', '1+8/(2/0)*3'],
    ['deep parentheses', `${'('.repeat(900)}1+2${')'.repeat(900)}*3`],
    ['long decimals', '123456789012345678901234567890.5*-0.000000000001/7'],
    ['whitespace', '  1 +\t2 *\n( 3 - 4 )  '],
    ['a 1 MB sum', MEGABYTE_SUM],
    ['a 1 MB mix', `${'(1.5*2-3/4)+'.repeat(83_333)}1`],
    ['an empty expression', '   '],
    ['an unexpected token', '2 * (3 + )'],
    ['an unexpected character', '2 $ 3'],
    ['an unclosed parenthesis', '((1+2)'],
    ['a bad number', '1.2.3+4'],
    ['too deep', `${'('.repeat(1001)}1${')'.repeat(1001)}`],
    ['too long', `${MEGABYTE_SUM}+1`],
    ['a parse error at the end of 1 MB', `${MEGABYTE_SUM}+`],
  ];
  for (const [name, source] of corpus) {
    it(`gives what compile gives in-thread: ${name}`, async () => {
      const expected = inThread(source);
      const actual = await onWorker(pool, source);
      expect(actual.length).toBe(expected.length);
      expect(actual === expected, actual.slice(0, 300)).toBe(true);
    });
  }

  if (process.platform !== 'linux')
    console.log('plan-pool: the thread-priority test skipped: it reads /proc (Linux only)');
  it.runIf(process.platform === 'linux')(
    'plans at a lower priority than the event loop (Linux: a nice value per thread)',
    async () => {
      await pool.compile('1+2');
      // Nice values of this process's threads (field 19 of /proc/self/task/<tid>/stat).
      const nice = (tid: string): number =>
        Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
      const threads = readdirSync('/proc/self/task');
      expect(nice(String(process.pid))).toBe(0); // the main thread: the event loop
      expect(threads.map(nice)).toContain(10); // the planning workers
    },
  );

  it('keeps expressions below the threshold on the main thread', async () => {
    const inline = new PlanPool({ limits: LIMITS, threshold: 100 });
    expect(inline.offloads('1+2')).toBe(false);
    expect(inline.offloads(MEGABYTE_SUM)).toBe(true);
    expect(comparable(await inline.compile('1+2'))).toBe(inThreadPlan('1+2'));
    await inline.close();
  });

  it('fails the submissions of a worker that dies and replaces it', async () => {
    // A real death: planning 1 MB needs far more than a 16 MB heap, so the worker runs out of
    // memory and is terminated by Node.
    const small = new PlanPool({ limits: LIMITS, threshold: 1, workers: 1, maxHeapMb: 16 });
    try {
      await expect(small.compile(MEGABYTE_SUM)).rejects.toBeInstanceOf(PlanWorkerError);
      expect(comparable(await small.compile('1+2*3'))).toBe(inThreadPlan('1+2*3'));
    } finally {
      await small.close();
    }
  });
});

describe('POST /api/v1/calculate with a plan pool', () => {
  it('answers through a worker exactly as in-thread: value, parse errors', async () => {
    const orch = await startTestOrchestrator({ PLAN_WORKER_THRESHOLD: '5' });
    try {
      const client = api(orch.url);
      const ok = await client.call('POST', '/api/v1/calculate', { expression: '2 + 2 * 2' });
      expect(ok.status).toBe(201);
      const view = await client.expression(ok.body.id as string);
      expect(view.expression).toBe('2 + 2 * 2');
      expect(view.progress).toEqual({ done: 0, total: 2 });
      const bad = await client.call('POST', '/api/v1/calculate', { expression: '2 * (3 + )' });
      expect(bad.status).toBe(422);
      expect(bad.body.error).toMatchObject({ code: 'EXPR_UNEXPECTED_TOKEN', position: 9 });
      const zero = await client.call('POST', '/api/v1/calculate', { expression: '7 / (3 * 0)' });
      expect(zero.status).toBe(201);
    } finally {
      await orch.close();
    }
  });
});
