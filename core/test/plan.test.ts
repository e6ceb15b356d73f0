import { describe, expect, it } from 'vitest';
import {
  ExpressionistError,
  compile,
  criticalPathMs,
  durationOf,
  evaluatePlan,
  findZeroDivisor,
  makespanLowerBound,
  parse,
  plan,
  totalWorkMs,
  zeroDivisorPosition,
  type Operand,
  type OperatorDurations,
  type Plan,
} from '../src/index.js';

const planOf = (source: string): Plan => plan(parse(source));

/** Ops as `a op b` strings with `#id` references, for readable assertions. */
function listing(p: Plan): string[] {
  const show = (o: Operand): string => (o.kind === 'lit' ? o.value : `#${o.id}`);
  return p.ops.map((op) => `${show(op.a)}${op.op}${show(op.b)}`);
}

function divZeroAt(source: string): number | undefined {
  try {
    evaluatePlan(planOf(source));
  } catch (e) {
    expect(e).toBeInstanceOf(ExpressionistError);
    expect((e as ExpressionistError).code).toBe('EXPR_DIV_ZERO');
    return (e as ExpressionistError).position;
  }
  return undefined;
}

function checkInvariants(p: Plan): void {
  p.ops.forEach((op, i) => {
    expect(op.id).toBe(i);
    let depth = 0;
    for (const o of [op.a, op.b]) {
      if (o.kind === 'op') {
        expect(o.id).toBeLessThan(i);
        depth = Math.max(depth, p.ops[o.id]!.depth);
      }
    }
    expect(op.depth).toBe(depth + 1);
  });
  expect(p.criticalPathOps).toBe(Math.max(0, ...p.ops.map((op) => op.depth)));
  if (p.ops.length > 0) expect(p.root).toEqual({ kind: 'op', id: p.ops.length - 1 });
}

describe('plan: tree-height reduction', () => {
  it('a flat sum of 64 numbers has depth 6', () => {
    const p = planOf(Array.from({ length: 64 }, (_, i) => i + 1).join(' + '));
    checkInvariants(p);
    expect(p.ops).toHaveLength(63);
    expect(p.criticalPathOps).toBe(6);
    expect(evaluatePlan(p)).toBe(String((64 * 65) / 2));
  });

  it('a-b-c+d becomes (a+d)-(b+c)', () => {
    const p = planOf('1-2-3+4');
    checkInvariants(p);
    expect(listing(p)).toEqual(['1+4', '2+3', '#0-#1']);
    expect(p.criticalPathOps).toBe(2);
    expect(evaluatePlan(p)).toBe('0');
  });

  it('flattens through parentheses and unary minus', () => {
    // a-(b-c) = a-b+c; -(x+y) flips both terms.
    expect(listing(planOf('1-(2-3)'))).toEqual(['1+3', '#0-2']);
    // +10 -1 -2 -3 -4: five terms, depth 3 (the optimum), one op per operator.
    expect(listing(planOf('10-(1+2)-(3+4)'))).toEqual(['10-1', '2+3', '#1+4', '#0-#2']);
    expect(evaluatePlan(planOf('10-(1+2)-(3+4)'))).toBe('0');
  });

  it('pairs the shallowest subtrees first when terms have different depths', () => {
    // 2*3*4*5 has depth 2; the three single numbers pair up while it is built.
    const p = planOf('2*3*4*5 + 1 + 1 + 1');
    checkInvariants(p);
    expect(p.criticalPathOps).toBe(3);
    expect(evaluatePlan(p)).toBe('123');
  });

  it('product and quotient chains: one numerator, one denominator, one division', () => {
    const p = planOf('2*3/4/5*6');
    checkInvariants(p);
    expect(listing(p)).toEqual(['2*3', '#0*6', '4*5', '#1/#2']);
    expect(p.ops[3]!.divisors).toEqual([
      { operand: { kind: 'lit', value: '4' }, slashPos: 3 },
      { operand: { kind: 'lit', value: '5' }, slashPos: 5 },
    ]);
    expect(evaluatePlan(p)).toBe('1.8');
  });

  it('divides once, so 1/3*3 is exactly 1 (left to right would give 0.99…9)', () => {
    expect(listing(planOf('1/3*3'))).toEqual(['1*3', '#0/3']);
    expect(evaluatePlan(planOf('1/3*3'))).toBe('1');
  });

  it('a/(b/c) multiplies c into the numerator and still lists it as a divisor', () => {
    const p = planOf('8/(4/2)');
    expect(listing(p)).toEqual(['8*2', '#0/4']);
    expect(p.ops[1]!.divisors).toEqual([
      { operand: { kind: 'lit', value: '2' }, slashPos: 4 },
      { operand: { kind: 'lit', value: '4' }, slashPos: 1 },
    ]);
    expect(evaluatePlan(p)).toBe('4');
  });

  it('a 100-factor product has depth 7', () => {
    const p = planOf(Array(100).fill('1.5').join('*'));
    checkInvariants(p);
    expect(p.criticalPathOps).toBe(7);
  });

  it('mixed chains nest: each chain is balanced on its own', () => {
    const p = planOf('(1+2+3+4)*(5+6+7+8)/(9-1)');
    checkInvariants(p);
    expect(p.criticalPathOps).toBe(4);
    expect(evaluatePlan(p)).toBe('32.5');
  });

  it('spans cover the sub-expression; a chain’s last op spans the whole chain', () => {
    const p = planOf('(1 + 2) * 3');
    expect(p.ops.map((op) => op.span)).toEqual([
      { start: 0, end: 7 },
      { start: 0, end: 11 },
    ]);
    expect(p.ops.map((op) => op.opPos)).toEqual([3, 8]);
  });

  it('a regrouped op stands for the first operator among its terms', () => {
    const p = planOf('1 - 2 - 3 + 4');
    // 1+4 stands for the '+' at 10, 2+3 for the '-' at 6, the root for the first '-' at 2.
    expect(p.ops.map((op) => op.opPos)).toEqual([10, 6, 2]);
  });
});

