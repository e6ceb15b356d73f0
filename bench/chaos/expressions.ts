/**
 * Random arithmetic expressions with independently known answers.
 *
 * The generator builds its own tree, prints it (tracking the column of every `/` it writes) and
 * evaluates the tree with BigInt rationals (rational.ts) — never with core. The system divides
 * with rounding (40 significant digits, once per multiplicative chain), so besides the exact
 * rational value the oracle carries a rigorous bound on how far any such rounding can move the
 * result: interval propagation of a relative error of at most 1e-39 per division. The result is
 * expected to be exactly the rational's decimal text when no rounding can occur (no division, or
 * every value in the tree terminates within 40 significant digits), and within the bound otherwise.
 */
import { Rng } from '@expressionist/testkit';
import * as R from '@expressionist/testkit/rational';
import type { Rational } from '@expressionist/testkit/rational';

export type Operator = '+' | '-' | '*' | '/';

export type Node =
  | { kind: 'num'; text: string }
  | { kind: 'neg'; operand: Node; plus: boolean }
  | { kind: 'bin'; op: Operator; left: Node; right: Node };

/** What the system must answer for one expression. */
export type Expected =
  | {
      kind: 'value';
      value: Rational;
      /** |answer − value| ≤ bound. */
      bound: Rational;
      /** No rounding can occur: the answer is exactly the decimal text of `value`. */
      exact: boolean;
    }
  | { kind: 'div0'; position: number };

export interface GeneratedExpression {
  source: string;
  tree: Node;
  expected: Expected;
  /** Which generator shape produced it (for the summary). */
  shape: string;
}

/** Relative error of one rounded division: 40 significant digits, half-even, is ≤ 5e-40. */
const DELTA: Rational = R.make(1n, 10n ** 39n);
/** Most significant digits a quotient keeps. */
const DIVISION_DIGITS = 40;
/** Plain (non-exponent) output range of the system: 1e-30 ≤ |x| < 1e61. */
const PLAIN_MIN_EXP = -30;
const PLAIN_MAX_EXP = 60;

// ------------------------------------------------------------------ randomness

// ------------------------------------------------------------------ evaluation (the oracle)

type Eval =
  | { ok: true; v: Rational; e: Rational; exactDigits: boolean; hasDiv: boolean }
  | { ok: false; div0: number }
  | { ok: false; unbounded: true };

/**
 * Exact value, error bound and division-by-zero position of a tree. `slashAt` gives the column
 * of the `/` of each division node as printed.
 */
function evaluate(node: Node, slashAt: ReadonlyMap<Node, number>): Eval {
  switch (node.kind) {
    case 'num': {
      const v = R.rat(node.text);
      return {
        ok: true,
        v,
        e: R.ZERO,
        exactDigits: R.significantDigits(v) <= DIVISION_DIGITS,
        hasDiv: false,
      };
    }
    case 'neg': {
      const x = evaluate(node.operand, slashAt);
      if (!x.ok || node.plus) return x;
      return { ...x, v: R.neg(x.v) };
    }
    case 'bin': {
      const a = evaluate(node.left, slashAt);
      if (!a.ok) return a;
      const b = evaluate(node.right, slashAt);
      if (!b.ok) return b;
      let v: Rational;
      let e: Rational;
      const av = R.abs(a.v);
      const bv = R.abs(b.v);
      switch (node.op) {
        case '+':
          v = R.add(a.v, b.v);
          e = R.add(a.e, b.e);
          break;
        case '-':
          v = R.sub(a.v, b.v);
          e = R.add(a.e, b.e);
          break;
        case '*':
          v = R.mul(a.v, b.v);
          e = R.add(R.add(R.mul(av, b.e), R.mul(bv, a.e)), R.mul(a.e, b.e));
          break;
        case '/': {
          if (R.isZero(b.v)) {
            // A zero divisor is only certain when it carries no rounding error.
            if (!R.isZero(b.e)) return { ok: false, unbounded: true };
            return { ok: false, div0: slashAt.get(node)! };
          }
          if (!R.lt(b.e, bv)) return { ok: false, unbounded: true };
          v = R.div(a.v, b.v);
          const q = R.abs(v);
          // Widest deviation of a'/b' over |a'-a| ≤ ea, |b'-b| ≤ eb, then one rounding.
          const spread = R.sub(R.div(R.add(av, a.e), R.sub(bv, b.e)), q);
          e = R.add(spread, R.mul(R.add(q, spread), DELTA));
          break;
        }
      }
      const exactDigits =
        a.exactDigits &&
        b.exactDigits &&
        R.terminates(v) &&
        R.significantDigits(v) <= DIVISION_DIGITS;
      return { ok: true, v, e, exactDigits, hasDiv: a.hasDiv || b.hasDiv || node.op === '/' };
    }
  }
}

