/**
 * Throughput: completed operations per second over the last few whole seconds (stats, dashboard).
 */

const THROUGHPUT_WINDOW_S = 5;

/** Completed operations per second over the last few whole seconds. */
export class Throughput {
  /** Completions per second in a small ring; `slotSecond` says which second a slot counts. */
  private readonly completions = new Array<number>(THROUGHPUT_WINDOW_S + 1).fill(0);
  private readonly slotSecond = new Array<number>(THROUGHPUT_WINDOW_S + 1).fill(-1);

  count(now: number): void {
    const second = Math.floor(now / 1000);
    const slot = second % this.completions.length;
    if (this.slotSecond[slot] !== second) {
      this.slotSecond[slot] = second;
      this.completions[slot] = 0;
    }
    this.completions[slot]! += 1;
  }

  perSecond(now: number): number {
    const second = Math.floor(now / 1000);
    let total = 0;
    // Whole seconds before the current one, so the rate is not diluted by a partial second.
    for (let back = 1; back <= THROUGHPUT_WINDOW_S; back += 1) {
      const slot = (second - back) % this.completions.length;
      if (this.slotSecond[slot] === second - back) total += this.completions[slot]!;
    }
    return total / THROUGHPUT_WINDOW_S;
  }
}
