/**
 * Abuse limits, per key (an address, a login, a user), counted by rate-limiter-flexible in one of
 * two stores: this process's memory (one orchestrator: a restart is rare and gives an attacker one
 * window), or Redis when REDIS_URL is set, so every instance — and the next leader after a
 * takeover — counts the same attempts.
 *
 * A Redis call that fails falls back to a memory count in
 * that process (the library's insurance limiter): limits weaken to per-instance during an outage
 * rather than letting everything through or refusing everyone.
 */
import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
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

/** Where counters live: makes a limiter of `points` per `durationS` seconds under `name`. */
export interface LimitStore {
  limiter(name: string, points: number, durationS: number): RateLimiterAbstract;
}

/** Counters in this process. */
export const memoryLimits: LimitStore = {
  limiter: (name, points, duration) => new RateLimiterMemory({ keyPrefix: name, points, duration }),
};

/** Counters in Redis under `<prefix>:limit:<name>:<key>`, shared by every instance. */
export function redisLimits(client: Redis, prefix: string): LimitStore {
  return {
    limiter: (name, points, duration) =>
      new RateLimiterRedis({
        storeClient: client,
        keyPrefix: `${prefix}:limit:${name}`,
        points,
        duration,
        // The lease's client fails fast (no offline queue): a call while Redis is away goes to
        // the insurance limiter at once instead of waiting for a reconnect.
        rejectIfRedisNotReady: true,
        insuranceLimiter: memoryLimits.limiter(name, points, duration),
      }),
  };
}

const secondsOf = (res: RateLimiterRes): number => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

/** At most `max` events per key in each fixed window of `windowS` seconds. */
export class RateWindow {
  private readonly limiter: RateLimiterAbstract;

  constructor(store: LimitStore, name: string, max: number, windowS: number) {
    this.limiter = store.limiter(name, max, windowS);
  }

  /** Counts one event; resolves to the seconds to wait when over the limit, else 0. */
  async hit(key: string): Promise<number> {
    try {
      await this.limiter.consume(key);
      return 0;
    } catch (rejected) {
      if (rejected instanceof RateLimiterRes) return secondsOf(rejected);
      throw rejected;
    }
  }
}

/**
 * Failed attempts per key: after `free` failures each further one locks the key for twice as
 * long as the last (`firstLockS`, by default 1 s, then 2 s, 4 s … up to `maxLockS`); a success
 * clears it. Brute force then
 * costs exponential time per login and per address, while a user who mistypes twice is not
 * slowed at all. Failures are counted in windows of `maxLockS` from the first one, so a shared
 * address that fails now and then is never locked for good.
 */
export class FailureThrottle {
  private readonly failures: RateLimiterAbstract;
  private readonly locks: RateLimiterAbstract;

  constructor(
    store: LimitStore,
    name: string,
    private readonly free: number,
    private readonly maxLockS: number,
    private readonly firstLockS = 1,
  ) {
    // Failures are never refused here (`penalty` only counts); the lock is a separate key.
    this.failures = store.limiter(`${name}:failures`, Number.MAX_SAFE_INTEGER, maxLockS);
    this.locks = store.limiter(`${name}:lock`, 1, maxLockS);
  }

  /** Seconds the key is still locked for, 0 when it may try. */
  async lockedFor(key: string): Promise<number> {
    const lock = await this.locks.get(key);
    return lock && lock.consumedPoints > 1 && lock.msBeforeNext > 0 ? secondsOf(lock) : 0;
  }

  /** Counts one failure, and locks the key when it is past its free ones. */
  async fail(key: string): Promise<void> {
    const counted = await this.failures.penalty(key, 1);
    const over = counted.consumedPoints - this.free;
    if (over > 0)
      await this.locks.block(key, Math.min(this.maxLockS, this.firstLockS * 2 ** (over - 1)));
  }

  /** Takes back one failure counted ahead of a check that then succeeded. */
  async forgive(key: string): Promise<void> {
    const left = await this.failures.reward(key, 1);
    if (left.consumedPoints <= this.free) await this.locks.delete(key);
    if (left.consumedPoints <= 0) await this.failures.delete(key);
  }

  async succeed(key: string): Promise<void> {
    await Promise.all([this.failures.delete(key), this.locks.delete(key)]);
  }
}
