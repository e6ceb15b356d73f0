/**
 * The planner: turns an AST into a DAG of binary operations that agents can run in parallel,
 * plus the sequential reference evaluator and the plan's timing bounds.
 *
 * Tree-height reduction. A maximal chain of `+`/`-` (looking through parentheses and unary minus:
 * `a-(b-c)` is `a-b+c`, `-(x+y)` flips both terms) becomes a list of signed terms; a maximal chain
 * of `*`/`/` becomes numerator and denominator factors. Terms are combined Huffman-style: the two
 * shallowest subtrees first (ties: same sign first, then source order), so `a-b-c+d` becomes
 * `(a+d)-(b+c)` and a flat sum of 64 numbers has depth 6. Factors are multiplied the same way
 * into one numerator and one denominator product, and the chain divides once at the end.
 *
 * Value. `+ - *` are exact, so regrouping them changes nothing. A multiplicative chain computes
 * its numerator and denominator exactly and divides once: one rounding to `DIVISION_PRECISION`
 * digits, where left-to-right evaluation of `a/b/c*d` rounds at every `/` and carries each
 * error into the next step. The chain's value is the correctly rounded quotient of the exact
 * values (error at most half a unit in its 40th significant digit), and it is exact whenever the
 * quotient fits in 40 digits: `1/3*3` is `1`, not `0.999…9`.
 *
 * Division by zero. Regrouping can move a divisor into a numerator (`a/(b/c)` computes
 * `(a*c)/b`), so a zero divisor is not always a zero `b`. The final `/` of each chain lists every
 * original divisor factor with the column of its `/` (`divisors`): the operation is a division by
 * zero exactly when one of them is zero. Use `findZeroDivisor` before running a `/` op.
 *
 * Signs. Negation is free: a negated literal folds into the literal (`-3` is the literal `-3`),
 * the first term of an additive chain absorbs its own sign, and an odd number of signs on a
 * multiplicative chain is folded into its first literal factor (or, if it has none, pushed into
 * its first factor, recursively, until it reaches a literal). So no `0 - x` operation is ever
 * needed and a plan has exactly one operation per binary operator of the source; unary plus
 * costs nothing either.
 *
 * Nothing here recurses: chains are flattened and compiled with explicit stacks.
 */
import { canonicalDecimal, execute, isZero } from './arith.js';
import { ExpressionistError } from './errors.js';
import { normalize, parse } from './grammar.js';
import { DURATION_KEYS, type OperatorDurations } from './settings.js';
import type {
  Ast,
  DivisorRef,
  Operand,
  Operator,
  ParseLimits,
  Plan,
  PlanOp,
  Span,
} from './types.js';

/** The nearest `/` whose right operand holds a factor; `order` is its post-order rank. */
interface SlashRecord {
  pos: number;
  order: number;
}

/** A chain being compiled; its leaves live at [base, base + count) of the builder's leaf stack. */
interface Frame {
  mul: boolean;
  base: number;
  count: number;
  /** Leaves compiled so far. */
  done: number;
  span: Span;
}

/** Two FIFO lists of items: leaves sorted by (depth, seq), then merged subtrees in creation order. */
class Queue {
  readonly leaves: number[] = [];
  readonly merged: number[] = [];
  leafHead = 0;
  mergedHead = 0;

  get size(): number {
    return this.leaves.length - this.leafHead + this.merged.length - this.mergedHead;
  }

  reset(): void {
    this.leaves.length = 0;
    this.merged.length = 0;
    this.leafHead = 0;
    this.mergedHead = 0;
  }
}

// Leaf flags.
const NEGATE = 1; // compile the leaf's value negated (how signs are pushed down to literals)
const NEGATIVE = 2; // additive chains: the term is subtracted
const INVERTED = 4; // multiplicative chains: the factor is in the denominator

// "No second leaf" for an item covering a single leaf.
const NONE = 0x3fffffff;
const PENDING: Operand = { kind: 'lit', value: '' };

function negateLiteral(value: string): string {
  if (value.startsWith('-')) return value.slice(1);
  return /^[0.]*$/.test(value) ? value : `-${value}`;
}

/**
 * Builds the op list; one instance per `plan` call.
 *
 * Items being merged are plain numbers, to keep the garbage collector out of large plans: leaf `k`
 * of the chain being finished is `k`, the subtree computed by op `id` is `~id` (negative). Leaves
 * live in parallel arrays used as a stack (chains nest like calls), merge bookkeeping in arrays
 * indexed by op id, and the flattening and merging scratch space is shared because neither
 * flattening nor finishing a chain ever nests.
 */