/** The answer the system must give, or null when the oracle cannot bound it (regenerate). */
function expectationOf(tree: Node, slashAt: ReadonlyMap<Node, number>): Expected | null {
  const result = evaluate(tree, slashAt);
  if (!result.ok) return 'div0' in result ? { kind: 'div0', position: result.div0 } : null;
  // Without division nothing rounds; with one, a quotient is exact when every value in the tree
  // (so every chain's quotient, whatever the regrouping) terminates within 40 digits.
  const exact = !result.hasDiv || result.exactDigits;
  return { kind: 'value', value: result.v, bound: result.e, exact };
}

/** Why `answer` is not an acceptable result for `expected`, or null when it is. */
export function judgeValue(expected: Expected, answer: string | null | undefined): string | null {
  if (expected.kind !== 'value')
    return `expected EXPR_DIV_ZERO at ${expected.position}, got value ${answer}`;
  if (typeof answer !== 'string') return `expected a value, got ${String(answer)}`;
  let got: Rational;
  try {
    got = R.rat(answer);
  } catch {
    return `answer ${answer.slice(0, 80)} is not a decimal`;
  }
  if (expected.exact) {
    if (!R.eq(got, expected.value))
      return `expected exactly ${R.describe(expected.value)}, got ${answer}`;
    if (!R.isZero(expected.value)) {
      const e = R.exponent10(expected.value);
      if (e >= PLAIN_MIN_EXP && e <= PLAIN_MAX_EXP && answer !== R.toPlain(expected.value)) {
        return `expected the text ${R.toPlain(expected.value)}, got ${answer}`;
      }
    } else if (answer !== '0') {
      return `expected the text 0, got ${answer}`;
    }
    return null;
  }
  const off = R.abs(R.sub(got, expected.value));
  if (!R.lte(off, expected.bound)) {
    return `expected ${R.describe(expected.value)} within ${R.describe(expected.bound)}, got ${answer}`;
  }
  return null;
}

/** Whether a bounded (inexact) answer is known to at least `digits` significant digits. */
export function boundedToDigits(expected: Expected, digits: number): boolean {
  if (expected.kind !== 'value' || R.isZero(expected.value)) return false;
  return R.lte(expected.bound, R.mul(R.abs(expected.value), R.make(1n, 10n ** BigInt(digits))));
}

// ------------------------------------------------------------------ printing

const PREC_ADD = 1;
const PREC_MUL = 2;
const PREC_ATOM = 3;

function precedence(node: Node): number {
  if (node.kind === 'bin') return node.op === '+' || node.op === '-' ? PREC_ADD : PREC_MUL;
  return PREC_ATOM;
}

