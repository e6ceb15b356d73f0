/**
 * Waits for expressions to finish by watching the dashboard namespace (`/ui`), not by polling.
 */
import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import type { ExpressionView } from '@expressionist/core';
import {
  checkedView,
  ExpressionViewSchema,
  FINAL_STATUSES,
  type Api,
} from '@expressionist/testkit';

const DeltaSchema = z.object({ expressions: z.array(ExpressionViewSchema).optional() });

/**
 * Watches expressions finish through the dashboard namespace (`/ui` deltas, flushed every
 * ~100 ms), so waiting for thousands of expressions costs the orchestrator no polling. The
 * finish times used are the orchestrator's own `finishedAt`, not when the delta arrived.
 */
export class CompletionWatcher {
  private readonly socket: Socket;
  readonly finished = new Map<string, ExpressionView>();
  private waiters: (() => void)[] = [];

  constructor(url: string) {
    this.socket = io(`${url}/ui`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    this.socket.on('delta', (raw: unknown) => {
      const delta = DeltaSchema.safeParse(raw);
      if (!delta.success || !delta.data.expressions) return;
      for (const view of delta.data.expressions) {
        if (!FINAL_STATUSES.has(view.status)) continue;
        this.finished.set(view.id, checkedView<ExpressionView>(ExpressionViewSchema, view));
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
  }

  /**
   * Resolves once every id has finished. When nothing new arrives for 2 s, the missing ones are
   * asked for over REST (a delta can carry a stale stored view when many finish at once).
   */
  async all(ids: readonly string[], timeoutMs: number, api: Api): Promise<ExpressionView[]> {
    const deadline = Date.now() + timeoutMs;
    let lastProgress = Date.now();
    let lastMissing = Infinity;
    for (;;) {
      const missing = ids.filter((id) => !this.finished.has(id));
      if (missing.length === 0) return ids.map((id) => this.finished.get(id)!);
      if (missing.length < lastMissing) {
        lastMissing = missing.length;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > 2000) {
        for (const id of missing) {
          const view = await api.expression(id);
          if (FINAL_STATUSES.has(view.status)) this.finished.set(id, view);
        }
        lastProgress = Date.now();
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(
          `${missing.length} of ${ids.length} expressions not finished after ${timeoutMs} ms`,
        );
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  }

  /** Resolves when `id` has finished (no REST fallback: for keep-busy loops). */
  async one(id: string, timeoutMs: number): Promise<ExpressionView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = this.finished.get(id);
      if (view) return view;
      if (Date.now() > deadline)
        throw new Error(`expression ${id} not finished after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  }

  close(): void {
    this.socket.disconnect();
  }
}
