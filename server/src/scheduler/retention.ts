/**
 * How finished expressions leave the store: a background sweeper deletes those finished longer
 * than the retention ago, and users delete their own. Deletion goes in small batches with a turn
 * of the event loop between them, resumes by itself after a restart (it only asks the store what
 * is old enough), and runs where the scheduler runs — the leader, one instance at a time.
 */
import type { Logger } from 'pino';
import { ExpressionistError } from '@expressionist/core';
import type { Store } from '../store/store.js';

/** Expressions deleted per batch: each is a few row deletions, a batch well under a millisecond. */
const BATCH = 100;

export interface RetentionOptions {
  store: Store;
  log: Logger;
  /**
   * How long a finished expression is kept, in ms (0 keeps everything): the `retentionMs`
   * setting, read at each sweep so an admin's change applies at the next one.
   */
  retentionMs(): number;
  /** How often the sweeper looks for expired expressions. */
  sweepEveryMs: number;
  /** Whether `id` is still computing here (it must be canceled before it can be deleted). */
  isRunning(id: string): boolean;
  /** `id` (of `owner`) is gone from the store: views and dashboards forget it. */
  removed(id: string, owner: string | null): void;
}

export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | null = null;

  constructor(private readonly o: RetentionOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.o.sweepEveryMs);
    this.timer.unref();
    void this.sweep();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Deletes every expression finished before the retention; resolves with how many. One sweep
   * at a time: a call during a sweep joins it.
   */
  sweep(now = Date.now()): Promise<number> {
    const keepMs = this.o.retentionMs();
    if (keepMs <= 0) return Promise.resolve(0);
    this.sweeping ??= this.deleteBatches(now - keepMs)
      .catch((err: unknown) => {
        // The store is away: the next sweep picks up where this one stopped.
        this.o.log.warn({ err }, 'retention sweep failed; retried at the next one');
        return 0;
      })
      .finally(() => {
        this.sweeping = null;
      });
    return this.sweeping;
  }

  /**
   * Deletes one finished expression. `visible(owner)` false answers as if it did not exist;
   * EXPRESSION_RUNNING while it is still computing (cancel it first).
   */
  async deleteOne(id: string, visible: (owner: string | null) => boolean): Promise<void> {
    const stored = await this.o.store.getExpression(id);
    if (!stored || !visible(stored.owner))
      throw ExpressionistError.of('EXPRESSION_NOT_FOUND', { id });
    if (this.o.isRunning(id) || stored.finishedAt === null)
      throw ExpressionistError.of('EXPRESSION_RUNNING', { id });
    if (await this.o.store.deleteExpression(id)) this.o.removed(id, stored.owner);
  }

  /** Deletes every finished expression of `owner` (undefined: everyone's); resolves with how many. */
  deleteFinishedOf(owner: string | undefined): Promise<number> {
    return this.deleteBatches(Number.MAX_SAFE_INTEGER, owner);
  }

  private async deleteBatches(before: number, owner?: string): Promise<number> {
    let deleted = 0;
    for (;;) {
      const refs = await this.o.store.listFinishedBefore(before, BATCH, owner);
      let progressed = false;
      for (const ref of refs) {
        // Finished in the store means finished here too; the check only guards a future change.
        if (this.o.isRunning(ref.id)) continue;
        if (await this.o.store.deleteExpression(ref.id)) {
          deleted += 1;
          this.o.removed(ref.id, ref.owner);
        }
        progressed = true;
      }
      if (refs.length < BATCH || !progressed) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (deleted > 0) this.o.log.info({ deleted, owner }, 'finished expressions deleted');
    return deleted;
  }
}
