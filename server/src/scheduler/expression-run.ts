import type { ErrorInfo, ExpressionStatus, Operand, Plan, PlanOp } from '@expressionist/core';
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

/** How an expression ends. `cacheable` errors (division by zero) are answered from the cache. */
export type RunEnd =
  | { status: 'done'; value: string }
  | { status: 'error' | 'canceled'; error: ErrorInfo; cacheable?: boolean };

/**
 * Live scheduling state of one unfinished expression: its plan and, per operation, state, input
 * readiness, attempt counters and results. Dense typed arrays keep a 100,000-operation expression
 * small. Finished expressions are dropped from memory; the store has them.
 *
 * The operation state machine lives here and only here; every transition is one method:
 *
 *   Waiting ──(last input known: markReady)──▶ Ready ──(startAttempt)──▶ Running
 *   Running ──(verified: markStoring)──▶ Storing ──(stored: complete)──▶ Done
 *   Running ──(lease lost/expired, agent error: retry + markReady)──▶ Ready
 *   any state but Done/Storing ──(finish: error or cancel)──▶ Failed | Canceled
 *
 * and the expression's own: pending ──(first attempt: startAttempt)──▶ in_progress ──(finish)──▶
 * done | error | canceled.
 */
export class ExpressionRun {
  readonly total: number;
  private readonly state: Uint8Array;
  private readonly values: (string | undefined)[];
  /** Number of op inputs not yet known, per op. */
  private readonly pendingInputs: Int32Array;
  /** Consumers of each op (at most two inputs each, so consumers are few). */
  private readonly consumers: number[][];
  private readonly attempts: Int32Array;
  /** Attempts that counted against the operation (failures that say something about it). */
  private readonly failures: Int32Array;
  private readonly reassigned: Int32Array;
  private readonly agentIds: (string | undefined)[];
  /** Agents whose attempt on the op expired or failed: retries go elsewhere when they can. */
  private readonly avoided: (string[] | undefined)[];
  private readonly startedAt: Float64Array;
  private readonly finishedAt: Float64Array;
  /**
   * Ready op ids as a binary max-heap on `height` (the longest chain of ops from it to the root),
   * ties to the lower id: the classic critical-path-first list-scheduling order, so the ops that
   * hold up the most work start first. Entries that stopped being ready are skipped lazily.
   */
  private readonly ready: number[] = [];
  /** Ops on the longest path from each op to the root, counting itself. */
  private readonly height: Int32Array;
  private done = 0;
  private ended = false;
  /** Bookkeeping of the dispatcher's ready ring (true while the run sits in it); nothing else. */
  inRing = false;

  constructor(
    private readonly record: StoredExpression,
    readonly plan: Plan,
  ) {
    const n = plan.ops.length;
    this.total = n;
    this.state = new Uint8Array(n);
    this.values = new Array<string | undefined>(n);
    this.pendingInputs = new Int32Array(n);
    this.consumers = Array.from({ length: n }, () => []);
    this.attempts = new Int32Array(n);
    this.failures = new Int32Array(n);
    this.reassigned = new Int32Array(n);
    this.agentIds = new Array<string | undefined>(n);
    this.avoided = new Array<string[] | undefined>(n);
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
    return this.record.id;
  }

  /** The expression as stored, kept current by the transitions below. */
  get stored(): Readonly<StoredExpression> {
    return this.record;
  }

  get finished(): boolean {
    return this.ended;
  }

  get doneCount(): number {
    return this.done;
  }

  op(id: number): PlanOp {
    return this.plan.ops[id]!;
  }

  stateOf(opId: number): OpState {
    return this.state[opId] as OpState;
  }

  attemptOf(opId: number): number {
    return this.attempts[opId]!;
  }

  failuresOf(opId: number): number {
    return this.failures[opId]!;
  }

  reassignedOf(opId: number): number {
    return this.reassigned[opId]!;
  }

  agentOf(opId: number): string | undefined {
    return this.agentIds[opId];
  }

  /** Agents a retry of `opId` should avoid while another can take it. */
  avoidedBy(opId: number): readonly string[] | undefined {
    return this.avoided[opId];
  }

