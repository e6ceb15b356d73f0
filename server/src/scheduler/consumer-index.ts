/**
 * The consumer index of a run: each op's consumers, its inputs not yet known and its height,
 * built from the plan a slice at a time (see `ExpressionRun.setUp`).
 */
import type { PlanSource } from './plan-source.js';

const EMPTY = new Int32Array(0);

/** Passes of `ConsumerIndex.build`, in order. */
const SetupPass = { Count: 0, Offsets: 1, Place: 2, Complete: 3 } as const;
type SetupPass = (typeof SetupPass)[keyof typeof SetupPass];

/** Who consumes each op's result, how many inputs each op still waits for, and each op's height. */
export class ConsumerIndex {
  /** Number of op inputs not yet known, per op. */
  readonly pendingInputs: Int32Array;
  /**
   * Consumers of each op, compressed: those of op i are `consumerList[consumerStart[i] ..
   * consumerStart[i + 1])`. Two flat arrays instead of an array per op: a 500,000-op run
   * allocates no small objects here.
   */
  private readonly consumerStart: Int32Array;
  private consumerList: Int32Array = EMPTY;
  /** Ops on the longest path from each op to the root, counting itself. */
  readonly height: Int32Array;
  /** Setup (see `build`): which pass, and the next op id of that pass. */
  private setupPass: SetupPass = SetupPass.Count;
  private setupNext = 0;

  constructor(private readonly plan: PlanSource) {
    const n = plan.size;
    this.pendingInputs = new Int32Array(n);
    this.consumerStart = new Int32Array(n + 1);
    this.height = new Int32Array(n);
  }

  /** Whether the index is complete. */
  get isComplete(): boolean {
    return this.setupPass === SetupPass.Complete;
  }

  /**
   * Builds the index for about `budget` ops (each pass is one walk over the ops); returns
   * whether it is complete. Passes: count each op's op inputs (and each op's consumers), sum
   * the consumer counts into offsets, then backwards (ids are topological, inputs first, so
   * consumers come before their inputs) place each op among its inputs' consumers and push its
   * height down to them.
   */
  build(budget: number): boolean {
    const plan = this.plan;
    const n = plan.size;
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

  /** The result of `opId` became known: returns its consumers whose inputs are now all known. */
  release(opId: number): number[] {
    const released: number[] = [];
    const list = this.consumerList;
    for (let i = this.consumerStart[opId]!; i < this.consumerStart[opId + 1]!; i += 1) {
      const consumer = list[i]!;
      this.pendingInputs[consumer]! -= 1;
      if (this.pendingInputs[consumer] === 0) released.push(consumer);
    }
    return released;
  }
}
