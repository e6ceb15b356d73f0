import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DIVISION_PRECISION,
  ExpressionistError,
  MAX_RESULT_DIGITS,
  canonicalDecimal,
  decimalEquals,
  execute,
  formatDecimal,
  isZero,
  toJsonNumber,
  withinFloatRounding,
  type Operator,
} from '../src/index.js';
import {
  add,
  div,
  eq,
  mul,
  rat,
  roundSignificant,
  sub,
  terminates,
  type Rational,
} from '@expressionist/testkit/rational';

/**
 * `execute` against the exact rational reference: canonical text; exact for `+ - *`; division
 * correctly rounded to DIVISION_PRECISION significant digits (and exact when it terminates
 * within 30 digits); division by zero a typed error.
 */
function expectMatchesReference(o: Operator, a: string, b: string): void {
  const x = rat(a);
  const y = rat(b);
  if (o === '/' && y.n === 0n) {
    expect(() => execute(o, a, b)).toThrow(ExpressionistError);
    return;
  }
  const result = execute(o, a, b);
  expect(canonicalDecimal(result)).toBe(result);
  const exact: Rational =
    o === '+' ? add(x, y) : o === '-' ? sub(x, y) : o === '*' ? mul(x, y) : div(x, y);
  expect(rat(result)).toEqual(o === '/' ? roundSignificant(exact, DIVISION_PRECISION) : exact);
  if (terminates(exact) && exact.n.toString().replace('-', '').length <= 30) {
    expect(eq(rat(result), exact)).toBe(true);
  }
}

describe('execute', () => {
  it.each<[Operator, string, string, string]>([
    ['+', '0.1', '0.2', '0.3'],
    ['+', '100000000000000000000', '1', '100000000000000000001'],
    ['*', '0.000001', '0.000001', '0.000000000001'],
    ['/', '1', '3', '0.3333333333333333333333333333333333333333'],
    ['/', '2', '4', '0.5'],
    ['/', '10', '4', '2.5'],
    ['*', '-0', '5', '0'],
    ['-', '5', '5', '0'],
    ['-', '0.3', '0.1', '0.2'],
    ['*', '-2', '3', '-6'],
    ['/', '-6', '3', '-2'],
    ['/', '-1', '3', '-0.3333333333333333333333333333333333333333'],
    ['/', '2', '3', '0.6666666666666666666666666666666666666667'],
    ['+', '1e-40', '1e40', `1${'0'.repeat(40)}.${'0'.repeat(39)}1`],
    ['*', '9007199254740993', '1', '9007199254740993'],
    ['*', '999999999999999', '999999999999999', '999999999999998000000000000001'],
    ['+', '999999999999999', '999999999999999', '1999999999999998'],
    ['-', '1.50', '0.5', '1'],
  ])('%s %s %s = %s', (op, a, b, expected) => {
    expect(execute(op, a, b)).toBe(expected);
  });

  it(`rounds quotients to ${DIVISION_PRECISION} significant digits, half to even`, () => {
    const q = execute('/', '1', '7');
    expect(q.replace(/^0\.|\./g, '').length).toBe(DIVISION_PRECISION);
    // 1/8 = 0.125 exactly: no rounding at all. 2^-200 needs 61 significant digits: rounded.
    expect(execute('/', '1', '8')).toBe('0.125');
    expect(execute('/', '123456789012345678901234567890123456789012345', '1')).toBe(
      `${'1234567890'.repeat(4)}00000`,
    );
    expect(execute('/', '1e100', '3')).toBe('3.333333333333333333333333333333333333333e+99');
    // ...45 → ties to even at the 40th digit: 0.5 rounds down on an even digit.
    expect(execute('/', `1${'0'.repeat(39)}5`, '10')).toBe(`1${'0'.repeat(39)}`);
    expect(execute('/', `1${'0'.repeat(38)}15`, '10')).toBe(`1${'0'.repeat(38)}2`);
  });

  it('is exact for + - * however long the result', () => {
    const a = '123456789'.repeat(20);
    const b = `0.${'987654321'.repeat(20)}`;
    expect(rat(execute('*', a, b))).toEqual(mul(rat(a), rat(b)));
    expect(rat(execute('+', a, b))).toEqual(add(rat(a), rat(b)));
    expect(rat(execute('-', b, a))).toEqual(sub(rat(b), rat(a)));
  });

  it('takes exponent notation inputs', () => {
    expect(execute('*', '1e-40', '1e40')).toBe('1');
    expect(execute('+', '1.5e+60', '1')).toBe(`15${'0'.repeat(58)}1`);
    expect(execute('+', '1.5e+61', '1')).toBe(`1.5${'0'.repeat(59)}1e+61`);
    expect(execute('*', '2e60', '5')).toBe('1e+61');
  });

  it('throws EXPR_DIV_ZERO without a position', () => {
    for (const zero of ['0', '-0', '0.000', '0e10']) {
      try {
        execute('/', '1', zero);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ExpressionistError);
        expect((e as ExpressionistError).code).toBe('EXPR_DIV_ZERO');
        expect((e as ExpressionistError).position).toBeUndefined();
      }
    }
  });

  it('rejects what is not a decimal string', () => {
    for (const bad of ['', 'abc', 'Infinity', 'NaN', '0x10', '1..2', '+1', ' 1']) {
      expect(() => execute('+', bad, '1')).toThrow(RangeError);
    }
  });

  it(`refuses results longer than ${MAX_RESULT_DIGITS} digits instead of hanging`, () => {
    // A deterministic failure with its own code, so the orchestrator fails the expression at once
    // instead of retrying an operation that can never succeed.
    for (const run of [
      () => execute('+', '1e999999999', '1'),
      () => execute('*', '9'.repeat(60_000), '9'.repeat(60_000)),
    ]) {
      expect(run).toThrow(ExpressionistError);
      try {
        run();
      } catch (err) {
        expect((err as ExpressionistError).code).toBe('EXPR_RESULT_TOO_LARGE');
      }
    }
  });

  it('agrees with an exact rational reference (property)', () => {
    const decimal = fc
      .tuple(
        fc.boolean(),
        fc.bigInt({ min: 0n, max: 10n ** 30n }),
        fc.integer({ min: -40, max: 40 }),
      )
      .map(([negative, digits, exp]) => `${negative ? '-' : ''}${digits}e${exp}`);
    const op = fc.constantFrom<Operator>('+', '-', '*', '/');
    fc.assert(fc.property(op, decimal, decimal, expectMatchesReference), { numRuns: 2000 });
  });
});

