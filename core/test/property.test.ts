/**
 * Property tests: random expression trees are rendered to text, parsed, planned and evaluated in
 * a random dependency order, and compared with an exact rational evaluation of the tree written
 * here (rational.ts), independent of src/.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  ExpressionistError,
  canonicalDecimal,
  compile,
  evaluatePlan,
  execute,
  findZeroDivisor,
  normalize,
  parse,
  type Ast,
  type Operand,
  type Operator,
  type Plan,
} from '../src/index.js';
import {
  abs,
  add,
  approx,
  div,
  eq,
  isZero as isZeroR,
  lte,
  mul,
  neg,
  rat,
  sub,
  type Rational,
} from '@expressionist/testkit/rational';

type Tree =
  | { t: 'num'; text: string }
  | { t: 'neg'; x: Tree }
  | { t: 'pos'; x: Tree }
  | { t: 'par'; x: Tree }
  | { t: 'bin'; op: Operator; l: Tree; r: Tree };

const numberText = fc.oneof(
  fc.integer({ min: 0, max: 12 }).map(String),
  fc.integer({ min: 0, max: 99_999 }).map(String),
  fc
    .tuple(fc.integer({ min: 0, max: 99 }), fc.stringMatching(/^\d{1,4}$/))
    .map(([i, f]) => `${i}.${f}`),
  fc.stringMatching(/^\d{1,3}$/).map((f) => `.${f}`),
  fc.constantFrom('0', '007', '0.000', '1.50', '0.1', '0.2', '0.3', '3', '7', '9', '1000000'),
);

const { tree: treeArb } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { maxDepth: 6, depthIdentifier: 'tree' },
    { arbitrary: numberText.map((text): Tree => ({ t: 'num', text })), weight: 6 },
    { arbitrary: tie('tree').map((x): Tree => ({ t: 'neg', x })), weight: 2 },
    { arbitrary: tie('tree').map((x): Tree => ({ t: 'pos', x })), weight: 1 },
    { arbitrary: tie('tree').map((x): Tree => ({ t: 'par', x })), weight: 1 },
    {
      arbitrary: fc
        .tuple(fc.constantFrom<Operator>('+', '-', '*', '/'), tie('tree'), tie('tree'))
        .map(([op, l, r]): Tree => ({ t: 'bin', op, l, r })),
      weight: 8,
    },
  ),
}));

const whitespace = fc.array(fc.constantFrom('', '', '', ' ', '  ', '\t', '\n', '\r\n'), {
  minLength: 1,
  maxLength: 16,
});

function precedence(tree: Tree): number {
  if (tree.t === 'bin') return tree.op === '+' || tree.op === '-' ? 1 : 2;
  if (tree.t === 'neg' || tree.t === 'pos') return 3;
  return 4;
}

interface Rendered {
  text: string;
  /** Column of each `/` operator. */
  slash: Map<Tree, number>;
}

/** Text for a tree: the parentheses its shape needs (plus `par` ones), whitespace sprinkled in. */
function render(tree: Tree, spaces: string[] = ['']): Rendered {
  let text = '';
  let k = 0;
  const slash = new Map<Tree, number>();
  const space = (): void => {
    text += spaces[k++ % spaces.length]!;
  };
  const walk = (node: Tree, parens: boolean): void => {
    if (parens) {
      text += '(';
      space();
    }
    switch (node.t) {
      case 'num':
        text += node.text;
        break;
      case 'neg':
      case 'pos':
        text += node.t === 'neg' ? '-' : '+';
        space();
        walk(node.x, precedence(node.x) < 3);
        break;
      case 'par':
        walk(node.x, true);
        break;
      case 'bin': {
        const p = precedence(node);
        walk(node.l, precedence(node.l) < p);
        space();
        if (node.op === '/') slash.set(node, text.length);
        text += node.op;
        space();
        walk(node.r, precedence(node.r) <= p);
        break;
      }
    }
    if (parens) {
      space();
      text += ')';
    }
  };
  space();
  walk(tree, false);
  space();
  return { text, slash };
}

interface Reference {
  /** `undefined` when some division has a zero divisor. */
  value: Rational | undefined;
  /** Columns of the `/` whose (defined) divisor is exactly zero. */
  zeroSlashes: Set<number>;
  /** Bound on the error a 40-digit division could introduce (absolute, float estimate). */
  error: number;
  /** A divisor so close to zero that rounding elsewhere could make it zero (or not). */
  illConditioned: boolean;
}

