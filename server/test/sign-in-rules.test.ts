/**
 * The sign-in lock's rules in isolation (no process, explicit clock): which counts an attempt
 * meets, and what the owner of a known device sees while an attacker keeps the login locked.
 * The counts are limits.ts's FailureThrottle (in-memory store, fake clock), driven exactly as
 * AuthService drives them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FailureThrottle, memoryLimits } from '../src/auth/limits.js';
import {
  ON_SUCCESS,
  countsOf,
  type SignInAttempt,
  type SignInCount,
} from '../src/auth/sign-in-rules.js';

const FREE = 2;
const LOCK_S = 15 * 60;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

let harnesses = 0;
/** One AuthService-shaped login against fresh counts; `ok` says whether the password was right. */
function harness() {
  harnesses += 1;
  const name = (count: SignInCount): string => `rules-${harnesses}-${count}`;
  const counts: Record<SignInCount, FailureThrottle> = {
    login: new FailureThrottle(memoryLimits, name('login'), FREE, LOCK_S),
    address: new FailureThrottle(memoryLimits, name('address'), FREE * 4, LOCK_S),
    device: new FailureThrottle(memoryLimits, name('device'), FREE, LOCK_S),
  };
  return async (
    attempt: SignInAttempt,
    ok: boolean,
    now: number,
  ): Promise<'locked' | 'failed' | 'signed-in'> => {
    vi.setSystemTime(now);
    const keys = countsOf(attempt);
    const waits = await Promise.all(keys.map((c) => counts[c.count].lockedFor(c.key)));
    if (waits.some((w) => w > 0)) return 'locked';
    await Promise.all(keys.map((c) => counts[c.count].fail(c.key)));
    if (!ok) return 'failed';
    await Promise.all(
      keys.map((c) =>
        ON_SUCCESS[c.count] === 'clear'
          ? counts[c.count].succeed(c.key)
          : counts[c.count].forgive(c.key),
      ),
    );
    return 'signed-in';
  };
}

describe('sign-in rules', () => {
  it('an unknown device meets the login and the address; a known one only its token', () => {
    expect(countsOf({ login: 'root', address: '203.0.113.9', device: null })).toEqual([
      { count: 'login', key: 'login:root' },
      { count: 'address', key: 'addr:203.0.113.9' },
    ]);
    expect(countsOf({ login: 'root', address: '203.0.113.9', device: 'd1' })).toEqual([
      { count: 'device', key: 'device:d1' },
    ]);
  });

  it('an attacker failing whenever the lock lapses never locks the owner out of a known device', async () => {
    const attempt = harness();
    let now = 1_000_000;
    let attackerLocked = 0;
    for (let i = 0; i < 200; i += 1) {
      // The attacker tries every 100 ms from a new address; the owner signs in every 10 s.
      now += 100;
      const got = await attempt(
        { login: 'root', address: `198.51.100.${i}`, device: null },
        false,
        now,
      );
      if (got === 'locked') attackerLocked += 1;
      if (i % 100 === 0)
        expect(
          await attempt({ login: 'root', address: '192.0.2.1', device: 'laptop' }, true, now),
        ).toBe('signed-in');
    }
    expect(attackerLocked).toBeGreaterThan(150);
    // …while the right password from an unknown device is refused like any other attempt.
    expect(await attempt({ login: 'root', address: '192.0.2.2', device: null }, true, now)).toBe(
      'locked',
    );
  });

  it("a known device's success leaves the unknown devices' lock and count alone", async () => {
    const attempt = harness();
    const now = 5_000_000;
    for (let i = 0; i <= FREE; i += 1)
      expect(await attempt({ login: 'ada', address: `a${i}`, device: null }, false, now)).toBe(
        'failed',
      );
    expect(await attempt({ login: 'ada', address: 'b', device: 'phone' }, true, now)).toBe(
      'signed-in',
    );
    expect(await attempt({ login: 'ada', address: 'c', device: null }, true, now)).toBe('locked');
    // Once the lock lapses, the next unknown failure locks again at once (the count was kept).
    expect(await attempt({ login: 'ada', address: 'd', device: null }, false, now + 1001)).toBe(
      'failed',
    );
    expect(await attempt({ login: 'ada', address: 'e', device: null }, true, now + 1002)).toBe(
      'locked',
    );
  });

  it('the first lock lasts LOGIN_FIRST_LOCK_S, each further one twice as long, up to the cap', async () => {
    vi.setSystemTime(20_000_000);
    /** Fails until `locks` locks were met, waiting each out; the length of each lock. */
    const lengths = async (throttle: FailureThrottle, locks: number): Promise<number[]> => {
      const seen: number[] = [];
      for (let i = 0; seen.length < locks && i < 100; i += 1) {
        await throttle.fail('k');
        const lockedS = await throttle.lockedFor('k');
        if (lockedS === 0) continue;
        seen.push(lockedS);
        vi.advanceTimersByTime(lockedS * 1000 - 1);
        expect(await throttle.lockedFor('k')).toBeGreaterThan(0);
        vi.advanceTimersByTime(1);
        expect(await throttle.lockedFor('k')).toBe(0);
      }
      return seen;
    };
    harnesses += 1;
    const threeS = new FailureThrottle(memoryLimits, `rules-${harnesses}-3s`, FREE, LOCK_S, 3);
    expect(await lengths(threeS, 5)).toEqual([3, 6, 12, 24, 48]);
    const long = new FailureThrottle(memoryLimits, `rules-${harnesses}-500s`, FREE, LOCK_S, 500);
    expect(await lengths(long, 2)).toEqual([500, LOCK_S]);
  });

  it('a device token used for guessing locks itself, not the login or other devices', async () => {
    const attempt = harness();
    const now = 9_000_000;
    for (let i = 0; i <= FREE; i += 1)
      await attempt({ login: 'bo', address: 'x', device: 'stolen' }, false, now);
    expect(await attempt({ login: 'bo', address: 'x', device: 'stolen' }, true, now)).toBe(
      'locked',
    );
    expect(await attempt({ login: 'bo', address: 'y', device: 'own' }, true, now)).toBe(
      'signed-in',
    );
    expect(await attempt({ login: 'bo', address: 'x', device: null }, true, now)).toBe('signed-in');
  });
});