class Builder {
  readonly ops: PlanOp[] = [];

  private readonly leafNode: Ast[] = [];
  private readonly leafFlags: number[] = [];
  private readonly leafJoin: number[] = [];
  private readonly leafSlash: (SlashRecord | null)[] = [];
  private readonly leafOperand: Operand[] = [];
  private readonly leafDepth: number[] = [];
  private readonly leafStart: number[] = [];
  private readonly leafEnd: number[] = [];

  private readonly opFirst: number[] = [];
  private readonly opSecond: number[] = [];
  private readonly opNegative: boolean[] = [];

  private readonly dfsNode: (Ast | null)[] = [];
  private readonly dfsFlags: number[] = [];
  private readonly dfsJoin: number[] = [];
  private readonly dfsSlash: (SlashRecord | null)[] = [];
  private readonly queueA = new Queue();
  private readonly queueB = new Queue();

  private leafTop = 0;
  /** Leaf range of the chain being finished. */
  private base = 0;
  private count = 0;

  /**
   * Start compiling `node` (negated if asked): its literal operand at once, or the frame of the
   * chain it roots.
   */
  start(node: Ast, negate: boolean): Operand | Frame {
    const span = node.span;
    let n = node;
    let neg = negate;
    while (n.kind === 'neg') {
      neg = !neg;
      n = n.operand;
    }
    if (n.kind === 'num') return { kind: 'lit', value: neg ? negateLiteral(n.value) : n.value };
    const base = this.leafTop;
    const mul = n.kind === 'bin' && (n.op === '*' || n.op === '/');
    if (mul) this.flattenMultiplicative(n, neg);
    else this.flattenAdditive(n, neg);
    return { mul, base, count: this.leafTop - base, done: 0, span };
  }

  /** Start compiling the frame's next leaf. */
  startLeaf(frame: Frame): Operand | Frame {
    const i = frame.base + frame.done;
    return this.start(this.leafNode[i]!, (this.leafFlags[i]! & NEGATE) !== 0);
  }

  /** Record the compiled value of the frame's next leaf. */
  attach(frame: Frame, operand: Operand): void {
    const i = frame.base + frame.done++;
    this.leafOperand[i] = operand;
    this.leafDepth[i] = operand.kind === 'op' ? this.ops[operand.id]!.depth : 0;
  }

  private pushLeaf(
    node: Ast,
    outer: Span,
    flags: number,
    join: number,
    slash: SlashRecord | null,
  ): void {
    // The arrays are never shrunk (that is slow in V8): `leafTop` marks the stack's top.
    const i = this.leafTop++;
    this.leafNode[i] = node;
    this.leafFlags[i] = flags;
    this.leafJoin[i] = join;
    this.leafSlash[i] = slash;
    this.leafOperand[i] = PENDING;
    this.leafDepth[i] = 0;
    this.leafStart[i] = outer.start;
    this.leafEnd[i] = outer.end;
  }

  /** Push the signed terms of the additive chain rooted at `root`, in source order. */
  private flattenAdditive(root: Ast, negate: boolean): void {
    const first = this.leafTop;
    const { dfsNode: nodes, dfsFlags: signs, dfsJoin: joins } = this;
    nodes.push(root);
    signs.push(negate ? NEGATIVE : 0);
    joins.push(-1);
    while (nodes.length > 0) {
      const outer = nodes.pop()!;
      let sign = signs.pop()!;
      const join = joins.pop()!;
      let node = outer;
      while (node.kind === 'neg') {
        sign ^= NEGATIVE;
        node = node.operand;
      }
      if (node.kind === 'bin' && (node.op === '+' || node.op === '-')) {
        nodes.push(node.right, node.left);
        signs.push(node.op === '-' ? sign ^ NEGATIVE : sign, sign);
        joins.push(node.opPos, join);
      } else {
        this.pushLeaf(node, outer.span, sign, join, null);
      }
    }
    // The first term absorbs its own sign, so the chain's result is never negative.
    if (this.leafFlags[first] === NEGATIVE) this.leafFlags[first] = NEGATE;
  }