describe('execute fast path (plain decimals of up to 15 digits)', () => {
  const plain = fc
    .tuple(
      fc.boolean(),
      fc.stringMatching(/^[0-9]{1,10}$/),
      fc.option(fc.stringMatching(/^[0-9]{1,8}$/), { nil: undefined }),
    )
    .map(
      ([negative, int, frac]) =>
        `${negative ? '-' : ''}${int}${frac === undefined ? '' : `.${frac}`}`,
    );
  const op = fc.constantFrom<Operator>('+', '-', '*', '/');

  it('agrees with the exact reference and gives canonical text (property)', () => {
    fc.assert(fc.property(op, plain, plain, expectMatchesReference), { numRuns: 5000 });
  });

  it.each<[Operator, string, string, string]>([
    [
      '/',
      '0.000000000000001',
      '999999999999999',
      '0.000000000000000000000000000001000000000000001000000000000001',
    ],
    ['/', '999999999999999', '0.000000000000001', '999999999999999000000000000000'],
    ['/', '22', '7', '3.142857142857142857142857142857142857143'],
    ['/', '-1', '7', '-0.1428571428571428571428571428571428571429'],
    ['*', '0.5', '0.2', '0.1'],
    ['-', '0.1', '0.1', '0'],
    ['+', '-0.5', '0.25', '-0.25'],
    ['*', '99999999.9999999', '99999999.9999999', '9999999999999980.00000000000001'],
  ])('%s %s %s = %s', (o, a, b, expected) => {
    expect(execute(o, a, b)).toBe(expected);
  });
});

