/**
 * Exact decimal arithmetic shared by every agent, the orchestrator's verifier and the tests.
 *
 * - `+`, `-`, `*` are exact: the result has every digit it needs (up to `MAX_RESULT_DIGITS`).
 * - `/` is the only rounding operation: the quotient is rounded to `DIVISION_PRECISION`
 *   significant digits, half to even. The planner arranges each chain of `*` and `/` so that it
 *   divides once, so an expression is rounded at most once per multiplicative chain.
 * - Values travel as decimal strings (`DecimalString` in protocol.ts). Results are written plainly
 *   when their decimal exponent is within [`PLAIN_MIN_EXPONENT`, `PLAIN_MAX_EXPONENT`]
 *   (so 1e-30 ≤ |x| < 1e61), in exponent notation (`1e-40`, `1.5e+61`) outside that range,
 *   always without trailing zeros and never as `-0`.
 */
import { Decimal } from 'decimal.js';
import { ExpressionistError } from './errors.js';
import type { Operator } from './types.js';

/**
 * Significant digits of a quotient that does not terminate. 40 digits keep a chain of a few
 * roundings far beyond float64 (≈16 digits) while each division stays cheap.
 */
export const DIVISION_PRECISION = 40;

/** Smallest decimal exponent written without exponent notation (1e-30 → `0.000…1`). */
export const PLAIN_MIN_EXPONENT = -30;

/** Largest decimal exponent written without exponent notation (61-digit integers). */
export const PLAIN_MAX_EXPONENT = 60;

/**
 * Most significant digits an exact result may have. It matches the 100,000-character bound of
 * `DecimalString`, and keeps one operation from needing gigabytes (`1e999999999 + 1`).
 */
export const MAX_RESULT_DIGITS = 100_000;

/** Relative tolerance of `withinFloatRounding`: float64 is good to ≈1.1e-16 per rounding. */
export const FLOAT_RELATIVE_TOLERANCE = 1e-12;

/** Absolute tolerance of `withinFloatRounding`, for results in float64's subnormal range. */
export const FLOAT_ABSOLUTE_TOLERANCE = 2 ** -1070;

// Exact operations: precision only bounds the digits kept, so it is set to the maximum and the
// digit budget is enforced separately before computing.
const Exact = Decimal.clone({
  precision: 1e9,
  rounding: Decimal.ROUND_HALF_EVEN,
  toExpNeg: -9e15,
  toExpPos: 9e15,
});

const Quotient = Decimal.clone({
  precision: DIVISION_PRECISION,
  rounding: Decimal.ROUND_HALF_EVEN,
  toExpNeg: -9e15,
  toExpPos: 9e15,
});

// Same syntax as protocol.ts's DecimalString; decimal.js alone would also take `Infinity`, `0x1f`.
const DECIMAL_RE = /^-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;
// Integers that a float64 holds exactly (|n| < 10^15 < 2^53): the fast path of `execute`.
const SMALL_INT_RE = /^-?\d{1,15}$/;

function parseDecimal(s: string): Decimal {
  if (!DECIMAL_RE.test(s)) throw new RangeError(`Not a decimal number: ${s.slice(0, 50)}`);
  return new Exact(s);
}

function divisionByZero(): ExpressionistError {
  return new ExpressionistError('EXPR_DIV_ZERO', 'Division by zero', undefined);
}

// Digits an exact sum or difference needs, from the operands' exponents and digit counts.
function sumDigits(x: Decimal, y: Decimal): number {
  if (x.isZero() || y.isZero()) return Math.max(x.sd(), y.sd());
  const high = Math.max(x.e, y.e);
  const low = Math.min(x.e - x.sd() + 1, y.e - y.sd() + 1);
  return high - low + 2;
}

function checkDigits(needed: number): void {
  if (needed > MAX_RESULT_DIGITS) {
    throw new RangeError(
      `The exact result needs ${needed} digits; at most ${MAX_RESULT_DIGITS} are supported`,
    );
  }
}

function finite(value: Decimal): string {
  if (!value.isFinite()) throw new RangeError('The result is outside the supported range');
  return formatDecimal(value);
}

/**
 * Apply one operator to two decimal strings: exact for `+ - *`, `/` rounded to
 * `DIVISION_PRECISION` significant digits (half to even). The one function every agent runs.
 * @throws ExpressionistError `EXPR_DIV_ZERO` (no position: the caller knows where the `/` is).
 * @throws RangeError for inputs that are not decimal strings or results beyond `MAX_RESULT_DIGITS`.
 * @example execute('+', '0.1', '0.2') // '0.3'
 */