  /** Push the factors of the multiplicative chain rooted at `root`, in source order. */
  private flattenMultiplicative(root: Ast, negate: boolean): void {
    const first = this.leafTop;
    const { dfsNode: nodes, dfsFlags: inverts, dfsJoin: joins, dfsSlash: slashes } = this;
    let odd = negate;
    let order = 0;
    let signedLiteral = -1;
    let anyLiteral = -1;
    // A null node marks the end of a `/`'s subtree: that is when the `/` gets its post-order rank.
    nodes.push(root);
    inverts.push(0);
    joins.push(-1);
    slashes.push(null);
    while (nodes.length > 0) {
      const outer = nodes.pop();
      const inverted = inverts.pop()!;
      const join = joins.pop()!;
      const slash = slashes.pop()!;
      if (outer === null || outer === undefined) {
        slash!.order = order++;
        continue;
      }
      let node = outer;
      let signed = false;
      while (node.kind === 'neg') {
        odd = !odd;
        signed = true;
        node = node.operand;
      }
      if (node.kind === 'bin' && node.op === '*') {
        nodes.push(node.right, node.left);
        inverts.push(inverted, inverted);
        joins.push(node.opPos, join);
        slashes.push(slash, slash);
      } else if (node.kind === 'bin' && node.op === '/') {
        const record: SlashRecord = { pos: node.opPos, order: -1 };
        nodes.push(null, node.right, node.left);
        inverts.push(0, inverted ^ INVERTED, inverted);
        joins.push(-1, node.opPos, join);
        slashes.push(record, record, slash);
      } else {
        if (node.kind === 'num') {
          if (anyLiteral < 0) anyLiteral = this.leafTop;
          if (signed) signedLiteral = this.leafTop;
        }
        this.pushLeaf(node, outer.span, inverted, join, slash);
      }
    }
    if (odd) {
      // Prefer a literal that carried a sign in the source (`2*-3` stays `2*(-3)`), then any
      // literal; otherwise the first factor takes the sign inside.
      const at = signedLiteral >= 0 ? signedLiteral : anyLiteral >= 0 ? anyLiteral : first;
      this.leafFlags[at]! |= NEGATE;
    }
  }

  // Item accessors (see the class comment for the encoding).
  private depth(item: number): number {
    return item >= 0 ? this.leafDepth[this.base + item]! : this.ops[~item]!.depth;
  }

  private before(x: number, y: number): boolean {
    const dx = this.depth(x);
    const dy = this.depth(y);
    // seq: leaves in source order, then merged subtrees in creation order.
    return dx < dy || (dx === dy && (x >= 0 ? x : this.count - x) < (y >= 0 ? y : this.count - y));
  }

  private first(item: number): number {
    return item >= 0 ? item : this.opFirst[~item]!;
  }

  private negative(item: number): boolean {
    return item >= 0
      ? (this.leafFlags[this.base + item]! & NEGATIVE) !== 0
      : this.opNegative[~item]!;
  }

  private peek(q: Queue): number {
    if (q.mergedHead >= q.merged.length) return q.leaves[q.leafHead]!;
    if (q.leafHead >= q.leaves.length) return q.merged[q.mergedHead]!;
    const l = q.leaves[q.leafHead]!;
    const m = q.merged[q.mergedHead]!;
    return this.before(l, m) ? l : m;
  }

  private pop(q: Queue): number {
    const item = this.peek(q);
    if (item >= 0) q.leafHead++;
    else q.mergedHead++;
    return item;
  }

  /** Sort a queue's leaves by depth, keeping source order among equals. */
  private sortLeaves(q: Queue): void {
    const { leaves } = q;
    const depth = this.leafDepth;
    const base = this.base;
    for (let i = 1; i < leaves.length; i++) {
      if (depth[base + leaves[i - 1]!]! > depth[base + leaves[i]!]!) {
        leaves.sort((x, y) => depth[base + x]! - depth[base + y]! || x - y);
        return;
      }
    }
  }

  /** Emit the op combining two items; returns its id. */
  private merge(op: Operator, x: number, y: number, divisors?: DivisorRef[]): number {
    const { base } = this;
    const fx = this.first(x);
    const fy = this.first(y);
    const sx = x >= 0 ? NONE : this.opSecond[~x]!;
    const sy = y >= 0 ? NONE : this.opSecond[~y]!;
    const second = Math.min(fx < fy ? fy : fx, sx, sy);
    const ax = x >= 0 ? this.leafStart[base + x]! : this.ops[~x]!.span.start;
    const ay = y >= 0 ? this.leafStart[base + y]! : this.ops[~y]!.span.start;
    const ex = x >= 0 ? this.leafEnd[base + x]! : this.ops[~x]!.span.end;
    const ey = y >= 0 ? this.leafEnd[base + y]! : this.ops[~y]!.span.end;
    const dx = this.depth(x);
    const dy = this.depth(y);
    const id = this.ops.length;
    const planOp: PlanOp = {
      id,
      op,
      a: x >= 0 ? this.leafOperand[base + x]! : { kind: 'op', id: ~x },
      b: y >= 0 ? this.leafOperand[base + y]! : { kind: 'op', id: ~y },
      span: { start: ax < ay ? ax : ay, end: ex > ey ? ex : ey },
      opPos: this.leafJoin[base + second]!,
      depth: (dx > dy ? dx : dy) + 1,
    };
    if (divisors !== undefined) planOp.divisors = divisors;
    this.ops.push(planOp);
    this.opFirst.push(fx < fy ? fx : fy);
    this.opSecond.push(second);
    this.opNegative.push(false);
    return id;
  }

