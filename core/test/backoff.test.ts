import { afterEach, describe, expect, it, vi } from 'vitest';
import { Reconnector, fullJitterDelay } from '../src/index.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('fullJitterDelay', () => {
  it('draws from [0, min(cap, base·2^attempt)): the whole window, not ±50 % around its end', () => {
    const o = { baseMs: 500, capMs: 10_000 };
    // random() → 0 gives 0 ms (Socket.IO's randomizationFactor 0.5 never goes below half).
    expect(fullJitterDelay(3, { ...o, random: () => 0 })).toBe(0);
    expect(fullJitterDelay(0, { ...o, random: () => 0.999 })).toBe(499);
    expect(fullJitterDelay(1, { ...o, random: () => 0.5 })).toBe(500);
    expect(fullJitterDelay(4, { ...o, random: () => 0.5 })).toBe(4000);
    // Capped: 500·2^10 would be 512 s.
    expect(fullJitterDelay(10, { ...o, random: () => 0.999 })).toBe(9990);
    expect(fullJitterDelay(1000, { ...o, random: () => 0.5 })).toBe(5000);
  });

  it('a retry hint widens the window, and the spread stays full', () => {
    const o = { baseMs: 500, capMs: 10_000 };
    expect(fullJitterDelay(0, { ...o, random: () => 0.5 }, 4000)).toBe(2000);
    expect(fullJitterDelay(0, { ...o, random: () => 0 }, 4000)).toBe(0);
    // A hint beyond the cap is honoured: the server knows how long its queue is.
    expect(fullJitterDelay(0, { ...o, random: () => 0.5 }, 30_000)).toBe(15_000);
  });

  it('1,000 agents refused together spread evenly over the window', () => {
    const delays = Array.from({ length: 1000 }, () =>
      fullJitterDelay(3, { baseMs: 500, capMs: 10_000 }),
    );
    const perSecond = [0, 0, 0, 0];
    for (const d of delays) perSecond[Math.floor(d / 1000)]! += 1;
    // Window 4 s: about 250 a second, none bunched at the end.
    for (const n of perSecond) expect(n).toBeGreaterThan(150);
    expect(Math.max(...delays)).toBeLessThan(4000);
  });
});

describe('Reconnector', () => {
  it('backs off with full jitter per failure in a row, and starts over after a success', () => {
    vi.useFakeTimers();
    const attempts: number[] = [];
    const r = new Reconnector({ baseMs: 500, capMs: 4000, random: () => 0.75 }, () =>
      attempts.push(Date.now()),
    );
    const start = Date.now();
    expect(r.schedule()).toBe(375);
    // One pending attempt at a time: a second failure report while waiting changes nothing.
    expect(r.schedule()).toBe(-1);
    vi.advanceTimersByTime(374);
    expect(attempts).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(attempts).toEqual([start + 375]);
    expect(r.schedule()).toBe(750);
    vi.advanceTimersByTime(750);
    expect(r.schedule()).toBe(1500);
    vi.advanceTimersByTime(1500);
    expect(r.schedule()).toBe(3000);
    vi.advanceTimersByTime(3000);
    // Capped at 4 s.
    expect(r.schedule()).toBe(3000);
    vi.advanceTimersByTime(3000);
    expect(attempts).toHaveLength(5);
    expect(r.failures).toBe(5);
    r.succeeded();
    expect(r.schedule()).toBe(375);
    r.cancel();
    expect(r.pending).toBe(false);
    vi.advanceTimersByTime(10_000);
    expect(attempts).toHaveLength(5);
  });
});