/** Exact left-to-right (post-order) evaluation of the tree, plus an error-bound model. */
function reference(tree: Tree, slash: Map<Tree, number>): Reference {
  const zeroSlashes = new Set<number>();
  let illConditioned = false;
  const walk = (node: Tree): { v: Rational | undefined; e: number } => {
    switch (node.t) {
      case 'num':
        return { v: rat(node.text), e: 0 };
      case 'neg': {
        const x = walk(node.x);
        return { v: x.v && neg(x.v), e: x.e };
      }
      case 'pos':
      case 'par':
        return walk(node.x);
      case 'bin': {
        const l = walk(node.l);
        const r = walk(node.r);
        if (node.op === '/' && r.v !== undefined && isZeroR(r.v)) zeroSlashes.add(slash.get(node)!);
        if (l.v === undefined || r.v === undefined) return { v: undefined, e: 0 };
        const lf = Math.abs(approx(l.v));
        const rf = Math.abs(approx(r.v));
        switch (node.op) {
          case '+':
            return { v: add(l.v, r.v), e: l.e + r.e };
          case '-':
            return { v: sub(l.v, r.v), e: l.e + r.e };
          case '*':
            return { v: mul(l.v, r.v), e: lf * r.e + rf * l.e + l.e * r.e };
          case '/': {
            if (rf <= 8 * r.e) illConditioned = true;
            if (isZeroR(r.v)) return { v: undefined, e: 0 };
            const q = div(l.v, r.v);
            const qf = Math.abs(approx(q));
            return { v: q, e: (l.e + qf * r.e) / Math.max(rf - r.e, 1e-300) + qf * 1e-39 };
          }
        }
      }
    }
  };
  const { v, e } = walk(tree);
  return { value: v, zeroSlashes, error: e, illConditioned };
}

function countBinary(tree: Tree): number {
  switch (tree.t) {
    case 'num':
      return 0;
    case 'bin':
      return 1 + countBinary(tree.l) + countBinary(tree.r);
    default:
      return countBinary(tree.x);
  }
}

/** Tree shape with numbers as exact fractions; `pos` and `par` vanish as in the parser. */
function treeShape(tree: Tree): string {
  switch (tree.t) {
    case 'num': {
      const r = rat(tree.text);
      return `${r.n}/${r.d}`;
    }
    case 'neg':
      return `(neg ${treeShape(tree.x)})`;
    case 'pos':
    case 'par':
      return treeShape(tree.x);
    case 'bin':
      return `(${tree.op} ${treeShape(tree.l)} ${treeShape(tree.r)})`;
  }
}

function astShape(ast: Ast): string {
  switch (ast.kind) {
    case 'num': {
      const r = rat(ast.value);
      return `${r.n}/${r.d}`;
    }
    case 'neg':
      return `(neg ${astShape(ast.operand)})`;
    case 'bin':
      return `(${ast.op} ${astShape(ast.left)} ${astShape(ast.right)})`;
  }
}

type Outcome = { value: string; exact: boolean } | { divZeroAt: number };

/** Run the plan the way the orchestrator does: any ready op next, in an order picked by `seed`. */
function runInRandomOrder(p: Plan, seed: number): Outcome {
  let state = seed >>> 0 || 1;
  const random = (n: number): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const values = new Map<number, string>();
  const valueOf = (o: Operand): string => {
    if (o.kind === 'lit') return o.value;
    const v = values.get(o.id);
    if (v === undefined) throw new Error(`op ${o.id} read before it ran`);
    return v;
  };
  const waiting = new Set(p.ops.map((op) => op.id));
  let exact = true;
  while (waiting.size > 0) {
    const ready = [...waiting].filter((id) =>
      [p.ops[id]!.a, p.ops[id]!.b].every((o) => o.kind === 'lit' || values.has(o.id)),
    );
    expect(ready.length).toBeGreaterThan(0);
    const op = p.ops[ready[random(ready.length)]!]!;
    const at = findZeroDivisor(op, valueOf);
    if (at !== undefined) return { divZeroAt: at };
    const a = valueOf(op.a);
    const b = valueOf(op.b);
    const result = execute(op.op, a, b);
    if (op.op === '/' && !eq(mul(rat(result), rat(b)), rat(a))) exact = false;
    values.set(op.id, result);
    waiting.delete(op.id);
  }
  return { value: p.root.kind === 'lit' ? canonicalDecimal(p.root.value) : valueOf(p.root), exact };
}

function evaluateOrError(p: Plan): Outcome {
  try {
    return { value: evaluatePlan(p), exact: true };
  } catch (e) {
    expect(e).toBeInstanceOf(ExpressionistError);
    expect((e as ExpressionistError).code).toBe('EXPR_DIV_ZERO');
    return { divZeroAt: (e as ExpressionistError).position! };
  }
}