  /** Combine a chain's compiled leaves into its value; the last op gets the chain's span. */
  finish(frame: Frame): Operand {
    this.base = frame.base;
    this.count = frame.count;
    const id = frame.mul ? this.finishMultiplicative() : this.finishAdditive();
    const span = this.ops[id]!.span; // created by `merge`, not shared
    span.start = frame.span.start;
    span.end = frame.span.end;
    this.leafTop = frame.base; // pop the chain's leaves
    return { kind: 'op', id };
  }

  private finishAdditive(): number {
    const positive = this.queueA;
    const negative = this.queueB;
    positive.reset();
    negative.reset();
    for (let k = 0; k < this.count; k++) {
      (this.negative(k) ? negative : positive).leaves.push(k);
    }
    this.sortLeaves(positive);
    this.sortLeaves(negative);
    while (positive.size + negative.size > 1) {
      let x: number;
      if (negative.size === 0) x = this.pop(positive);
      else if (positive.size === 0) x = this.pop(negative);
      else
        x = this.before(this.peek(positive), this.peek(negative))
          ? this.pop(positive)
          : this.pop(negative);
      const xNegative = this.negative(x);
      const same = xNegative ? negative : positive;
      const other = xNegative ? positive : negative;
      // Any of the shallowest will do for depth; pairing equal signs keeps `(a+d)-(b+c)` shapes.
      const y =
        same.size > 0 &&
        (other.size === 0 || this.depth(this.peek(same)) <= this.depth(this.peek(other)))
          ? this.pop(same)
          : this.pop(other);
      if (xNegative === this.negative(y)) {
        const id = this.first(x) < this.first(y) ? this.merge('+', x, y) : this.merge('+', y, x);
        this.opNegative[id] = xNegative;
        same.merged.push(~id);
      } else {
        const id = xNegative ? this.merge('-', y, x) : this.merge('-', x, y);
        positive.merged.push(~id);
      }
    }
    return ~this.pop(positive);
  }

  private finishMultiplicative(): number {
    const numerator = this.queueA;
    const denominator = this.queueB;
    numerator.reset();
    denominator.reset();
    const { base, count } = this;
    for (let k = 0; k < count; k++) {
      ((this.leafFlags[base + k]! & INVERTED) !== 0 ? denominator : numerator).leaves.push(k);
    }
    this.sortLeaves(numerator);
    this.sortLeaves(denominator);
    const top = this.product(numerator);
    if (denominator.size === 0) return ~top;
    const bottom = this.product(denominator);
    const divisorLeaves: number[] = [];
    for (let k = 0; k < count; k++) if (this.leafSlash[base + k] !== null) divisorLeaves.push(k);
    // The order a left-to-right evaluation would meet the divisions in (source order for flat
    // chains; the inner `/` of `a/(b/c)` before the outer one).
    const slash = this.leafSlash;
    divisorLeaves.sort((x, y) => slash[base + x]!.order - slash[base + y]!.order || x - y);
    const divisors = divisorLeaves.map((k): DivisorRef => ({
      operand: this.leafOperand[base + k]!,
      slashPos: slash[base + k]!.pos,
    }));
    return this.merge('/', top, bottom, divisors);
  }

  private product(queue: Queue): number {
    while (queue.size > 1) {
      const x = this.pop(queue);
      const y = this.pop(queue);
      const id = this.first(x) < this.first(y) ? this.merge('*', x, y) : this.merge('*', y, x);
      queue.merged.push(~id);
    }
    return this.pop(queue);
  }
}

/**
 * Plan an expression: a DAG of binary ops with dense ids in topological order, chains regrouped
 * into balanced trees (see the module comment). A bare number gives no ops and a literal root.
 * @example plan(parse('1+2+3+4')).criticalPathOps // 2
 */
