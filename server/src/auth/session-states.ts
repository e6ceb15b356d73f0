/**
 * What decides whether a signed session is still live, read from the store and cached briefly:
 * the user (exists, enabled, role, session epoch) and whether the token was signed out. Every API
 * call and every socket check asks, so the answers are kept `CACHE_MS`; this instance forgets an
 * entry at once when it changes it, and the others when the cluster tells them
 * (`account`), so the cache only bounds how stale an instance can be when such a message is
 * lost.
 *
 * While the store is unreachable, an entry older than `CACHE_MS` is used rather than refusing
 * everyone signed in (stale-if-error); an entry that was forgotten (its user changed, its token
 * signed out) is gone, so an outage never brings an ended session back. Without an entry the
 * answer is STORE_UNAVAILABLE.
 */
import { ExpressionistError } from '@expressionist/core';
import type { Store, StoredUser } from '../store/store.js';

/** How long a user record or a token's revocation state is reused without reading the store. */
export const CACHE_MS = 5000;
const MAX_ENTRIES = 50_000;

/** A map whose entries are fresh for `ttlMs` after they were set; the oldest go first when full. */
class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; at: number }>();
  /** Bumped by every `delete`: a read that started before it must not store its stale answer. */
  private generation = 0;

  constructor(private readonly ttlMs: number) {}

  /**
   * Reads through `load` when the entry is missing or stale; what it loads is kept unless the key
   * was forgotten since. When `load` fails, a stale entry is used; without one, STORE_UNAVAILABLE.
   */
  async through(key: string, load: () => Promise<V>): Promise<V> {
    const entry = this.entries.get(key);
    if (entry && Date.now() - entry.at < this.ttlMs) return entry.value;
    const generation = this.generation;
    let value: V;
    try {
      value = await load();
    } catch {
      const stale = this.entries.get(key);
      if (stale) return stale.value;
      throw ExpressionistError.of('STORE_UNAVAILABLE', {
        what: 'the session could not be checked.',
      });
    }
    if (generation === this.generation) {
      if (!this.entries.has(key) && this.entries.size >= MAX_ENTRIES) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      this.entries.set(key, { value, at: Date.now() });
    }
    return value;
  }

  delete(key: string): void {
    this.generation += 1;
    this.entries.delete(key);
  }
}

export class SessionStates {
  private readonly users = new TtlCache<StoredUser | null>(CACHE_MS);
  private readonly revoked = new TtlCache<boolean>(CACHE_MS);

  constructor(private readonly store: Store) {}

  /** The user as stored (null when deleted), at most `CACHE_MS` old. */
  user(id: string): Promise<StoredUser | null> {
    return this.users.through(id, () => this.store.getUser(id));
  }

  /** Whether the session token `jti` was signed out, at most `CACHE_MS` old. */
  isRevoked(jti: string): Promise<boolean> {
    return this.revoked.through(jti, () => this.store.isTokenRevoked(jti));
  }

  forgetUser(id: string): void {
    this.users.delete(id);
  }

  forgetToken(jti: string): void {
    this.revoked.delete(jti);
  }
}