export function execute(op: Operator, a: string, b: string): string {
  if (SMALL_INT_RE.test(a) && SMALL_INT_RE.test(b)) {
    const x = Number(a);
    const y = Number(b);
    let r: number;
    switch (op) {
      case '+':
        r = x + y;
        break;
      case '-':
        r = x - y;
        break;
      case '*':
        r = x * y;
        break;
      case '/':
        if (y === 0) throw divisionByZero();
        r = x % y === 0 ? x / y : NaN;
        break;
    }
    // A product beyond 2^53 may be rounded: only safe integers are known to be exact.
    if (Number.isSafeInteger(r)) return String(r === 0 ? 0 : r);
  }
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  switch (op) {
    case '+':
      checkDigits(sumDigits(x, y));
      return finite(x.plus(y));
    case '-':
      checkDigits(sumDigits(x, y));
      return finite(x.minus(y));
    case '*':
      checkDigits(x.sd() + y.sd());
      return finite(x.times(y));
    case '/':
      if (y.isZero()) throw divisionByZero();
      return finite(new Quotient(x).div(y));
  }
}

/**
 * Canonical text of a decimal: plain for exponents in [-30, 60], exponent notation beyond,
 * trailing zeros trimmed, `-0` as `0`.
 * @example formatDecimal(new Decimal('1.50')) // '1.5'
 */
export function formatDecimal(value: Decimal): string {
  if (value.isZero()) return '0';
  if (!value.isFinite()) throw new RangeError(`Not a finite decimal: ${value.toString()}`);
  const e = value.e;
  return e >= PLAIN_MIN_EXPONENT && e <= PLAIN_MAX_EXPONENT
    ? value.toFixed()
    : value.toExponential();
}

/** Canonical text of a decimal string (`'01.50'` → `'1.5'`, `'1e2'` → `'100'`). */
export function canonicalDecimal(s: string): string {
  return formatDecimal(parseDecimal(s));
}

/** Whether a decimal string is zero (`'0'`, `'-0.00'`, `'0e5'`). */
export function isZero(s: string): boolean {
  return parseDecimal(s).isZero();
}

/** Whether two decimal strings have the same value (`'1.50'` equals `'1.5'`). */
export function decimalEquals(a: string, b: string): boolean {
  return parseDecimal(a).eq(parseDecimal(b));
}

/**
 * The value as a JSON number for course-compatible `result` fields: the nearest float64,
 * `±Infinity` beyond its range (which JSON writes as `null`), never `-0`.
 */
export function toJsonNumber(s: string): number {
  if (!DECIMAL_RE.test(s)) throw new RangeError(`Not a decimal number: ${s.slice(0, 50)}`);
  const n = Number(s);
  return n === 0 ? 0 : n;
}

function float64(op: Operator, x: number, y: number): number {
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      return x / y;
  }
}

/**
 * Whether `approx` is a value float64 arithmetic could plausibly have produced for `exact`: used
 * to accept results of third-party agents that compute in float64.
 *
 * True when |approx − exact| ≤ max(|exact| · 1e-12, 2^-1070), or when both lie beyond float64's
 * range with the same sign. Float64 is good to ≈1.1e-16 per rounding, so 1e-12 leaves room for the
 * rounding of both arguments and the result while still catching any wrong answer that matters.
 * A difference can lose all relative precision to cancellation (`1.0000000000000001 - 1` is 0 in
 * float64), so when `operands` are given the float64 answer itself, `fl(fl(a) op fl(b))`, is
 * accepted too, within 4 ulps.
 */
export function withinFloatRounding(
  exact: string,
  approx: number,
  operands?: { op: Operator; a: string; b: string },
): boolean {
  if (Number.isNaN(approx)) return false;
  if (operands !== undefined) {
    const f = float64(operands.op, toJsonNumber(operands.a), toJsonNumber(operands.b));
    if (f === approx) return true;
    if (Number.isFinite(f) && Number.isFinite(approx)) {
      const ulp = Math.max(Math.abs(f) * 2 ** -52, 2 ** -1074);
      if (Math.abs(approx - f) <= 4 * ulp) return true;
    }
  }
  const x = parseDecimal(exact);
  if (!Number.isFinite(approx)) {
    const nearest = Number(exact);
    return (
      nearest === approx ||
      (x.isNegative() === approx < 0 && x.abs().gte(Number.MAX_VALUE * (1 - 1e-12)))
    );
  }
  // Beyond float64's range a finite answer is implausible, below it only a (near) zero is; both
  // checks also keep the subtraction below from spanning millions of digits.
  if (!x.isFinite() || x.e > 308) return false;
  if (x.e < -400) return Math.abs(approx) <= FLOAT_ABSOLUTE_TOLERANCE;
  const diff = x.minus(new Exact(approx)).abs();
  return diff.lte(Exact.max(x.abs().times(FLOAT_RELATIVE_TOLERANCE), FLOAT_ABSOLUTE_TOLERANCE));
}