describe('formatDecimal', () => {
  it.each([
    ['1.50', '1.5'],
    ['-0', '0'],
    ['-0.000', '0'],
    ['1e-30', `0.${'0'.repeat(29)}1`],
    ['1e-31', '1e-31'],
    ['1e-40', '1e-40'],
    ['-2.5e-35', '-2.5e-35'],
    ['1e60', `1${'0'.repeat(60)}`],
    ['1e61', '1e+61'],
    ['123.456e60', '1.23456e+62'],
    ['0.000000000001', '0.000000000001'],
    ['100', '100'],
  ])('%s → %s', (input, expected) => {
    expect(formatDecimal(new Decimal(input))).toBe(expected);
    expect(canonicalDecimal(input)).toBe(expected);
  });

  it('refuses non-finite values', () => {
    expect(() => formatDecimal(new Decimal(Infinity))).toThrow(RangeError);
  });
});

describe('helpers', () => {
  it('isZero and decimalEquals compare values, not text', () => {
    expect(isZero('0')).toBe(true);
    expect(isZero('-0.00e5')).toBe(true);
    expect(isZero('1e-400')).toBe(false);
    expect(decimalEquals('1.50', '1.5')).toBe(true);
    expect(decimalEquals('1e2', '100.0')).toBe(true);
    expect(decimalEquals('0.1', '0.10000000000000001')).toBe(false);
  });

  it('toJsonNumber gives the nearest float64, never -0', () => {
    expect(toJsonNumber('0.1')).toBe(0.1);
    expect(toJsonNumber('-12.5')).toBe(-12.5);
    expect(Object.is(toJsonNumber('-0'), 0)).toBe(true);
    expect(toJsonNumber('1e-40')).toBe(1e-40);
    expect(toJsonNumber('1e400')).toBe(Infinity);
  });
});

describe('withinFloatRounding', () => {
  it('accepts what float64 computes', () => {
    expect(withinFloatRounding('0.3', 0.1 + 0.2)).toBe(true);
    expect(withinFloatRounding('0.3333333333333333333333333333333333333333', 1 / 3)).toBe(true);
    expect(withinFloatRounding('100000000000000000001', 1e20)).toBe(true);
    expect(withinFloatRounding('1e-40', 1e-40)).toBe(true);
    expect(withinFloatRounding('0', 0)).toBe(true);
    expect(withinFloatRounding('1e-400', 0)).toBe(true);
    expect(withinFloatRounding('1e400', Infinity)).toBe(true);
    expect(withinFloatRounding('-1e400', -Infinity)).toBe(true);
  });

  it('rejects wrong answers', () => {
    expect(withinFloatRounding('0.3', 0.31)).toBe(false);
    expect(withinFloatRounding('0.3', 0.3000001)).toBe(false);
    expect(withinFloatRounding('1', -1)).toBe(false);
    expect(withinFloatRounding('1', NaN)).toBe(false);
    expect(withinFloatRounding('1', Infinity)).toBe(false);
    expect(withinFloatRounding('1e400', 1e308)).toBe(false);
    expect(withinFloatRounding('1e400', -Infinity)).toBe(false);
    expect(withinFloatRounding('1e-400', 1e-300)).toBe(false);
  });

  it('with operands, accepts float64 cancellation that a relative bound cannot', () => {
    const a = '1.0000000000000001';
    const exact = execute('-', a, '1');
    const float = toJsonNumber(a) - 1; // 0 in float64
    expect(withinFloatRounding(exact, float)).toBe(false);
    expect(withinFloatRounding(exact, float, { op: '-', a, b: '1' })).toBe(true);
    expect(withinFloatRounding(exact, 5, { op: '-', a, b: '1' })).toBe(false);
  });

  it('accepts float64 results of random operations (property)', () => {
    const op = fc.constantFrom<Operator>('+', '-', '*', '/');
    const num = fc
      .double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 })
      .map((d) => String(d === 0 ? 0 : d));
    fc.assert(
      fc.property(op, num, num, (o, a, b) => {
        if (o === '/' && isZero(b)) return;
        const float =
          o === '+' ? +a + +b : o === '-' ? +a - +b : o === '*' ? +a * +b : Number(a) / Number(b);
        const exact = execute(o, canonicalDecimal(a), canonicalDecimal(b));
        expect(withinFloatRounding(exact, float, { op: o, a, b })).toBe(true);
        // Without operands only a relative bound is possible: it holds for * and / as long as
        // no input is subnormal (a subnormal float has fewer significant bits).
        const normal = [a, b].every((v) => +v === 0 || Math.abs(+v) > 1e-300);
        if (o !== '+' && o !== '-' && normal) {
          expect(withinFloatRounding(exact, float)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
