import type { Operand, Plan, PlanOp } from '@expressionist/core';
import type { StoredExpression, StoredOpResult } from '../store/store.js';

/** Internal per-operation state; `storing` = verified result waiting for its store write. */
export const OpState = {
  Waiting: 0,
  Ready: 1,
  Running: 2,
  Storing: 3,
  Done: 4,
  Failed: 5,
  Canceled: 6,
} as const;
export type OpState = (typeof OpState)[keyof typeof OpState];

/**
 * Live scheduling state of one unfinished expression: its plan and, per operation, state, input
 * readiness, attempt counters and results. Dense typed arrays keep a 100,000-operation expression
 * small. Finished expressions are dropped from memory; the store has them.
 */
export class ExpressionRun {
  readonly total: number;
  readonly state: Uint8Array;
  readonly values: (string | undefined)[];
  /** Number of op inputs not yet known, per op. */
  readonly pendingInputs: Int32Array;
  /** Consumers of each op (at most two inputs each, so consumers are few). */
  readonly consumers: number[][];
  readonly attempt: Int32Array;
  readonly reassigned: Int32Array;
  readonly agentId: (string | undefined)[];
  /** Agent whose lease on the op expired: the retry goes elsewhere when another slot is free. */
  readonly avoidAgent: (string | undefined)[];
  readonly startedAt: Float64Array;
  readonly finishedAt: Float64Array;
  /**
   * Ready op ids as a binary max-heap on `height` (the longest chain of ops from it to the root),
   * ties to the lower id: the classic critical-path-first list-scheduling order, so the ops that
   * hold up the most work start first. Entries that stopped being ready are skipped lazily.
   */
  private readonly ready: number[] = [];
  /** Ops on the longest path from each op to the root, counting itself. */
  private readonly height: Int32Array;
  doneCount = 0;
  /** True while the run sits in the scheduler's round-robin ring. */
  inRing = false;
  finished = false;

  constructor(
    readonly stored: StoredExpression,
    readonly plan: Plan,
  ) {
    const n = plan.ops.length;
    this.total = n;
    this.state = new Uint8Array(n);
    this.values = new Array<string | undefined>(n);
    this.pendingInputs = new Int32Array(n);
    this.consumers = Array.from({ length: n }, () => []);
    this.attempt = new Int32Array(n);
    this.reassigned = new Int32Array(n);
    this.agentId = new Array<string | undefined>(n);
    this.avoidAgent = new Array<string | undefined>(n);
    this.startedAt = new Float64Array(n);
    this.finishedAt = new Float64Array(n);
    for (const op of plan.ops) {
      for (const input of [op.a, op.b]) {
        if (input.kind === 'op') {
          this.pendingInputs[op.id]! += 1;
          this.consumers[input.id]!.push(op.id);
        }
      }
    }
    // Ids are topological (inputs first), so walking backwards sees consumers before inputs.
    this.height = new Int32Array(n);
    for (let id = n - 1; id >= 0; id -= 1) {
      let above = 0;
      for (const consumer of this.consumers[id]!) above = Math.max(above, this.height[consumer]!);
      this.height[id] = above + 1;
    }
  }

  get id(): string {
    return this.stored.id;
  }

  op(id: number): PlanOp {
    return this.plan.ops[id]!;
  }

  /** Value of an operand, when known. */
  valueOf(operand: Operand): string | undefined {
    return operand.kind === 'lit' ? operand.value : this.values[operand.id];
  }

  /** Ops whose inputs are all literals: the first ready set. */
  initialReady(): number[] {
    const ids: number[] = [];
    for (let i = 0; i < this.total; i += 1) if (this.pendingInputs[i] === 0) ids.push(i);
    return ids;
  }

  pushReady(opId: number): void {
    this.state[opId] = OpState.Ready;
    const heap = this.ready;
    let index = heap.push(opId) - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(opId, heap[parent]!)) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = opId;
  }

  /** Next ready op (critical path first), skipping entries that stopped being ready. */
  takeReady(): number | undefined {
    const heap = this.ready;
    while (heap.length > 0) {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        let index = 0;
        for (;;) {
          const left = 2 * index + 1;
          if (left >= heap.length) break;
          const right = left + 1;
          const child =
            right < heap.length && this.before(heap[right]!, heap[left]!) ? right : left;
          if (!this.before(heap[child]!, last)) break;
          heap[index] = heap[child]!;
          index = child;
        }
        heap[index] = last;
      }
      if (this.state[top] === OpState.Ready) return top;
    }
    return undefined;
  }

  /** Heap order: higher first, then lower id (source order) first. */
  private before(x: number, y: number): boolean {
    const hx = this.height[x]!;
    const hy = this.height[y]!;
    return hx !== hy ? hx > hy : x < y;
  }

  get hasReady(): boolean {
    return this.ready.length > 0;
  }

  get readyCount(): number {
    return this.ready.length;
  }

  /** Records a stored result; returns consumers that became computable. */
  complete(opId: number, value: string, now: number): number[] {
    this.state[opId] = OpState.Done;
    this.values[opId] = value;
    this.finishedAt[opId] = now;
    this.doneCount += 1;
    const released: number[] = [];
    for (const consumer of this.consumers[opId]!) {
      this.pendingInputs[consumer]! -= 1;
      if (this.pendingInputs[consumer] === 0) released.push(consumer);
    }
    return released;
  }

  /**
   * Applies results recorded in the store (after a restart, or to show a finished expression);
   * returns the root's value when it is among them.
   */
  restore(results: readonly StoredOpResult[]): string | undefined {
    let rootValue: string | undefined;
    for (const result of results) {
      if (result.opId >= this.total || this.state[result.opId] === OpState.Done) continue;
      this.complete(result.opId, result.value, result.finishedAt);
      this.agentId[result.opId] = result.agentId;
      this.attempt[result.opId] = result.attempt;
      if (this.isRoot(result.opId)) rootValue = result.value;
    }
    return rootValue;
  }

  /** True when `opId` is the plan's root. */
  isRoot(opId: number): boolean {
    return this.plan.root.kind === 'op' && this.plan.root.id === opId;
  }
}