  startedAtOf(opId: number): number {
    return this.startedAt[opId]!;
  }

  finishedAtOf(opId: number): number {
    return this.finishedAt[opId]!;
  }

  resultOf(opId: number): string | undefined {
    return this.values[opId];
  }

  /** Value of an operand, when known. */
  valueOf(operand: Operand): string | undefined {
    return operand.kind === 'lit' ? operand.value : this.values[operand.id];
  }

  /** Ops that can run: inputs all known, not yet started or done. */
  computable(): number[] {
    const ids: number[] = [];
    for (let i = 0; i < this.total; i += 1)
      if (this.state[i] === OpState.Waiting && this.pendingInputs[i] === 0) ids.push(i);
    return ids;
  }

  /** Waiting/Running → Ready: queues the op in critical-path order. */
  markReady(opId: number): void {
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

  /**
   * Ready → Running for a new attempt held by `agentId`; returns the attempt number. The first
   * attempt of the expression also moves it pending → in_progress (`started` says so).
   */
  startAttempt(opId: number, agentId: string, now: number): { attempt: number; started: boolean } {
    this.attempts[opId]! += 1;
    this.state[opId] = OpState.Running;
    this.agentIds[opId] = agentId;
    this.startedAt[opId] = now;
    const started = this.record.status === 'pending';
    if (started) {
      this.record.status = 'in_progress';
      this.record.startedAt = now;
    }
    return { attempt: this.attempts[opId]!, started };
  }

  /**
   * An attempt ended without a result. `counts` says whether it says something about the
   * operation (and uses up one of its attempts); `avoid` names an agent the retry should skip.
   * Returns the number of counted failures so far. The caller re-queues it (`markReady`).
   */
  retry(opId: number, counts: boolean, avoid?: string): number {
    this.reassigned[opId]! += 1;
    if (counts) this.failures[opId]! += 1;
    if (avoid !== undefined) {
      const list = (this.avoided[opId] ??= []);
      if (!list.includes(avoid)) list.push(avoid);
    }
    return this.failures[opId]!;
  }

  /** Running → Storing: verified, waiting for the store to confirm. */
  markStoring(opId: number): void {
    this.state[opId] = OpState.Storing;
  }

  /** Storing → Done with the stored result; returns consumers that became computable. */
  complete(opId: number, value: string, now: number): number[] {
    this.state[opId] = OpState.Done;
    this.values[opId] = value;
    this.finishedAt[opId] = now;
    this.avoided[opId] = undefined;
    this.done += 1;
    const released: number[] = [];
    for (const consumer of this.consumers[opId]!) {
      this.pendingInputs[consumer]! -= 1;
      if (this.pendingInputs[consumer] === 0) released.push(consumer);
    }
    return released;
  }

  /**
   * Ends the expression: every op not done (or being stored) becomes failed/canceled, and the
   * stored record takes the outcome. Returns the ops whose state changed.
   */
  finish(end: RunEnd, now: number): number[] {
    this.ended = true;
    const changed = this.settleOps(end.status);
    const record = this.record;
    record.status = end.status;
    record.finishedAt = now;
    record.startedAt ??= now;
    if (end.status === 'done') record.value = end.value;
    else record.error = end.error;
    return changed;
  }

  /** Marks every op that did not finish as failed or canceled, per the expression's `status`. */
  settleOps(status: ExpressionStatus): number[] {
    const changed: number[] = [];
    if (status === 'done') return changed;
    const to = status === 'canceled' ? OpState.Canceled : OpState.Failed;
    for (let i = 0; i < this.total; i += 1) {
      const state = this.state[i];
      if (state !== OpState.Done && state !== OpState.Storing) {
        this.state[i] = to;
        changed.push(i);
      }
    }
    return changed;
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
      this.agentIds[result.opId] = result.agentId;
      this.attempts[result.opId] = result.attempt;
      if (this.isRoot(result.opId)) rootValue = result.value;
    }
    return rootValue;
  }

  /** True when `opId` is the plan's root. */
  isRoot(opId: number): boolean {
    return this.plan.root.kind === 'op' && this.plan.root.id === opId;
  }
}
