/**
 * Writes expression status changes to the store in order, merged per expression and retried.
 */
import type { Logger } from 'pino';
import type { ExpressionPatch, Store } from '../store/store.js';

/**
 * Persists expression status changes in order. Patches for the same expression merge (a later
 * `done` overwrites an earlier `in_progress` not yet written), writes go one at a time, and a
 * failed write is retried with backoff. A lost status write is harmless: on restart an
 * expression whose root result is stored finishes at once.
 */
export class ExpressionWriter {
  private readonly pending = new Map<string, ExpressionPatch>();
  private running = false;
  private delayMs = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  write(id: string, patch: ExpressionPatch): void {
    this.pending.set(id, { ...this.pending.get(id), ...patch });
    if (!this.running) void this.loop();
  }

  drained(): Promise<void> {
    if (!this.running && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async loop(): Promise<void> {
    this.running = true;
    while (this.pending.size > 0) {
      const [id, patch] = this.pending.entries().next().value as [string, ExpressionPatch];
      this.pending.delete(id);
      try {
        await this.store.updateExpression(id, patch);
        this.delayMs = 0;
      } catch (err) {
        // Put it back unless a newer patch arrived meanwhile, which already supersedes it.
        this.pending.set(id, { ...patch, ...this.pending.get(id) });
        this.delayMs = Math.min(5000, Math.max(100, this.delayMs * 2));
        this.log.warn(
          { err, id, retryInMs: this.delayMs },
          'storing expression status failed; will retry',
        );
        await new Promise((resolve) => setTimeout(resolve, this.delayMs).unref());
      }
    }
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