/** Prints a tree with the parentheses it needs (plus random redundant ones and spacing). */
export function printTree(
  tree: Node,
  rng: Rng,
  spacing = 0.25,
): { source: string; slashAt: Map<Node, number> } {
  const out: string[] = [];
  let length = 0;
  const slashAt = new Map<Node, number>();
  const emit = (text: string): void => {
    out.push(text);
    length += text.length;
  };
  const space = (): void => {
    if (rng.chance(spacing))
      emit(
        rng.weighted([
          [8, ' '],
          [1, '  '],
          [1, '\t'],
          [1, '\n'],
        ] as const),
      );
  };
  // Explicit stack: deep chains must not overflow ours either.
  type Item = Node | { raw: string } | { slash: Node };
  const stack: Item[] = [tree];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('raw' in item) {
      emit(item.raw);
      continue;
    }
    if ('slash' in item) {
      space();
      slashAt.set(item.slash, length);
      emit('/');
      space();
      continue;
    }
    const node = item;
    const redundant = node.kind !== 'num' && rng.chance(0.05);
    if (redundant) {
      emit('(');
      stack.push({ raw: ')' });
    }
    if (node.kind === 'num') {
      emit(node.text);
    } else if (node.kind === 'neg') {
      emit(node.plus ? '+' : '-');
      if (node.operand.kind === 'bin') stack.push({ raw: ')' }, node.operand, { raw: '(' });
      else stack.push(node.operand);
    } else {
      const p = precedence(node);
      const wrapRight = precedence(node.right) <= p;
      const wrapLeft = precedence(node.left) < p;
      if (wrapRight) stack.push({ raw: ')' });
      stack.push(node.right);
      if (wrapRight) stack.push({ raw: '(' });
      if (node.op === '/') stack.push({ slash: node });
      else
        stack.push({
          raw: ` ${node.op} `.slice(rng.chance(spacing) ? 0 : 1, rng.chance(spacing) ? 3 : 2),
        });
      if (wrapLeft) stack.push({ raw: ')' });
      stack.push(node.left);
      if (wrapLeft) stack.push({ raw: '(' });
    }
  }
  return { source: out.join(''), slashAt };
}

// ------------------------------------------------------------------ generation

function literal(rng: Rng): string {
  const kind = rng.weighted([
    [5, 'small'],
    [3, 'int'],
    [4, 'decimal'],
    [1, 'dot'],
    [1, 'padded'],
  ] as const);
  switch (kind) {
    case 'small':
      return String(rng.int(0, 12));
    case 'int':
      return String(rng.int(0, 99_999));
    case 'decimal':
      return `${rng.int(0, 999)}.${String(rng.int(0, 999)).padStart(rng.int(1, 3), '0')}`;
    case 'dot':
      return `.${rng.int(1, 99)}`;
    case 'padded':
      return `0${rng.int(0, 99)}.${rng.int(0, 9)}0`;
  }
}

const num = (text: string): Node => ({ kind: 'num', text });
const neg = (operand: Node, plus = false): Node => ({ kind: 'neg', operand, plus });
const bin = (op: Operator, left: Node, right: Node): Node => ({ kind: 'bin', op, left, right });

function leaf(rng: Rng): Node {
  const n = num(literal(rng));
  if (rng.chance(0.08)) return neg(n);
  if (rng.chance(0.02)) return neg(n, true);
  return n;
}

/** A subtree that is a safe divisor: exactly non-zero, with a bound well below its magnitude. */
function divisor(rng: Rng, leaves: number): Node {
  for (let attempt = 0; attempt < 6; attempt += 1) {
    const candidate = randomTree(rng, leaves);
    const value = evaluate(candidate, new Map());
    if (value.ok && !R.isZero(value.v) && R.lt(R.mul(value.e, R.make(4n, 1n)), R.abs(value.v)))
      return candidate;
  }
  return num(String(rng.int(1, 97)));
}

function randomTree(rng: Rng, leaves: number): Node {
  if (leaves <= 1) return leaf(rng);
  const left = rng.int(1, leaves - 1);
  const op = rng.weighted([
    [30, '+'],
    [25, '-'],
    [25, '*'],
    [20, '/'],
  ] as const);
  const node = bin(
    op,
    randomTree(rng, left),
    op === '/' ? divisor(rng, leaves - left) : randomTree(rng, leaves - left),
  );
  return rng.chance(0.06) ? neg(node) : node;
}

/** An expression that is exactly zero, spelled in several ways. */
function zero(rng: Rng): Node {
  const k = literal(rng);
  switch (rng.int(0, 4)) {
    case 0:
      return num(rng.pick(['0', '0.0', '00', '.0']));
    case 1:
      return bin('-', num(k), num(k));
    case 2:
      return bin('*', leaf(rng), num('0'));
    case 3:
      return bin('+', num(k), neg(num(k)));
    default: {
      const a = rng.int(1, 50);
      const b = rng.int(1, 50);
      return bin('-', bin('+', num(String(a)), num(String(b))), num(String(a + b)));
    }
  }
}