describe('property: random expression trees', () => {
  it('parse → plan → evaluate agrees with exact rational evaluation', () => {
    let exactRuns = 0;
    let divZeroRuns = 0;
    fc.assert(
      fc.property(treeArb, whitespace, fc.integer(), (tree, spaces, seed) => {
        const { text, slash } = render(tree, spaces);
        const ref = reference(tree, slash);
        const { ast, plan: p, normalized } = compile(text);

        // The parser builds exactly the generated tree.
        expect(astShape(ast)).toBe(treeShape(tree));
        // Whitespace and redundant parentheses do not change the cache key; it round-trips.
        expect(normalize(parse(render(tree).text))).toBe(normalized);
        expect(normalize(parse(normalized))).toBe(normalized);
        // One op per binary operator; dense, topological ids.
        expect(p.ops).toHaveLength(countBinary(tree));
        p.ops.forEach((op, i) => {
          expect(op.id).toBe(i);
          for (const o of [op.a, op.b]) if (o.kind === 'op') expect(o.id).toBeLessThan(i);
        });

        const random = runInRandomOrder(p, seed);
        const sequential = evaluateOrError(p);
        if ('value' in random && 'value' in sequential) {
          expect(random.value).toBe(sequential.value);
        }

        if (ref.value === undefined) {
          // Division by zero: certain when no quotient was rounded on the way.
          if ('value' in random) {
            expect(random.exact).toBe(false);
            return;
          }
          if (!('divZeroAt' in sequential)) throw new Error('sequential evaluation missed /0');
          expect(ref.zeroSlashes).toContain(random.divZeroAt);
          expect(ref.zeroSlashes).toContain(sequential.divZeroAt);
          divZeroRuns++;
          return;
        }
        if ('divZeroAt' in random || 'divZeroAt' in sequential) {
          // Only possible when rounding turned a tiny divisor into zero.
          expect(ref.illConditioned).toBe(true);
          return;
        }
        expect(canonicalDecimal(random.value)).toBe(random.value);
        const ours = rat(random.value);
        if (random.exact) {
          // No quotient was rounded: the result is the exact value.
          expect(ours).toEqual(ref.value);
          exactRuns++;
          return;
        }
        if (ref.illConditioned) return;
        // At least 30 significant digits, unless cancellation makes the bound looser.
        const tolerance = Math.max(Math.abs(approx(ref.value)) * 1e-30, ref.error * 1e6);
        const diff = abs(sub(ours, ref.value));
        expect(lte(diff, rat(tolerance.toExponential()))).toBe(true);
      }),
      { numRuns: 3000 },
    );
    // The generator must actually exercise both exact results and divisions by zero.
    expect(exactRuns).toBeGreaterThan(300);
    expect(divZeroRuns).toBeGreaterThan(20);
  });
});

describe('property: arbitrary input never throws anything but ExpressionistError', () => {
  const grammarish = fc.string({
    unit: fc.constantFrom(...'0123456789.+-*/() \t\n(()e'.split('')),
    maxLength: 60,
  });
  const anything = fc.oneof(
    grammarish,
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.string({ unit: 'grapheme', maxLength: 30 }),
  );

  it('compile and evaluate either succeed or throw a registry error with a column', () => {
    let valid = 0;
    fc.assert(
      fc.property(anything, (source) => {
        let compiled: ReturnType<typeof compile>;
        try {
          compiled = compile(source);
        } catch (e) {
          expect(e).toBeInstanceOf(ExpressionistError);
          const err = e as ExpressionistError;
          expect(Object.keys(ERROR_CODES)).toContain(err.code);
          expect(err.code.startsWith('EXPR_')).toBe(true);
          expect(err.position).toBeGreaterThanOrEqual(0);
          expect(err.position).toBeLessThanOrEqual(source.length);
          return;
        }
        valid++;
        expect(normalize(parse(compiled.normalized))).toBe(compiled.normalized);
        try {
          const value = evaluatePlan(compiled.plan);
          expect(canonicalDecimal(value)).toBe(value);
        } catch (e) {
          expect(e).toBeInstanceOf(ExpressionistError);
          expect((e as ExpressionistError).code).toBe('EXPR_DIV_ZERO');
          expect(source[(e as ExpressionistError).position!]).toBe('/');
        }
      }),
      { numRuns: 5000 },
    );
    expect(valid).toBeGreaterThan(50);
  });
});
