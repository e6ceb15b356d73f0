// The leader's rule for a silent gateway under fake timers: gone after GATEWAY_SILENCE_MS of the
// leader's running time without a message, never for the leader's own stall, and only once the
// loop has caught up (a beat waiting to be read saves the gateway).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GATEWAY_SILENCE_MS, GatewaySilence } from '../../src/cluster/gateway-silence.js';
import { NO_STALLS, StallMonitor } from '../../src/scheduler/stall-monitor.js';

let monitor: StallMonitor;

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  monitor = new StallMonitor();
  monitor.start();
});

afterEach(() => {
  monitor.stop();
  vi.useRealTimers();
});

/** Sweeps, then lets the verdict run after the poll phase (fake timers: 1 ms later). */
function sweep(silence: GatewaySilence, gone: string[]): void {
  silence.sweep((g) => gone.push(g));
  vi.advanceTimersByTime(1);
}

/** Moves the system clock without running timers: what a stopped process sees when it resumes. */
function freeze(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
}

describe('a silent gateway', () => {
  it('is gone after GATEWAY_SILENCE_MS without a message, not before; a message keeps it', () => {
    const silence = new GatewaySilence(monitor);
    const gone: string[] = [];
    silence.heard('g1');
    silence.heard('g2');
    vi.advanceTimersByTime(GATEWAY_SILENCE_MS - 101);
    silence.heard('g2');
    sweep(silence, gone);
    expect(gone).toEqual([]);
    vi.advanceTimersByTime(100);
    sweep(silence, gone);
    expect(gone).toEqual(['g1']);
    // Forgotten once gone: not reported twice.
    vi.advanceTimersByTime(GATEWAY_SILENCE_MS);
    sweep(silence, gone);
    expect(gone).toEqual(['g1', 'g2']);
  });

  it("is not blamed for the leader's own stall", () => {
    const silence = new GatewaySilence(monitor);
    const gone: string[] = [];
    silence.heard('g1');
    vi.advanceTimersByTime(1000);
    // The leader stands still for longer than the limit; the gateway beat all along (its beats
    // wait unread in the leader's Redis connection).
    freeze(GATEWAY_SILENCE_MS + 1000);
    vi.advanceTimersByTime(100);
    sweep(silence, gone);
    expect(gone).toEqual([]);
    // Without the stall monitor (the control), the same silence drops it.
    const blind = new GatewaySilence(NO_STALLS);
    blind.heard('g1');
    freeze(GATEWAY_SILENCE_MS + 1000);
    blind.sweep((g) => gone.push(g));
    expect(gone).toEqual(['g1']);
  });

  it('is judged after the loop caught up: a message read meanwhile saves it', () => {
    const caughtUp: (() => void)[] = [];
    const silence = new GatewaySilence({
      stalledSince: () => 0,
      afterCatchUp: (verdict) => caughtUp.push(verdict),
    });
    const gone: string[] = [];
    silence.heard('g1');
    vi.advanceTimersByTime(GATEWAY_SILENCE_MS);
    silence.sweep((g) => gone.push(g));
    expect(caughtUp).toHaveLength(1);
    // The poll phase reads a beat that was waiting, then the verdict runs.
    silence.heard('g1');
    caughtUp[0]!();
    expect(gone).toEqual([]);
  });
});
