/**
 * Gathers what one event-loop turn queues for each destination and hands it on as one batch at the
 * end of the turn (in the order queued), split where a batch would outgrow a size bound.
 */

/** A batch over this many bytes (JSON, roughly) is split: one Redis entry stays small. */
export const MAX_BATCH_BYTES = 1024 * 1024;

export interface TurnBatcherOptions<T> {
  /** Hands on one batch for `key`: its items in the order they were added. */
  send: (key: string, items: T[]) => void;
  /** The item's size in bytes, roughly (default: its JSON's length). */
  sizeOf?: (item: T) => number;
  maxBytes?: number;
}

const jsonLength = (item: unknown): number => JSON.stringify(item).length;

/**
 * `add` queues an item for a destination; the first item of a turn schedules a flush with
 * `setImmediate`, which runs once the turn's I/O callbacks (every socket message read in it) are
 * done. `flush` sends at once (the bus calls it before any other message, to keep one instance's
 * messages in order). An item bigger than the bound travels alone; items are never cut.
 */
export class TurnBatcher<T> {
  private pending = new Map<string, { items: T[]; sizes: number[] }>();
  private scheduled: NodeJS.Immediate | null = null;
  private readonly sizeOf: (item: T) => number;
  private readonly maxBytes: number;

  constructor(private readonly o: TurnBatcherOptions<T>) {
    this.sizeOf = o.sizeOf ?? jsonLength;
    this.maxBytes = o.maxBytes ?? MAX_BATCH_BYTES;
  }

  add(key: string, item: T): void {
    let queue = this.pending.get(key);
    if (!queue) {
      queue = { items: [], sizes: [] };
      this.pending.set(key, queue);
    }
    queue.items.push(item);
    queue.sizes.push(this.sizeOf(item));
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Items queued and not sent yet, over every destination. */
  get queued(): number {
    let n = 0;
    for (const q of this.pending.values()) n += q.items.length;
    return n;
  }

  /** Sends everything queued now, one batch (or a few, split by size) per destination. */
  flush(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    if (this.pending.size === 0) return;
    const pending = this.pending;
    this.pending = new Map();
    for (const [key, { items, sizes }] of pending) {
      let start = 0;
      let bytes = 0;
      for (let i = 0; i < items.length; i += 1) {
        const size = sizes[i] ?? 0;
        if (i > start && bytes + size > this.maxBytes) {
          this.o.send(key, items.slice(start, i));
          start = i;
          bytes = 0;
        }
        bytes += size;
      }
      this.o.send(key, start === 0 ? items : items.slice(start));
    }
  }

  /** Drops whatever is queued (an instance that stops). */
  clear(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.pending = new Map();
  }
}
