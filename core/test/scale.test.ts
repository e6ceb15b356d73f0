/**
 * Size and depth: nothing may recurse in proportion to the input. These inputs would overflow the
 * call stack of any recursive parser, printer, planner or evaluator.
 */
import { describe, expect, it } from 'vitest';
import {
  ExpressionistError,
  compile,
  evaluatePlan,
  normalize,
  parse,
  plan,
  type Plan,
} from '../src/index.js';

function errorOf(fn: () => unknown): ExpressionistError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ExpressionistError);
    return e as ExpressionistError;
  }
  throw new Error('expected an error');
}

function checkTopological(p: Plan): void {
  // One expect at the end: 100,000 expect() calls would dominate the test's run time.
  const bad = p.ops.findIndex(
    (op, i) =>
      op.id !== i || (op.a.kind === 'op' && op.a.id >= i) || (op.b.kind === 'op' && op.b.id >= i),
  );
  expect(bad).toBe(-1);
}

/** `n` operations in groups like `(7*3/2-5)`, joined by `+` and `-`. */
function mixed(n: number): string {
  const parts: string[] = [];
  let ops = 0;
  for (let i = 0; ops < n; i++) {
    if (i > 0) {
      parts.push(i % 3 === 0 ? ' - ' : ' + ');
      ops++;
    }
    const a = (i % 97) + 1;
    const b = (i % 13) + 1;
    const c = (i % 7) + 1;
    if (n - ops >= 3) {
      parts.push(`(${a}*${b}/${c}-${i % 5}.5)`);
      ops += 3;
    } else {
      parts.push(String(a));
    }
  }
  return parts.join('');
}

describe('deep nesting', () => {
  const nested = `${'('.repeat(10_000)}1${')'.repeat(10_000)}`;

  it('10,000 nested parentheses are EXPR_TOO_DEEP by default, at the 1001st', () => {
    const e = errorOf(() => parse(nested));
    expect([e.code, e.position]).toEqual(['EXPR_TOO_DEEP', 1000]);
  });

  it('10,000 nested parentheses give a result when maxDepth is 20,000', () => {
    const c = compile(nested, { maxDepth: 20_000 });
    expect(c.normalized).toBe('1');
    expect(evaluatePlan(c.plan)).toBe('1');
  });

  it('10,000 nested sums flatten into one balanced chain', () => {
    const source = `${'1+('.repeat(10_000)}1${')'.repeat(10_000)}`;
    const c = compile(source, { maxDepth: 20_000 });
    expect(c.plan.ops).toHaveLength(10_000);
    expect(c.plan.criticalPathOps).toBe(14);
    expect(evaluatePlan(c.plan)).toBe('10001');
    expect(normalize(parse(c.normalized, { maxDepth: 20_000 }))).toBe(c.normalized);
  });

  it('10,000 nested differences and quotients', () => {
    const diff = compile(`${'1-('.repeat(10_000)}1${')'.repeat(10_000)}`, { maxDepth: 20_000 });
    expect(evaluatePlan(diff.plan)).toBe('1');
    const quot = compile(`${'2/('.repeat(10_000)}2${')'.repeat(10_000)}`, { maxDepth: 20_000 });
    checkTopological(quot.plan);
    expect(quot.plan.criticalPathOps).toBeLessThanOrEqual(15);
    expect(evaluatePlan(quot.plan)).toBe('2');
  });

  it('alternating + and * nesting cannot be flattened but is still safe', () => {
    const source = `${Array.from({ length: 5000 }, (_, i) => (i % 2 ? '2*(' : '1+(')).join('')}1${')'.repeat(5000)}`;
    const c = compile(source, { maxDepth: 20_000 });
    checkTopological(c.plan);
    expect(c.plan.criticalPathOps).toBe(5000);
    expect(evaluatePlan(c.plan)).toMatch(/^\d\.\d+e\+\d+$/);
  });

  it('10,000 unary minus signs', () => {
    const c = compile(`${'-'.repeat(10_000)}5`, { maxDepth: 20_000 });
    expect(c.plan.root).toEqual({ kind: 'lit', value: '5' });
    expect(errorOf(() => parse(`${'-'.repeat(1001)}5`)).code).toBe('EXPR_TOO_DEEP');
    expect(evaluatePlan(compile(`2*${'-'.repeat(9_999)}(1+2)`, { maxDepth: 20_000 }).plan)).toBe(
      '-6',
    );
  });
});

describe('long inputs', () => {
  it('a flat sum of 100,001 numbers (a left spine 100,000 deep) plans to depth 17', () => {
    const source = Array(100_001).fill('1').join(' + ');
    const ast = parse(source);
    expect(normalize(ast)).toBe(source.replaceAll(' ', ''));
    const p = plan(ast);
    expect(p.ops).toHaveLength(100_000);
    expect(p.criticalPathOps).toBe(17);
    checkTopological(p);
    expect(evaluatePlan(p)).toBe('100001');
  });

  it('100,000 mixed operations with parentheses parse, plan and evaluate', () => {
    const source = mixed(100_000);
    const c = compile(source);
    expect(c.plan.ops).toHaveLength(100_000);
    expect(c.plan.criticalPathOps).toBeLessThanOrEqual(20);
    checkTopological(c.plan);
    expect(evaluatePlan(c.plan)).toMatch(/^-?\d+(\.\d+)?$/);
  });

  it('a 100,000-factor product and a 100,000-divisor quotient', () => {
    const product = compile(Array(100_001).fill('1').join('*'));
    expect(product.plan.criticalPathOps).toBe(17);
    expect(evaluatePlan(product.plan)).toBe('1');
    const quotient = compile(`1${'/1'.repeat(100_000)}`);
    expect(quotient.plan.ops.at(-1)!.divisors).toHaveLength(100_000);
    expect(evaluatePlan(quotient.plan)).toBe('1');
    expect(
      errorOf(() => evaluatePlan(compile(`1${'/1'.repeat(50_000)}/0${'/1'.repeat(50_000)}`).plan))
        .position,
    ).toBe(100_001);
  });

  // How fast these are is measured by the engine bench (`npm run bench -w core`), not asserted
  // here: this machine is shared and a timing assert only tells how busy it was.
  it('a 999,999-character expression is accepted', () => {
    const source = `${'1+'.repeat(499_999)}1`;
    expect(source.length).toBe(999_999);
    const c = compile(source);
    expect(c.plan.criticalPathOps).toBe(19);
    expect(evaluatePlan(c.plan)).toBe('500000');
  });

  it('1 MB inputs that are too long, too deep or wrong fail with the right code and column', () => {
    const long = errorOf(() => parse('1'.repeat(1_000_001)));
    expect([long.code, long.position]).toEqual(['EXPR_TOO_LONG', 1_000_000]);
    const deep = errorOf(() => parse('('.repeat(1_000_000)));
    expect([deep.code, deep.position]).toEqual(['EXPR_TOO_DEEP', 1000]);
    const ws = errorOf(() => parse(' '.repeat(1_000_000)));
    expect(ws.code).toBe('EXPR_EMPTY');
    const late = errorOf(() => parse(`${'1+'.repeat(499_998)}1)`));
    expect([late.code, late.position]).toEqual(['EXPR_UNMATCHED_PAREN', 999_997]);
  });
});
