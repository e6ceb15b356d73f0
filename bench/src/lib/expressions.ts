/**
 * Expression generators for the benches. Deterministic from a seed; literals are drawn from a
 * separate seed so the same shape can be run again with different numbers (the orchestrator
 * answers a repeated expression from its result cache, which would not measure anything).
 */
import { execute, isZero, type Operator } from '@expressionist/core';
import { rng, seedOf } from '@expressionist/testkit';

const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)]!;

/** A nonzero decimal literal such as `417` or `23.75`. */
function literal(random: () => number): string {
  const whole = 1 + Math.floor(random() * 999);
  return random() < 0.3 ? `${whole}.${1 + Math.floor(random() * 99)}` : String(whole);
}

/** A small factor, so long products stay a few hundred digits. */
function factor(random: () => number): string {
  return pick(random, ['2', '3', '5', '7', '1.5', '0.5', '1.25', '9']);
}

export type ExpressionKind = 'sum' | 'product' | 'balanced' | 'random' | 'mixed';

export const KIND_LABELS: Record<ExpressionKind, string> = {
  sum: 'flat sum',
  product: 'flat product',
  balanced: 'balanced tree',
  random: 'random tree',
  mixed: 'mixed flat',
};

/** `a + b + c + …` with `terms` terms. */
export function flatSum(terms: number, seed: number): string {
  const random = rng(seed);
  return Array.from({ length: terms }, () => literal(random)).join(' + ');
}

/** `a * b * c * …` with `terms` factors. */
export function flatProduct(terms: number, seed: number): string {
  const random = rng(seed);
  return Array.from({ length: terms }, () => factor(random)).join(' * ');
}

/** `a + b * c - d / e …`: random operators, no parentheses (precedence does the grouping). */
export function mixedFlat(terms: number, shapeSeed: number, literalSeed: number): string {
  const shape = rng(shapeSeed);
  const random = rng(literalSeed);
  const parts = [literal(random)];
  for (let i = 1; i < terms; i += 1) parts.push(pick(shape, ['+', '-', '*', '/']), literal(random));
  return parts.join(' ');
}

interface Built {
  text: string;
  value: string;
}

/**
 * A fully parenthesized binary tree over `terms` literals with random operators; `split` says how
 * many leaves go left. A `/` whose right side is zero becomes `+`, so there is never a division
 * by zero (zero-ness is exact: only `/` rounds, and it never rounds a nonzero value to 0).
 */
function tree(
  terms: number,
  shapeSeed: number,
  literalSeed: number,
  split: (n: number, random: () => number) => number,
): string {
  const shape = rng(shapeSeed);
  const values = rng(literalSeed);
  const ops: readonly Operator[] = ['+', '-', '*', '/'];
  // Depth stays far below the stack limit: balanced trees are log-deep, random splits ~4 ln n.
  const build = (n: number): Built => {
    if (n === 1) {
      const text = literal(values);
      return { text, value: text };
    }
    const leftSize = split(n, shape);
    let op = pick(shape, ops);
    const left = build(leftSize);
    const right = build(n - leftSize);
    if (op === '/' && isZero(right.value)) op = '+';
    return {
      text: `(${left.text} ${op} ${right.text})`,
      value: execute(op, left.value, right.value),
    };
  };
  return build(terms).text;
}

/** A balanced binary tree of random operators over `terms` literals. */
export function balancedTree(terms: number, shapeSeed: number, literalSeed: number): string {
  return tree(terms, shapeSeed, literalSeed, (n) => Math.floor(n / 2));
}

/** A random binary tree (uniform split point at every node) of random operators. */
export function randomTree(terms: number, shapeSeed: number, literalSeed: number): string {
  return tree(terms, shapeSeed, literalSeed, (n, random) => 1 + Math.floor(random() * (n - 1)));
}

/** An expression of the given kind; `variant` changes the literals, not the shape. */
export function generate(kind: ExpressionKind, terms: number, variant: string | number): string {
  const shapeSeed = seedOf(kind, terms);
  const literalSeed = seedOf(kind, terms, variant);
  switch (kind) {
    case 'sum':
      return flatSum(terms, literalSeed);
    case 'product':
      return flatProduct(terms, literalSeed);
    case 'mixed':
      return mixedFlat(terms, shapeSeed, literalSeed);
    case 'balanced':
      return balancedTree(terms, shapeSeed, literalSeed);
    case 'random':
      return randomTree(terms, shapeSeed, literalSeed);
  }
}
