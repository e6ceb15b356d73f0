/**
 * What an `ExpressionRun` reads of its plan, in two forms behind one interface:
 *
 * - `ObjectPlan`: core's `Plan` of `PlanOp` objects, as `compile` gives it in-thread (every
 *   short expression, the common case; nothing is copied).
 * - `PackedPlanSource`: the typed-array form a planning worker sends back (`PackedPlan`), indexed
 *   as it is. A 1 MB expression has 500,000 operations; rebuilding them as objects on the main
 *   thread costs hundreds of ms of young-generation GC (every object survives, so every scavenge
 *   copies them all), and no slicing can spread a scavenge. Operations are built one at a time
 *   when something needs one (a dispatch, a view); the run's bookkeeping reads the rows.
 *
 * This file imports only `@expressionist/core` at run time (the planning worker imports it).
 */
import {
  findZeroDivisor,
  type Operand,
  type Operator,
  type Plan,
  type PlanOp,
} from '@expressionist/core';

/** int32s per op row: operator, a, b, span start, span end, opPos, depth, divisors from, to. */
export const OP_FIELDS = 9;

export const OPERATORS: readonly Operator[] = ['+', '-', '*', '/'];

/** A plan in transferable form. Operand refs: op id when ≥ 0, literal k when −(k + 1). */
export interface PackedPlan {
  ops: Int32Array;
  /** Every literal value, concatenated; literal k ends at `litEnds[k]`. */
  lits: string;
  litEnds: Int32Array;
  /** (operand ref, slash column) pairs; an op's are [from, to) of its row. */
  divisors: Int32Array;
  root: number;
  criticalPathOps: number;
  /** What `literalZeroDivisor` answers, found by the worker (−1: none). */
  zeroDivisor: number;
}

/** One plan, read by operation id (ids are dense 0..size-1 and topologically ordered). */
export interface PlanSource {
  readonly size: number;
  /** The whole expression's result: a literal (no ops at all) or the last op. */
  readonly root: Operand;
  readonly criticalPathOps: number;
  /** The operation as core describes it (built on demand for a packed plan). */
  op(id: number): PlanOp;
  operator(id: number): Operator;
  /** The op whose result is input `side` (0: a, 1: b) of op `id`, or −1 for a literal. */
  input(id: number, side: 0 | 1): number;
  /**
   * The column of the first `/` whose divisor is a literal zero, in op order, counting unknown
   * operands as non-zero (the check intake makes before anything is sent), or undefined.
   */
  literalZeroDivisor(): number | undefined;
}

const literalOrOne = (o: Operand): string => (o.kind === 'lit' ? o.value : '1');

/** The first literal zero divisor of `ops`, as `PlanSource.literalZeroDivisor` says. */
export function firstLiteralZeroDivisor(ops: readonly PlanOp[]): number | undefined {
  for (const op of ops) {
    const position = findZeroDivisor(op, literalOrOne);
    if (position !== undefined) return position;
  }
  return undefined;
}

/** Core's object plan, as compiled in-thread. */
export class ObjectPlan implements PlanSource {
  constructor(readonly plan: Plan) {}

  get size(): number {
    return this.plan.ops.length;
  }

  get root(): Operand {
    return this.plan.root;
  }

  get criticalPathOps(): number {
    return this.plan.criticalPathOps;
  }

  op(id: number): PlanOp {
    return this.plan.ops[id]!;
  }

  operator(id: number): Operator {
    return this.plan.ops[id]!.op;
  }

  input(id: number, side: 0 | 1): number {
    const op = this.plan.ops[id]!;
    const operand = side === 0 ? op.a : op.b;
    return operand.kind === 'op' ? operand.id : -1;
  }

  literalZeroDivisor(): number | undefined {
    return firstLiteralZeroDivisor(this.plan.ops);
  }
}

/** A worker's packed plan, indexed in place. */
export class PackedPlanSource implements PlanSource {
  readonly size: number;
  readonly root: Operand;

  constructor(private readonly p: PackedPlan) {
    this.size = p.ops.length / OP_FIELDS;
    this.root = this.operand(p.root);
  }

  get criticalPathOps(): number {
    return this.p.criticalPathOps;
  }

  private operand(ref: number): Operand {
    if (ref >= 0) return { kind: 'op', id: ref };
    const k = -ref - 1;
    const ends = this.p.litEnds;
    return { kind: 'lit', value: this.p.lits.slice(k === 0 ? 0 : ends[k - 1], ends[k]) };
  }

  op(id: number): PlanOp {
    const o = this.p.ops;
    const r = id * OP_FIELDS;
    const op: PlanOp = {
      id,
      op: OPERATORS[o[r]!]!,
      a: this.operand(o[r + 1]!),
      b: this.operand(o[r + 2]!),
      span: { start: o[r + 3]!, end: o[r + 4]! },
      opPos: o[r + 5]!,
      depth: o[r + 6]!,
    };
    const from = o[r + 7]!;
    if (from >= 0) {
      const to = o[r + 8]!;
      const d = this.p.divisors;
      const divisors = [];
      for (let i = from; i < to; i += 2)
        divisors.push({ operand: this.operand(d[i]!), slashPos: d[i + 1]! });
      op.divisors = divisors;
    }
    return op;
  }

  operator(id: number): Operator {
    return OPERATORS[this.p.ops[id * OP_FIELDS]!]!;
  }

  input(id: number, side: 0 | 1): number {
    const ref = this.p.ops[id * OP_FIELDS + 1 + side]!;
    return ref >= 0 ? ref : -1;
  }

  literalZeroDivisor(): number | undefined {
    return this.p.zeroDivisor >= 0 ? this.p.zeroDivisor : undefined;
  }
}
