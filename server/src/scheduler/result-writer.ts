/**
 * Writes operation results to the store in growing batches; a result counts once it is stored.
 */
import type { Logger } from 'pino';
import type { Store, StoredOpResult } from '../store/store.js';

interface PendingWrite {
  result: StoredOpResult;
  onStored: () => void;
}

/**
 * Batches operation results into store writes. While one write is in flight, new results gather
 * into the next batch, so batch size grows with load and a write never waits on a timer. A result
 * is handed back (`onStored`) only after the store confirmed it — that is the durability guarantee.
 * A failed write is retried with backoff; results stay in memory until stored.
 */
export class ResultWriter {
  private queue: PendingWrite[] = [];
  private writing = false;
  private retryDelayMs = 0;
  /** A write is scheduled for the end of this event-loop turn. */
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly onWrite?: (rows: number, ms: number, ok: boolean) => void,
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  add(result: StoredOpResult, onStored: () => void): void {
    this.queue.push({ result, onStored });
    if (this.writing || this.retryDelayMs > 0 || this.scheduled) return;
    // Start the write after the current event-loop turn, not now: every result that arrives in
    // this turn (all of a results message, and the messages of other agents read in the same
    // poll) then shares one transaction instead of the first one getting its own.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.writing && this.retryDelayMs === 0 && this.queue.length > 0) void this.writeBatch();
    });
  }

  /** Resolves when every queued result has been stored. */
  drained(): Promise<void> {
    if (this.queue.length === 0 && !this.writing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async writeBatch(): Promise<void> {
    this.writing = true;
    const batch = this.queue;
    this.queue = [];
    const started = performance.now();
    try {
      await this.store.saveOpResults(batch.map((entry) => entry.result));
      this.onWrite?.(batch.length, performance.now() - started, true);
      this.retryDelayMs = 0;
      for (const entry of batch) entry.onStored();
    } catch (err) {
      this.onWrite?.(batch.length, performance.now() - started, false);
      this.queue = batch.concat(this.queue);
      this.retryDelayMs = Math.min(5000, Math.max(100, this.retryDelayMs * 2));
      this.log.warn(
        { err, rows: batch.length, retryInMs: this.retryDelayMs },
        'storing results failed; will retry',
      );
    }
    this.writing = false;
    if (this.queue.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    } else if (this.retryDelayMs > 0) {
      setTimeout(() => {
        void this.writeBatch();
      }, this.retryDelayMs).unref();
    } else {
      void this.writeBatch();
    }
  }
}
