/** The four binary operators the engine knows. */
export type Operator = '+' | '-' | '*' | '/';

/** Half-open source range, 0-based columns: `start` inclusive, `end` exclusive. */
export interface Span {
  start: number;
  end: number;
}

/** Abstract syntax tree produced by the parser; every node keeps its source span. */
export type Ast =
  | { kind: 'num'; value: string; span: Span }
  | { kind: 'neg'; operand: Ast; span: Span }
  | { kind: 'bin'; op: Operator; left: Ast; right: Ast; span: Span; opPos: number };

/** An input of a planned operation: a literal decimal string or the result of another op. */
export type Operand = { kind: 'lit'; value: string } | { kind: 'op'; id: number };

/** A divisor factor of a regrouped division: where its `/` stood and which operand it is. */
export interface DivisorRef {
  operand: Operand;
  slashPos: number;
}

/** One binary operation of a plan. Ids are dense 0..n-1 and topologically ordered. */
export interface PlanOp {
  id: number;
  op: Operator;
  a: Operand;
  b: Operand;
  /** Source span of the (sub-)expression this operation computes. */
  span: Span;
  /** Column of the operator character this op stands for (for regrouped ops: the first one). */
  opPos: number;
  /** 1 + max depth of op inputs (literal inputs count 0). */
  depth: number;
  /** For `/` ops only: the original divisor factors multiplied into `b`, in source order. */
  divisors?: DivisorRef[];
}

/** Operation DAG for one expression. */
export interface Plan {
  ops: PlanOp[];
  /** Result of the whole expression: a literal (no ops at all) or the last op. */
  root: Operand;
  /** Longest chain of ops (= max depth), 0 when the expression is a literal. */
  criticalPathOps: number;
}

/** Limits enforced by the parser. */
export interface ParseLimits {
  maxLength: number;
  maxDepth: number;
}
