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
// Fast path of `execute`: plain decimals of at most 15 digits are integers scaled by a power of
// ten that float64 holds exactly (10^15 < 2^53); + - * on them are exact while the result stays a
// safe integer. Parsed into these two variables to avoid allocating.
let mantissa = 0;
let scale = 0;

function scanSmall(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 17) return false;
  const negative = s.charCodeAt(0) === 45;
  let digits = 0;
  let m = 0;
  let sc = -1;
  for (let i = negative ? 1 : 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (sc >= 0 || digits === 0) return false;
      sc = 0;
    } else if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      digits++;
      if (sc >= 0) sc++;
    } else {
      return false;
    }
  }
  if (digits === 0 || digits > 15 || sc === 0) return false;
  mantissa = negative ? -m : m;
  scale = sc < 0 ? 0 : sc;
  return true;
}

const POW10 = Array.from({ length: 31 }, (_, i) => 10 ** i);

// Text of the integer `r` scaled by 10^-s: plain, trailing zeros trimmed, never `-0`.
function formatScaled(r: number, s: number): string {
  if (r === 0) return '0';
  if (s === 0) return String(r);
  const negative = r < 0;
  let digits = String(negative ? -r : r);
  if (digits.length <= s) digits = '0'.repeat(s - digits.length + 1) + digits;
  const point = digits.length - s;
  let end = digits.length;
  while (end > point && digits.charCodeAt(end - 1) === 48) end--;
  const text =
    end === point
      ? digits.slice(0, point)
      : `${digits.slice(0, point)}.${digits.slice(point, end)}`;
  return negative ? `-${text}` : text;
}

const BIG_POW10 = Array.from({ length: 60 }, (_, i) => 10n ** BigInt(i));

/**
 * (x·10^-sx) / (y·10^-sy) rounded to DIVISION_PRECISION significant digits, half to even, for
 * the small operands of the fast path (|x|, |y| < 10^15, y ≠ 0): BigInt long division is several
 * times faster than decimal.js here. The result lies within [1e-30, 1e30], so it is written
 * plainly.
 */
function divideSmall(x: number, sx: number, y: number, sy: number): string {
  if (x === 0) return '0';
  const X = BigInt(x < 0 ? -x : x);
  const Y = BigInt(y < 0 ? -y : y);
  // With k = P - (len X - len Y), 10^(P-1) ≤ X·10^k / Y < 10^(P+1): P or P+1 digits.
  const k = DIVISION_PRECISION - (String(x < 0 ? -x : x).length - String(y < 0 ? -y : y).length);
  const N = X * BIG_POW10[k]!;
  let q = N / Y;
  const sticky = N % Y !== 0n;
  let dropped = 0;
  let roundUp: boolean;
  if (q >= BIG_POW10[DIVISION_PRECISION]!) {
    const low = q % 10n;
    q /= 10n;
    dropped = 1;
    roundUp = low > 5n || (low === 5n && (sticky || (q & 1n) === 1n));
  } else {
    const twice = (N % Y) * 2n;
    roundUp = twice > Y || (twice === Y && (q & 1n) === 1n);
  }
  if (roundUp) q += 1n;
  // value = q · 10^-(k - dropped + sx - sy)
  const negative = x < 0 !== y < 0;
  const digits = q.toString();
  const shift = k - dropped + sx - sy;
  let text: string;
  if (shift <= 0) {
    text = digits + '0'.repeat(-shift);
  } else {
    const padded = digits.length <= shift ? '0'.repeat(shift - digits.length + 1) + digits : digits;
    const point = padded.length - shift;
    let end = padded.length;
    while (end > point && padded.charCodeAt(end - 1) === 48) end--;
    text =
      end === point
        ? padded.slice(0, point)
        : `${padded.slice(0, point)}.${padded.slice(point, end)}`;
  }
  return negative ? `-${text}` : text;
}

function executeSmall(op: Operator, a: string, b: string): string | undefined {
  if (!scanSmall(a)) return undefined;
  const x = mantissa;
  const sx = scale;
  if (!scanSmall(b)) return undefined;
  const y = mantissa;
  const sy = scale;
  let r: number;
  let s: number;
  switch (op) {
    case '+':
    case '-': {
      s = sx > sy ? sx : sy;
      const xs = x * POW10[s - sx]!;
      const ys = y * POW10[s - sy]!;
      if (!Number.isSafeInteger(xs) || !Number.isSafeInteger(ys)) return undefined;
      r = op === '+' ? xs + ys : xs - ys;
      break;
    }
    case '*':
      r = x * y;
      s = sx + sy;
      break;
    case '/':
      if (y === 0) throw divisionByZero();
      if (sx !== 0 || sy !== 0 || x % y !== 0) return divideSmall(x, sx, y, sy);
      r = x / y;
      s = 0;
      break;
  }
  // A result beyond 2^53 may have been rounded: only safe integers are known to be exact.
  return Number.isSafeInteger(r) ? formatScaled(r, s) : undefined;
}

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
    throw new ExpressionistError(
      'EXPR_RESULT_TOO_LARGE',
      `the exact result needs ${needed} digits; at most ${MAX_RESULT_DIGITS} are supported`,
    );
  }
}

function finite(value: Decimal): string {
  if (!value.isFinite())
    throw new ExpressionistError(
      'EXPR_RESULT_TOO_LARGE',
      'the result is outside the supported range',
    );
  return formatDecimal(value);
}

/**
 * Apply one operator to two decimal strings: exact for `+ - *`, `/` rounded to
 * `DIVISION_PRECISION` significant digits (half to even). The one function every agent runs.
 * @throws ExpressionistError `EXPR_DIV_ZERO` (no position: the caller knows where the `/` is).
 * @throws ExpressionistError `EXPR_RESULT_TOO_LARGE` (no position) for results beyond
 *   `MAX_RESULT_DIGITS`; the message is the reason, for the caller's template.
 * @throws RangeError for inputs that are not decimal strings (a bug: every operand is validated).
 * @example execute('+', '0.1', '0.2') // '0.3'
 */
export function execute(op: Operator, a: string, b: string): string {
  const fast = executeSmall(op, a, b);
  if (fast !== undefined) return fast;
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
  if (scanSmall(s)) return mantissa === 0;
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
