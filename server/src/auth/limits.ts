/**
 * In-memory abuse limits, per key (an address, a login, a user). They reset with the process,
 * which is the right trade for one orchestrator: a restart is rare and an attacker gains one
 * window. (Several orchestrators would keep them in Redis.)
 */

import { ExpressionistError, errorMessage } from '@expressionist/core';

/** RATE_LIMITED that knows how long to wait: the HTTP layer sends it as `Retry-After`. */
export class RateLimitedError extends ExpressionistError {
  constructor(
    what: string,
    readonly seconds: number,
  ) {
    super('RATE_LIMITED', errorMessage('RATE_LIMITED', { what, seconds }));
  }
}

/** At most `max` events per key in each fixed window of `windowMs`. */
export class RateWindow {
  private readonly counts = new Map<string, { start: number; n: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one event; returns the seconds to wait when over the limit, else 0. */
  hit(key: string, now = Date.now()): number {
    let entry = this.counts.get(key);
    if (!entry || now - entry.start >= this.windowMs) {
      if (this.counts.size > 100_000) this.prune(now);
      entry = { start: now, n: 0 };
      this.counts.set(key, entry);
    }
    entry.n += 1;
    return entry.n > this.max ? Math.ceil((entry.start + this.windowMs - now) / 1000) : 0;
  }

  private prune(now: number): void {
    for (const [key, entry] of this.counts)
      if (now - entry.start >= this.windowMs) this.counts.delete(key);
  }
}

/**
 * Failed attempts per key: after `free` failures each further one locks the key for twice as
 * long as the last (1 s, 2 s, 4 s … up to `maxLockMs`); a success clears it. Brute force then
 * costs exponential time per login and per address, while a user who mistypes twice is not
 * slowed at all.
 */
export class FailureThrottle {
  private readonly entries = new Map<string, { failures: number; until: number; last: number }>();

  constructor(
    private readonly free: number,
    private readonly maxLockMs: number,
  ) {}

  /** Seconds the key is still locked for, 0 when it may try. */
  lockedFor(key: string, now = Date.now()): number {
    const entry = this.entries.get(key);
    return entry && entry.until > now ? Math.ceil((entry.until - now) / 1000) : 0;
  }

  /**
   * Counts one failure. Failures are forgotten `maxLockMs` after the last one, so a shared
   * address that fails now and then is never locked for good.
   */
  fail(key: string, now = Date.now()): void {
    let entry = this.entries.get(key);
    if (!entry || now - entry.last > this.maxLockMs) entry = { failures: 0, until: 0, last: now };
    entry.failures += 1;
    entry.last = now;
    const over = entry.failures - this.free;
    if (over > 0) entry.until = now + Math.min(this.maxLockMs, 1000 * 2 ** (over - 1));
    // Prune only what is forgotten anyway: clearing everything would let an attacker wipe a
    // victim's lock by failing on enough other keys.
    if (this.entries.size > 100_000) this.prune(now);
    this.entries.set(key, entry);
  }

  private prune(now: number): void {
    for (const [key, entry] of this.entries)
      if (now - entry.last > this.maxLockMs) this.entries.delete(key);
  }

  /** Takes back one failure counted ahead of a check that then succeeded. */
  forgive(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.failures -= 1;
    if (entry.failures <= this.free) entry.until = 0;
    if (entry.failures <= 0) this.entries.delete(key);
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }
}
