/**
 * A chunk store: one optional value per operation of a run, in chunks made on first write, so a
 * 500,000-op run does not pay for a huge array up front.
 */

const CHUNK_BITS = 10;
const CHUNK = 1 << CHUNK_BITS;

/**
 * One optional value per op, in chunks of 1,024 made on first write. `new Array(n)` of a
 * 500,000-op run costs ~15 ms of one event-loop turn (per array); a small run gets one chunk of
 * its own size.
 */
export class Slots<T> {
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
