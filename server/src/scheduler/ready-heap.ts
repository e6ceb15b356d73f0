/**
 * The ready operations of one run as a binary max-heap on their height: the order in which a
 * run hands out its ready work (critical path first).
 */

/**
 * Ready op ids as a binary max-heap on `height` (the longest chain of ops from it to the root),
 * ties to the lower id: the classic critical-path-first list-scheduling order, so the ops that
 * hold up the most work start first. Entries that stopped being ready are skipped lazily by the
 * caller (see `ExpressionRun.takeReady`).
 */
export class ReadyHeap {
  private readonly heap: number[] = [];

  /** `height`: ops on the longest path from each op to the root, counting itself. */
  constructor(private readonly height: Int32Array) {}

  push(opId: number): void {
    const heap = this.heap;
    let index = heap.push(opId) - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(opId, heap[parent]!)) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = opId;
  }

  /** Removes and returns the top entry (undefined when empty). */
  pop(): number | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && this.before(heap[right]!, heap[left]!) ? right : left;
        if (!this.before(heap[child]!, last)) break;
        heap[index] = heap[child]!;
        index = child;
      }
      heap[index] = last;
    }
    return top;
  }

  /** Heap order: higher first, then lower id (source order) first. */
  private before(x: number, y: number): boolean {
    const hx = this.height[x]!;
    const hy = this.height[y]!;
    return hx !== hy ? hx > hy : x < y;
  }

  /** Entries held (an upper bound on ready ops: entries that stopped being ready count). */
  get size(): number {
    return this.heap.length;
  }
}
