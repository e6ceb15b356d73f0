/**
 * One unfinished expression's live scheduling state and its operation state machine, the only
 * place an operation changes state (its data structures: slots, consumer-index, ready-heap).
 */
import type { ErrorInfo, ExpressionStatus, Operand, Operator, PlanOp } from '@expressionist/core';
import type { StoredExpression, StoredOpResult } from '../store/store.js';
import { ConsumerIndex } from './consumer-index.js';
import type { PlanSource } from './plan-source.js';
import { ReadyHeap } from './ready-heap.js';
import { Slots } from './slots.js';

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
  private readonly values: Slots<string>;
  /** Consumers, inputs not yet known and heights of the ops (see consumer-index.ts). */
  private readonly index: ConsumerIndex;
  private readonly attempts: Int32Array;
  /** Attempts that counted against the operation (failures that say something about it). */
  private readonly failures: Int32Array;
  private readonly reassigned: Int32Array;
  private readonly agentIds: Slots<string>;
  /** Actors whose attempt on the op expired or failed: retries go elsewhere when they can. */
  private readonly avoided: Slots<string[]>;
  private readonly startedAt: Float64Array;
  private readonly finishedAt: Float64Array;
  /** Ready op ids, critical path first (see ready-heap.ts). */
  private readonly ready: ReadyHeap;
  private done = 0;
  private ended = false;
  /** Bookkeeping of the ready queue (true while the run sits in it); nothing else. */
  inReadyQueue = false;

  /**
   * With `deferSetup`, the indexes (consumers, heights) are built later by `setUp` calls, a slice
   * at a time; until `isSetUp`, the run must not be readied (its state and views are valid).
   */
  constructor(
    private readonly record: StoredExpression,
    readonly plan: PlanSource,
    deferSetup = false,
  ) {
    const n = plan.size;
    this.total = n;
    this.state = new Uint8Array(n);
    this.values = new Slots(n);
    this.index = new ConsumerIndex(plan);
    this.attempts = new Int32Array(n);
    this.failures = new Int32Array(n);
    this.reassigned = new Int32Array(n);
    this.agentIds = new Slots(n);
    this.avoided = new Slots(n);
    this.startedAt = new Float64Array(n);
    this.finishedAt = new Float64Array(n);
    this.ready = new ReadyHeap(this.index.height);
    if (!deferSetup) this.setUp(Infinity);
  }

  /** Whether the indexes are complete (always, unless the setup was deferred). */
  get isSetUp(): boolean {
    return this.index.isComplete;
  }

  /**
   * Builds the indexes for about `budget` ops (see `ConsumerIndex.build`); returns whether they
   * are complete.
   */
  setUp(budget: number): boolean {
    return this.index.build(budget);
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

  /** Operation `id` as core describes it (built on demand from a packed plan). */
  op(id: number): PlanOp {
    return this.plan.op(id);
  }

  operatorOf(id: number): Operator {
    return this.plan.operator(id);
  }

  /** The op whose result is input `side` (0: a, 1: b) of op `id`, or −1 for a literal. */
  inputOf(id: number, side: 0 | 1): number {
    return this.plan.input(id, side);
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
    return this.agentIds.get(opId);
  }

  /** Actors a retry of `opId` should avoid while another can take it. */
  avoidedBy(opId: number): readonly string[] | undefined {
    return this.avoided.get(opId);
  }

  startedAtOf(opId: number): number {
    return this.startedAt[opId]!;
  }

  finishedAtOf(opId: number): number {
    return this.finishedAt[opId]!;
  }

  resultOf(opId: number): string | undefined {
    return this.values.get(opId);
  }

  /** Value of an operand, when known. */
  valueOf(operand: Operand): string | undefined {
    return operand.kind === 'lit' ? operand.value : this.values.get(operand.id);
  }

  /** Ops that can run: inputs all known, not yet started or done. */
  computable(): number[] {
    const ids: number[] = [];
    for (let i = 0; i < this.total; i += 1) if (this.isComputable(i)) ids.push(i);
    return ids;
  }

  /** Whether op `id` can run: inputs all known, not yet started or done. */
  isComputable(id: number): boolean {
    return this.state[id] === OpState.Waiting && this.index.pendingInputs[id] === 0;
  }

  /** Waiting/Running → Ready: queues the op in critical-path order. */
  markReady(opId: number): void {
    this.state[opId] = OpState.Ready;
    this.ready.push(opId);
  }

  /** Next ready op (critical path first), skipping entries that stopped being ready. */
  takeReady(): number | undefined {
    for (let top = this.ready.pop(); top !== undefined; top = this.ready.pop())
      if (this.state[top] === OpState.Ready) return top;
    return undefined;
  }

  get hasReady(): boolean {
    return this.ready.size > 0;
  }

  get readyCount(): number {
    return this.ready.size;
  }

  /**
   * Ready → Running for a new attempt held by `agentId`; returns the attempt number. The first
   * attempt of the expression also moves it pending → in_progress (`started` says so).
   */
  startAttempt(opId: number, agentId: string, now: number): { attempt: number; started: boolean } {
    this.attempts[opId]! += 1;
    this.state[opId] = OpState.Running;
    this.agentIds.set(opId, agentId);
    this.startedAt[opId] = now;
    const started = this.record.status === 'pending';
    if (started) {
      this.record.status = 'in_progress';
      this.record.startedAt = now;
    }
    return { attempt: this.attempts[opId]!, started };
  }

  /**
   * An attempt ended without a result. `counts` says whether it is shown as a failed attempt;
   * `avoid` names an actor the retry should skip while another can take it (at most `keep`
   * actors are remembered, the latest). Returns the number of failed attempts so far. The caller
   * re-queues it (`markReady`).
   */
  retry(opId: number, counts: boolean, avoid?: string, keep = Number.POSITIVE_INFINITY): number {
    this.reassigned[opId]! += 1;
    if (counts) this.failures[opId]! += 1;
    if (avoid !== undefined) {
      const list = this.avoided.get(opId);
      if (list === undefined) this.avoided.set(opId, [avoid]);
      else if (!list.includes(avoid)) {
        list.push(avoid);
        if (list.length > keep) list.splice(0, list.length - keep);
      }
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
    this.values.set(opId, value);
    this.finishedAt[opId] = now;
    if (this.avoided.get(opId) !== undefined) this.avoided.set(opId, undefined);
    this.done += 1;
    return this.index.release(opId);
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
      this.agentIds.set(result.opId, result.agentId);
      this.attempts[result.opId] = result.attempt;
      if (this.isRoot(result.opId)) rootValue = result.value;
    }
    return rootValue;
  }

  /** True when `opId` is the plan's root. */
  isRoot(opId: number): boolean {
    const root = this.plan.root;
    return root.kind === 'op' && root.id === opId;
  }
}