export function plan(ast: Ast): Plan {
  const builder = new Builder();
  const stack: Frame[] = [];
  let root: Operand | undefined;
  const first = builder.start(ast, false);
  if ('kind' in first) root = first;
  else stack.push(first);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.done < frame.count) {
      const started = builder.startLeaf(frame);
      if ('kind' in started) builder.attach(frame, started);
      else stack.push(started);
      continue;
    }
    const value = builder.finish(frame);
    stack.pop();
    const parent = stack[stack.length - 1];
    if (parent === undefined) root = value;
    else builder.attach(parent, value);
  }
  const ops = builder.ops;
  return {
    ops,
    root: root!,
    criticalPathOps: root!.kind === 'op' ? ops[root!.id]!.depth : 0,
  };
}

/** Milliseconds one operator takes under the given settings. */
export function durationOf(op: Operator, d: OperatorDurations): number {
  return d[DURATION_KEYS[op]];
}

/** Longest duration-weighted chain of ops: the run time with unlimited agents. */
export function criticalPathMs(p: Plan, d: OperatorDurations): number {
  const finish = new Float64Array(p.ops.length);
  let longest = 0;
  for (const op of p.ops) {
    const a = op.a.kind === 'op' ? finish[op.a.id]! : 0;
    const b = op.b.kind === 'op' ? finish[op.b.id]! : 0;
    const end = Math.max(a, b) + durationOf(op.op, d);
    finish[op.id] = end;
    if (end > longest) longest = end;
  }
  return longest;
}

/** Sum of all op durations: the run time with one worker slot. */
export function totalWorkMs(p: Plan, d: OperatorDurations): number {
  let total = 0;
  for (const op of p.ops) total += durationOf(op.op, d);
  return total;
}

/**
 * No schedule on `slots` parallel workers finishes sooner than this: the critical path, or the
 * total work spread evenly. `Infinity` when there is work and no slot.
 */
export function makespanLowerBound(p: Plan, d: OperatorDurations, slots: number): number {
  const total = totalWorkMs(p, d);
  if (total > 0 && !(slots >= 1)) return Infinity;
  return Math.max(criticalPathMs(p, d), total === 0 ? 0 : total / slots);
}

/**
 * For a `/` op: the column of the `/` whose divisor is zero, or `undefined` when none is. Checks
 * the op's `divisors` (which can be zero even when `b` is not: `a/(b/0)` computes `(a*0)/b`) in
 * evaluation order, then `b` itself. Run it before executing any `/` op.
 */
export function findZeroDivisor(op: PlanOp, valueOf: (o: Operand) => string): number | undefined {
  if (op.op !== '/') return undefined;
  for (const d of op.divisors ?? []) {
    if (isZero(valueOf(d.operand))) return d.slashPos;
  }
  return isZero(valueOf(op.b)) ? op.opPos : undefined;
}

/**
 * For a `/` op whose divisor is zero: the `slashPos` of the first zero divisor factor, falling
 * back to the op's own `opPos`.
 */
export function zeroDivisorPosition(op: PlanOp, valueOf: (o: Operand) => string): number {
  return findZeroDivisor(op, valueOf) ?? op.opPos;
}

/**
 * Sequential reference evaluation: ops in id order with `execute`. A literal root is returned in
 * canonical form, so results always look like `execute`'s.
 * @throws ExpressionistError `EXPR_DIV_ZERO` with the column of the offending `/`.
 */
export function evaluatePlan(p: Plan): string {
  const values: string[] = new Array<string>(p.ops.length);
  const valueOf = (o: Operand): string => {
    if (o.kind === 'lit') return o.value;
    const v = values[o.id];
    if (v === undefined) throw new RangeError(`Operand op ${o.id} is used before it is computed`);
    return v;
  };
  for (const op of p.ops) {
    if (op.op === '/') {
      const at = findZeroDivisor(op, valueOf);
      if (at !== undefined) {
        throw new ExpressionistError('EXPR_DIV_ZERO', `Division by zero at column ${at + 1}`, at);
      }
    }
    values[op.id] = execute(op.op, valueOf(op.a), valueOf(op.b));
  }
  return p.root.kind === 'lit' ? canonicalDecimal(p.root.value) : valueOf(p.root);
}

/** Parse, plan and normalize in one go: what the orchestrator does with a submitted expression. */
export function compile(
  source: string,
  limits?: Partial<ParseLimits>,
): { ast: Ast; plan: Plan; normalized: string } {
  const ast = parse(source, limits);
  return { ast, plan: plan(ast), normalized: normalize(ast) };
}
