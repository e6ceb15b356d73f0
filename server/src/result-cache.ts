/**
 * The result cache: finished outcomes of expressions by canonical text, reused for repeats.
 */
import NodeCache from 'node-cache';
import type { ErrorInfo } from '@expressionist/core';

/**
 * A finished outcome worth reusing: the exact value, or a deterministic error (division by zero)
 * with the ordinal of the `/` it points at, so a repeat spelled differently gets its own column.
 */
export type CachedOutcome = { value: string } | { error: ErrorInfo; slash?: number };

/**
 * Answers a repeated expression at once. Keyed by the owner and the normalized expression text, so
 * whitespace and redundant parentheses do not defeat it, and one user's instant answer never
 * tells them someone else computed the same thing (open mode has one owner: everyone). Bounded in entries (oldest evicted first) and age;
 * values are immutable so node-cache need not clone them.
 */
/** Owner ids never hold a newline; an expression may not either (the grammar has no newline). */
const keyOf = (owner: string | null, normalized: string): string => `${owner ?? ''}\n${normalized}`;

export class ResultCache {
  private readonly cache: NodeCache;
  /** Insertion order of live keys, for O(1) eviction of the oldest. */
  private readonly order = new Set<string>();

  constructor(
    private readonly maxEntries: number,
    ttlSeconds: number,
  ) {
    this.cache = new NodeCache({
      stdTTL: ttlSeconds,
      checkperiod: Math.min(600, ttlSeconds),
      useClones: false,
    });
    this.cache.on('expired', (key: string) => this.order.delete(key));
  }

  get(owner: string | null, normalized: string): CachedOutcome | undefined {
    return this.cache.get<CachedOutcome>(keyOf(owner, normalized));
  }

  set(owner: string | null, text: string, outcome: CachedOutcome): void {
    if (this.maxEntries === 0) return;
    const normalized = keyOf(owner, text);
    this.order.delete(normalized);
    while (this.order.size >= this.maxEntries) {
      const oldest = this.order.values().next().value;
      if (oldest === undefined) break;
      this.order.delete(oldest);
      this.cache.del(oldest);
    }
    this.order.add(normalized);
    this.cache.set(normalized, outcome);
  }

  get size(): number {
    return this.order.size;
  }

  close(): void {
    this.cache.close();
  }
}