/** Replaces a random leaf-ish position of `tree` by `x / zero`. */
function withZeroDivision(rng: Rng, tree: Node): Node {
  const division = bin('/', rng.chance(0.7) ? leaf(rng) : randomTree(rng, 3), zero(rng));
  if (tree.kind !== 'bin' || rng.chance(0.2))
    return rng.chance(0.5) ? division : bin(rng.pick(['+', '-', '*'] as const), tree, division);
  // Dive to a random child; never into the right side of a division (it must stay non-zero).
  let node: Node = tree;
  for (;;) {
    if (node.kind !== 'bin') break;
    const side: 'left' | 'right' = node.op === '/' || rng.chance(0.5) ? 'left' : 'right';
    const child: Node = node[side];
    if (child.kind !== 'bin' || rng.chance(0.3)) {
      node[side] = bin(rng.pick(['+', '-', '*'] as const), child, division);
      break;
    }
    node = child;
  }
  return tree;
}

function chain(rng: Rng, ops: readonly Operator[], terms: number): Node {
  let tree = leaf(rng);
  for (let i = 1; i < terms; i += 1) {
    const op = rng.pick(ops);
    tree = bin(op, tree, op === '/' ? num(String(rng.int(1, 40))) : leaf(rng));
  }
  return tree;
}

type Shape = 'tree' | 'sum-chain' | 'product-chain' | 'div-zero' | 'tiny' | 'deep';

function shapeTree(rng: Rng, shape: Shape): Node {
  switch (shape) {
    case 'tree':
      return randomTree(rng, rng.int(2, 16));
    case 'sum-chain':
      return chain(rng, ['+', '-'], rng.int(8, 40));
    case 'product-chain':
      return chain(rng, ['*', '/', '*', '/', '+'], rng.int(4, 10));
    case 'div-zero':
      return withZeroDivision(rng, randomTree(rng, rng.int(1, 10)));
    case 'tiny':
      return rng.chance(0.3) ? leaf(rng) : randomTree(rng, 2);
    case 'deep': {
      // A lopsided tree: every level nests the previous one in parentheses.
      let tree = leaf(rng);
      for (let i = rng.int(8, 25); i > 0; i -= 1) {
        const op = rng.pick(['+', '-', '*', '/'] as const);
        tree = rng.chance(0.5)
          ? bin(op, leaf(rng), op === '/' ? divisor(rng, 1) : tree)
          : bin(op, tree, op === '/' ? divisor(rng, 1) : leaf(rng));
        if (rng.chance(0.1)) tree = neg(tree);
      }
      return tree;
    }
  }
}

/**
 * Produces `count` expressions. A few are re-spaced repeats of earlier ones (same tree, other
 * spelling), so the result cache is exercised too: its answer must fit the new spelling.
 */
export function generateExpressions(count: number, seed: number): GeneratedExpression[] {
  const rng = new Rng(seed);
  const result: GeneratedExpression[] = [];
  while (result.length < count) {
    if (result.length > 10 && rng.chance(0.05)) {
      const earlier = rng.pick(result);
      const printed = printTree(earlier.tree, rng, 0.6);
      const expected = expectationOf(earlier.tree, printed.slashAt);
      if (expected && printed.source !== earlier.source) {
        result.push({
          source: printed.source,
          tree: earlier.tree,
          expected,
          shape: `respaced ${earlier.shape.replace(/^respaced /, '')}`,
        });
        continue;
      }
    }
    const shape = rng.weighted([
      [55, 'tree'],
      [10, 'sum-chain'],
      [10, 'product-chain'],
      [12, 'div-zero'],
      [5, 'tiny'],
      [8, 'deep'],
    ] as const);
    const tree = shapeTree(rng, shape);
    const printed = printTree(tree, rng);
    const expected = expectationOf(tree, printed.slashAt);
    if (!expected) continue;
    result.push({ source: printed.source, tree, expected, shape });
  }
  return result;
}