describe('plan: unary signs are free', () => {
  it.each([
    ['42', '42'],
    ['-3', '-3'],
    ['-(3)', '-3'],
    ['((7))', '7'],
    ['--3', '3'],
    ['+4', '4'],
    ['-0', '0'],
    ['-(-(-2.5))', '-2.5'],
  ])('%s is the literal %s with no ops', (source, value) => {
    const p = planOf(source);
    expect(p.ops).toEqual([]);
    expect(p.root).toEqual({ kind: 'lit', value });
    expect(p.criticalPathOps).toBe(0);
    expect(evaluatePlan(p)).toBe(value);
  });

  it.each([
    ['2*-3', ['2*-3'], '-6'],
    ['-3+5', ['-3+5'], '2'],
    ['2--3', ['2+3'], '5'],
    ['-(2+3)', ['-2-3'], '-5'],
    ['-(2*(3+4))', ['3+4', '-2*#0'], '-14'],
    ['-((1+2)*(3+4))', ['-1-2', '3+4', '#0*#1'], '-21'],
    ['-(2*3+4*5)', ['-2*3', '4*5', '#0-#1'], '-26'],
    ['1-(-(2*3))', ['2*3', '1+#0'], '7'],
    ['-(1/(2+3))', ['2+3', '-1/#0'], '-0.2'],
  ])('%s plans as %j = %s', (source, ops, value) => {
    const p = planOf(source);
    checkInvariants(p);
    expect(listing(p)).toEqual(ops);
    expect(evaluatePlan(p)).toBe(value);
  });

  it('a plan has exactly one op per binary operator', () => {
    for (const source of ['-(-(1+2)*-(3-4))/-(5)', '-1-2-3-4', '-(1*2*3)-(4/5)', '1*-(2+-3)']) {
      const binaries = (source.replace(/(^|[-+*/(])\s*[-+]+/g, '$1').match(/[-+*/]/g) ?? []).length;
      expect(planOf(source).ops).toHaveLength(binaries);
    }
  });
});

describe('division by zero', () => {
  it('1/2/(3-3) reports the second /', () => {
    expect(divZeroAt('1/2/(3-3)')).toBe(3);
    const p = planOf('1/2/(3-3)');
    const values = new Map<number, string>([[0, '0']]);
    const valueOf = (o: Operand): string => (o.kind === 'lit' ? o.value : values.get(o.id)!);
    const last = p.ops[p.ops.length - 1]!;
    expect(zeroDivisorPosition(last, valueOf)).toBe(3);
    expect(findZeroDivisor(last, valueOf)).toBe(3);
  });

  it.each([
    ['1/0', 1],
    ['1 / (2 - 2) + 5', 2],
    ['8/(4/0)', 4],
    ['8/(0/4)', 1],
    ['8/(0/0)', 4],
    ['1/(2/(3/0))', 7],
    ['(2/0)*(1/0)', 2],
    ['2*(3-3)/4/0', 9],
    ['1/-0', 1],
    ['5 - 1/(1-1)', 5],
  ])('%s → column %i', (source, column) => {
    expect(divZeroAt(source)).toBe(column);
  });

  it('a zero that regrouping moved into a numerator is still a zero divisor', () => {
    // 8/(4/0) computes (8*0)/4: b is 4, yet the expression divides by zero.
    const p = planOf('8/(4/0)');
    const last = p.ops[p.ops.length - 1]!;
    expect(last.b).toEqual({ kind: 'lit', value: '4' });
    const valueOf = (o: Operand): string => (o.kind === 'lit' ? o.value : '0');
    expect(findZeroDivisor(last, valueOf)).toBe(4);
  });

  it('findZeroDivisor is undefined for non-zero divisors and non-division ops', () => {
    const p = planOf('1/2+3');
    const valueOf = (o: Operand): string => (o.kind === 'lit' ? o.value : '0.5');
    expect(findZeroDivisor(p.ops[0]!, valueOf)).toBeUndefined();
    expect(findZeroDivisor(p.ops[1]!, valueOf)).toBeUndefined();
  });

  it('falls back to the op’s own column when a hand-made op has no divisor list', () => {
    const op = {
      id: 0,
      op: '/' as const,
      a: lit('1'),
      b: lit('0'),
      span: { start: 0, end: 3 },
      opPos: 1,
      depth: 1,
    };
    expect(zeroDivisorPosition(op, (o) => (o.kind === 'lit' ? o.value : '0'))).toBe(1);
  });
});

function lit(value: string): Operand {
  return { kind: 'lit', value };
}

describe('timing bounds', () => {
  const d: OperatorDurations = {
    additionMs: 200,
    subtractionMs: 300,
    multiplicationMs: 1000,
    divisionMs: 2000,
  };

  it('durationOf maps operators to settings', () => {
    expect(['+', '-', '*', '/'].map((op) => durationOf(op as '+', d))).toEqual([
      200, 300, 1000, 2000,
    ]);
  });

  it('critical path, total work and the makespan bound', () => {
    const p = planOf('(1+2)*(3-4)');
    expect(criticalPathMs(p, d)).toBe(1300);
    expect(totalWorkMs(p, d)).toBe(1500);
    expect(makespanLowerBound(p, d, 1)).toBe(1500);
    expect(makespanLowerBound(p, d, 2)).toBe(1300);
    expect(makespanLowerBound(p, d, 0)).toBe(Infinity);
  });

  it('a literal takes no time', () => {
    const p = planOf('42');
    expect([criticalPathMs(p, d), totalWorkMs(p, d), makespanLowerBound(p, d, 0)]).toEqual([
      0, 0, 0,
    ]);
  });

  it('balancing shortens the critical path of a long sum', () => {
    const p = planOf(Array(1024).fill('1').join('+'));
    expect(criticalPathMs(p, d)).toBe(10 * 200);
    expect(totalWorkMs(p, d)).toBe(1023 * 200);
  });
});

describe('compile', () => {
  it('returns the tree, the plan and the cache key', () => {
    const c = compile(' ( 2 + 3 ) * (4 - 1) / 7 ');
    expect(c.normalized).toBe('(2+3)*(4-1)/7');
    expect(c.ast.kind).toBe('bin');
    expect(evaluatePlan(c.plan)).toBe('2.142857142857142857142857142857142857143');
  });

  it('returns literal results in canonical form', () => {
    expect(evaluatePlan(compile(`0.${'0'.repeat(40)}1`).plan)).toBe('1e-41');
    expect(evaluatePlan(compile('1.50').plan)).toBe('1.5');
  });

  it('passes limits to the parser', () => {
    expect(() => compile('((1))', { maxDepth: 1 })).toThrow(ExpressionistError);
  });
});
