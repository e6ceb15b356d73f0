// The admission bound on new agent handshakes (AGENT_ADMISSIONS_PER_SECOND) under fake timers: a
// second's worth at once, then the rate; refused handshakes get a window that grows with how many
// were refused before them, so their jittered retries arrive spread at about the rate.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { rng } from '@expressionist/testkit';
import { AdmissionBucket } from '../../src/auth/admission-bucket.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const takeMany = (bucket: AdmissionBucket, n: number): { admitted: number; hints: number[] } => {
  let admitted = 0;
  const hints: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const verdict = bucket.take();
    if (verdict.admitted) admitted += 1;
    else hints.push(verdict.retryAfterMs);
  }
  return { admitted, hints };
};

describe('AdmissionBucket', () => {
  it('admits a burst of one second at once, then the rate, whatever the demand', () => {
    const bucket = new AdmissionBucket(100);
    expect(takeMany(bucket, 1000).admitted).toBe(100);
    vi.advanceTimersByTime(500);
    expect(takeMany(bucket, 1000).admitted).toBe(50);
    vi.advanceTimersByTime(10_000);
    // Idle time refills no more than the burst.
    expect(takeMany(bucket, 1000).admitted).toBe(100);
  });

  it('tells the n-th refused handshake to retry within n / rate seconds (at least 1 s, at most 60 s)', () => {
    const bucket = new AdmissionBucket(100);
    const { hints } = takeMany(bucket, 10_100);
    expect(hints).toHaveLength(10_000);
    expect(hints[0]).toBe(1000);
    expect(hints[499]).toBe(5000);
    expect(hints[4999]).toBe(50_000);
    expect(hints.at(-1)).toBe(60_000);
    // The backlog drains at the rate: 10 s later, a thousand fewer are waiting.
    vi.advanceTimersByTime(10_000);
    expect(takeMany(bucket, 100).admitted).toBe(100);
    expect(bucket.take().retryAfterMs).toBe(60_000);
  });

  it('spread over their windows, refused agents come back at about the rate', () => {
    // 2,000 agents at a bucket of 100/s: the refused ones retry at a random point of their window
    // (full jitter); no second sees more than a few times the rate arrive, where a fixed delay
    // would bring all 1,900 back in the same instant.
    const bucket = new AdmissionBucket(100);
    const { hints } = takeMany(bucket, 2000);
    const random = rng(23);
    const perSecond = new Array<number>(60).fill(0);
    for (const hint of hints) perSecond[Math.floor((random() * hint) / 1000)]! += 1;
    expect(Math.max(...perSecond)).toBeLessThan(500);
    expect(perSecond.filter((n) => n > 0).length).toBeGreaterThanOrEqual(15);
  });
});
