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
  /** Ready op ids in FIFO order; `readyHead` is the next to hand out. */
  private readonly ready: number[] = [];
  private readyHead = 0;
  doneCount = 0;
  runningCount = 0;
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
    this.ready.push(opId);
  }

  /** Next ready op, skipping entries that stopped being ready (canceled, failed). */
  takeReady(): number | undefined {
    while (this.readyHead < this.ready.length) {
      const id = this.ready[this.readyHead]!;
      this.readyHead += 1;
      if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
        this.ready.splice(0, this.readyHead);
        this.readyHead = 0;
      }
      if (this.state[id] === OpState.Ready) return id;
    }
    return undefined;
  }

  get hasReady(): boolean {
    return this.readyHead < this.ready.length;
  }

  get readyCount(): number {
    return this.ready.length - this.readyHead;
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
