/**
 * Exact rationals over BigInt: the independent reference of core's tests and the chaos suite.
 * Deliberately shares no code with core (no decimal.js, no planner), so a wrong answer from the
 * system cannot hide in both. Division by zero throws (RangeError): callers test `isZero` first.
 */

export interface Rational {
  /** Numerator; carries the sign. */
  readonly n: bigint;
  /** Denominator, always positive; the fraction is always reduced. */
  readonly d: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

export function make(n: bigint, d: bigint): Rational {
  if (d === 0n) throw new RangeError('zero denominator');
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const g = gcd(n, d);
  return g > 1n ? { n: n / g, d: d / g } : { n, d };
}

export const ZERO: Rational = { n: 0n, d: 1n };

/** Parses `-12.5`, `.5`, `007`, `1e-40`, `1.5e+61`. */
export function rat(s: string): Rational {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(s);
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) throw new RangeError(`bad decimal ${s}`);
  const digits = BigInt(`${m[2] ?? ''}${m[3] ?? ''}` || '0');
  const scale = BigInt(m[4] ?? '0') - BigInt((m[3] ?? '').length);
  const signed = m[1] === '-' ? -digits : digits;
  return scale >= 0n ? make(signed * 10n ** scale, 1n) : make(signed, 10n ** -scale);
}

export const add = (a: Rational, b: Rational): Rational => make(a.n * b.d + b.n * a.d, a.d * b.d);
export const sub = (a: Rational, b: Rational): Rational => make(a.n * b.d - b.n * a.d, a.d * b.d);
export const mul = (a: Rational, b: Rational): Rational => make(a.n * b.n, a.d * b.d);
export const div = (a: Rational, b: Rational): Rational => make(a.n * b.d, a.d * b.n);
export const neg = (a: Rational): Rational => ({ n: -a.n, d: a.d });
export const abs = (a: Rational): Rational => (a.n < 0n ? neg(a) : a);
export const eq = (a: Rational, b: Rational): boolean => a.n === b.n && a.d === b.d;
export const isZero = (a: Rational): boolean => a.n === 0n;
/** a ≤ b */
export const lte = (a: Rational, b: Rational): boolean => a.n * b.d <= b.n * a.d;
/** a < b */
export const lt = (a: Rational, b: Rational): boolean => a.n * b.d < b.n * a.d;

/** Whether the value has a finite decimal expansion (denominator 2^i·5^j). */
export function terminates(a: Rational): boolean {
  let d = a.d;
  while (d % 2n === 0n) d /= 2n;
  while (d % 5n === 0n) d /= 5n;
  return d === 1n;
}

/** Digits after the decimal point of a terminating value. */
function fractionDigits(a: Rational): number {
  let d = a.d;
  let twos = 0;
  let fives = 0;
  while (d % 2n === 0n) {
    d /= 2n;
    twos += 1;
  }
  while (d % 5n === 0n) {
    d /= 5n;
    fives += 1;
  }
  if (d !== 1n) throw new RangeError('not a terminating decimal');
  return Math.max(twos, fives);
}

/** Significant digits of a terminating value (0 has none). */
export function significantDigits(a: Rational): number {
  if (a.n === 0n) return 0;
  const scale = fractionDigits(a);
  let digits = ((a.n < 0n ? -a.n : a.n) * 10n ** BigInt(scale)) / a.d;
  while (digits % 10n === 0n) digits /= 10n;
  return digits.toString().length;
}

/** Plain decimal text of a terminating value: no exponent, no trailing zeros, `0` for zero. */
export function toPlain(a: Rational): string {
  if (a.n === 0n) return '0';
  const scale = fractionDigits(a);
  const magnitude = ((a.n < 0n ? -a.n : a.n) * 10n ** BigInt(scale)) / a.d;
  let text = magnitude.toString().padStart(scale + 1, '0');
  if (scale > 0) {
    text = `${text.slice(0, text.length - scale)}.${text.slice(text.length - scale)}`;
    text = text.replace(/0+$/, '').replace(/\.$/, '');
  }
  return a.n < 0n ? `-${text}` : text;
}

/** Decimal exponent of |a| (⌊log10 |a|⌋); a must be non-zero. */
export function exponent10(a: Rational): number {
  const n = a.n < 0n ? -a.n : a.n;
  let e = n.toString().length - a.d.toString().length;
  // 10^e ≤ n/d < 10^(e+1)
  const ge = (k: number): boolean =>
    k >= 0 ? n >= a.d * 10n ** BigInt(k) : n * 10n ** BigInt(-k) >= a.d;
  while (!ge(e)) e -= 1;
  while (ge(e + 1)) e += 1;
  return e;
}

/** A short human rendering for messages (approximate for non-terminating values). */
export function describe(a: Rational): string {
  if (terminates(a) && significantDigits(a) <= 60) return toPlain(a);
  return `${a.n}/${a.d}`;
}

/** A float approximation, good enough for error bounds. */
export function approx(a: Rational): number {
  const n = a.n < 0n ? -a.n : a.n;
  const shift = BigInt(Math.max(0, n.toString().length - 300, a.d.toString().length - 300));
  const scale = 10n ** shift;
  const v = Number(n / scale) / Number(a.d / scale || 1n);
  return a.n < 0n ? -v : v;
}

/** `a` correctly rounded to `digits` significant digits, ties to even. */
export function roundSignificant(a: Rational, digits: number): Rational {
  if (a.n === 0n) return a;
  const n = a.n < 0n ? -a.n : a.n;
  // Choose s so that 10^(digits-1) ≤ n·10^s / d < 10^digits.
  let s = digits - (n.toString().length - a.d.toString().length) - 1;
  const low = 10n ** BigInt(digits - 1);
  const scaled = (t: number): bigint =>
    t >= 0 ? (n * 10n ** BigInt(t)) / a.d : n / (a.d * 10n ** BigInt(-t));
  while (scaled(s) < low) s++;
  while (scaled(s) >= low * 10n) s--;
  const num = s >= 0 ? n * 10n ** BigInt(s) : n;
  const den = s >= 0 ? a.d : a.d * 10n ** BigInt(-s);
  let q = num / den;
  const twice = 2n * (num % den);
  if (twice > den || (twice === den && q % 2n === 1n)) q++;
  const signed = a.n < 0n ? -q : q;
  return s >= 0 ? make(signed, 10n ** BigInt(s)) : make(signed * 10n ** BigInt(-s), 1n);
}
