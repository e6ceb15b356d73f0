/**
 * One expression in flight: its operations' state machine (Waiting → Ready → Running → Storing →
 * Done), the values they wait for, and its progress.
 */
import type { ErrorInfo, ExpressionStatus, Operand, Operator, PlanOp } from '@expressionist/core';
import type { StoredExpression, StoredOpResult } from '../store/store.js';
import type { PlanSource } from './plan-source.js';

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

const EMPTY = new Int32Array(0);
const CHUNK_BITS = 10;
const CHUNK = 1 << CHUNK_BITS;

/**
 * One optional value per op, in chunks of 1,024 made on first write. `new Array(n)` of a
 * 500,000-op run costs ~15 ms of one event-loop turn (per array); a small run gets one chunk of
 * its own size.
 */
class Slots<T> {
  private readonly chunks: (T | undefined)[][];

  constructor(private readonly size: number) {
    this.chunks = new Array<(T | undefined)[]>((size + CHUNK - 1) >> CHUNK_BITS);
  }

  get(i: number): T | undefined {
    return this.chunks[i >> CHUNK_BITS]?.[i & (CHUNK - 1)];
  }

  set(i: number, value: T | undefined): void {
    const c = i >> CHUNK_BITS;
    const chunk = (this.chunks[c] ??= new Array<T | undefined>(
      Math.min(CHUNK, this.size - (c << CHUNK_BITS)),
    ));
    chunk[i & (CHUNK - 1)] = value;
  }
}

/** Passes of `ExpressionRun.setUp`, in order. */
const SetupPass = { Count: 0, Offsets: 1, Place: 2, Complete: 3 } as const;
type SetupPass = (typeof SetupPass)[keyof typeof SetupPass];

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
  /** Number of op inputs not yet known, per op. */
  private readonly pendingInputs: Int32Array;
  /**
   * Consumers of each op, compressed: those of op i are `consumerList[consumerStart[i] ..
   * consumerStart[i + 1])`. Two flat arrays instead of an array per op: a 500,000-op run
   * allocates no small objects here.
   */
  private readonly consumerStart: Int32Array;
  private consumerList: Int32Array = EMPTY;
  private readonly attempts: Int32Array;
  /** Attempts that counted against the operation (failures that say something about it). */
  private readonly failures: Int32Array;
  private readonly reassigned: Int32Array;
  private readonly agentIds: Slots<string>;
  /** Actors whose attempt on the op expired or failed: retries go elsewhere when they can. */
  private readonly avoided: Slots<string[]>;
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
  /** Setup (see `setUp`): which pass, and the next op id of that pass. */
  private setupPass: SetupPass = SetupPass.Count;
  private setupNext = 0;
  private done = 0;
  private ended = false;
  /** Bookkeeping of the dispatcher's ready ring (true while the run sits in it); nothing else. */
  inRing = false;

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
    this.pendingInputs = new Int32Array(n);
    this.consumerStart = new Int32Array(n + 1);
    this.attempts = new Int32Array(n);
    this.failures = new Int32Array(n);
    this.reassigned = new Int32Array(n);
    this.agentIds = new Slots(n);
    this.avoided = new Slots(n);
    this.startedAt = new Float64Array(n);
    this.finishedAt = new Float64Array(n);
    this.height = new Int32Array(n);
    if (!deferSetup) this.setUp(Infinity);
  }

  /** Whether the indexes are complete (always, unless the setup was deferred). */
  get isSetUp(): boolean {
    return this.setupPass === SetupPass.Complete;
  }

  /**
   * Builds the indexes for about `budget` ops (each pass is one walk over the ops); returns
   * whether they are complete. Passes: count each op's op inputs (and each op's consumers), sum
   * the consumer counts into offsets, then backwards (ids are topological, inputs first, so
   * consumers come before their inputs) place each op among its inputs' consumers and push its
   * height down to them.
   */
  setUp(budget: number): boolean {
    const n = this.total;
    const plan = this.plan;
    const start = this.consumerStart;
    let left = budget;
    while (left > 0 && this.setupPass !== SetupPass.Complete) {
      const from = this.setupNext;
      if (this.setupPass === SetupPass.Count) {
        const to = Math.min(n, from + left);
        for (let id = from; id < to; id += 1) {
          const a = plan.input(id, 0);
          const b = plan.input(id, 1);
          if (a >= 0) start[a]! += 1;
          if (b >= 0) start[b]! += 1;
          this.pendingInputs[id] = (a >= 0 ? 1 : 0) + (b >= 0 ? 1 : 0);
        }
        left -= to - from;
        this.setupNext = to;
        if (to === n) this.nextPass(SetupPass.Offsets, 0);
      } else if (this.setupPass === SetupPass.Offsets) {
        // Running sums: start[i] becomes the end of op i's consumers; the place pass moves it
        // back to their start.
        const to = Math.min(n, from + left);
        let sum = from === 0 ? 0 : start[from - 1]!;
        for (let id = from; id < to; id += 1) start[id] = sum += start[id]!;
        left -= to - from;
        this.setupNext = to;
        if (to === n) {
          start[n] = sum;
          this.consumerList = new Int32Array(sum);
          this.nextPass(SetupPass.Place, n - 1);
        }
      } else {
        const to = Math.max(-1, from - left);
        const list = this.consumerList;
        const height = this.height;
        for (let id = from; id > to; id -= 1) {
          // Its consumers, all placed already, pushed theirs: 0 means it has none (the root).
          if (height[id] === 0) height[id] = 1;
          const own = height[id]! + 1;
          const a = plan.input(id, 0);
          const b = plan.input(id, 1);
          if (a >= 0) {
            list[(start[a]! -= 1)] = id;
            if (height[a]! < own) height[a] = own;
          }
          if (b >= 0) {
            list[(start[b]! -= 1)] = id;
            if (height[b]! < own) height[b] = own;
          }
        }
        left -= from - to;
        this.setupNext = to;
        if (to === -1) this.nextPass(SetupPass.Complete, 0);
      }
    }
    return this.setupPass === SetupPass.Complete;
  }

  private nextPass(pass: SetupPass, next: number): void {
    this.setupPass = pass;
    this.setupNext = next;
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
    return this.state[id] === OpState.Waiting && this.pendingInputs[id] === 0;
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
    const released: number[] = [];
    const list = this.consumerList;
    for (let i = this.consumerStart[opId]!; i < this.consumerStart[opId + 1]!; i += 1) {
      const consumer = list[i]!;
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
