/**
 * The ready queue: expressions with ready operations, served round-robin over owners, then over
 * each owner's expressions (within one expression, critical path first).
 */
import type { ExpressionRun } from './expression-run.js';

/**
 * A FIFO queue on an array with a moving head: O(1) push and shift, the consumed prefix dropped
 * in one splice once it is most of the array (a plain `shift()` is O(n) per call).
 */
class Fifo<T> {
  private readonly items: T[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  get isEmpty(): boolean {
    return this.head >= this.items.length;
  }

  /** The queued items, front first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i += 1) yield this.items[i]!;
  }
}

/** Expressions of one owner with ready operations, in the order they are served. */
class Lane {
  private readonly runs = new Fifo<ExpressionRun>();
  /** Whether the lane is in the queue's round of owners. */
  queued = false;

  constructor(readonly owner: string) {}

  enqueue(run: ExpressionRun): void {
    if (run.inReadyQueue) return;
    run.inReadyQueue = true;
    this.runs.push(run);
  }

  get isEmpty(): boolean {
    return this.runs.isEmpty;
  }

  /** Next ready operation, round-robin across this owner's expressions. */
  take(): { run: ExpressionRun; opId: number } | undefined {
    for (let run = this.runs.shift(); run !== undefined; run = this.runs.shift()) {
      const opId = run.finished ? undefined : run.takeReady();
      if (opId === undefined) {
        run.inReadyQueue = false;
        continue;
      }
      if (run.hasReady) this.runs.push(run);
      else run.inReadyQueue = false;
      return { run, opId };
    }
    return undefined;
  }

  get readyCount(): number {
    let count = 0;
    for (const run of this.runs) count += run.readyCount;
    return count;
  }
}

/**
 * Expressions with ready operations, served round-robin over owners first, then over that
 * owner's expressions: one user's 10,000 expressions get the same share as another's one, and a
 * huge expression cannot starve a small one. Within one expression the run's own heap gives
 * critical-path-first order. Open mode has one owner (nobody), so it is one round-robin over
 * expressions, as before accounts.
 */
export class ReadyQueue {
  private readonly lanes = new Map<string, Lane>();
  /** Owners' lanes in turn order (the round of owners). */
  private readonly round = new Fifo<Lane>();

  /** Puts a run that has ready work in the queue (once). */
  enqueue(run: ExpressionRun): void {
    if (run.inReadyQueue) return;
    const owner = run.stored.owner ?? '';
    let lane = this.lanes.get(owner);
    if (!lane) this.lanes.set(owner, (lane = new Lane(owner)));
    lane.enqueue(run);
    if (lane.queued) return;
    lane.queued = true;
    this.round.push(lane);
  }

  get isEmpty(): boolean {
    return this.round.isEmpty;
  }

  /** Next ready operation: the next owner's turn, then that owner's next expression. */
  take(): { run: ExpressionRun; opId: number } | undefined {
    for (let lane = this.round.shift(); lane !== undefined; lane = this.round.shift()) {
      const next = lane.take();
      if (next && !lane.isEmpty) {
        this.round.push(lane);
        return next;
      }
      lane.queued = false;
      // An owner with nothing queued is forgotten, so lanes do not pile up per user.
      if (lane.isEmpty) this.lanes.delete(lane.owner);
      if (next) return next;
    }
    return undefined;
  }

  /**
   * Takes the next ready operation that need not avoid the actor `actorKey` (one whose earlier
   * attempt expired or failed on it), as long as another agent can take those later; the skipped
   * ones go back. Looks at most `limit` operations deep.
   */
  takeFor(
    actorKey: string,
    someoneElse: (avoid: readonly string[]) => boolean,
    limit = 64,
  ): { run: ExpressionRun; opId: number } | undefined {
    const skipped: { run: ExpressionRun; opId: number }[] = [];
    let found: { run: ExpressionRun; opId: number } | undefined;
    for (let i = 0; i < limit; i += 1) {
      const next = this.take();
      if (!next) break;
      const avoid = next.run.avoidedBy(next.opId);
      if (avoid?.includes(actorKey) && someoneElse(avoid)) skipped.push(next);
      else {
        found = next;
        break;
      }
    }
    this.putBack(skipped);
    return found;
  }

  /** Returns taken but unassigned operations to the queue. */
  putBack(ops: readonly { run: ExpressionRun; opId: number }[]): void {
    for (const { run, opId } of ops) {
      if (run.finished) continue;
      run.markReady(opId);
      this.enqueue(run);
    }
  }

  /** Ready operations queued (an upper bound: entries that stopped being ready count). */
  get readyCount(): number {
    let count = 0;
    for (const lane of this.round) count += lane.readyCount;
    return count;
  }
}
