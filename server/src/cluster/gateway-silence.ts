/**
 * When the leader gives up on a gateway: not heard (a beat or any relayed event) for
 * `GATEWAY_SILENCE_MS` of the leader's own running time. The leader's stalls do not count (the
 * beats it has not read yet wait in its Redis connection), and a verdict is confirmed only after
 * the loop caught up and read them.
 */
import type { RunningClock } from '../scheduler/stall-monitor.js';

/** A gateway not heard for this long (of running time) is gone, and with it its agents. */
export const GATEWAY_SILENCE_MS = 3500;

export class GatewaySilence {
  /** When each gateway was last heard (epoch ms, the clock's time base). */
  private readonly lastHeard = new Map<string, number>();

  constructor(
    private readonly clock: RunningClock,
    private readonly now: () => number = Date.now,
  ) {}

  heard(gateway: string): void {
    this.lastHeard.set(gateway, this.now());
  }

  /**
   * Calls `gone` for each gateway silent past the limit, once the loop has read whatever waited
   * for it; each is forgotten (a later message from it counts it in again).
   */
  sweep(gone: (gateway: string) => void): void {
    if (this.silent().length === 0) return;
    this.clock.afterCatchUp(() => {
      for (const gateway of this.silent()) {
        this.lastHeard.delete(gateway);
        gone(gateway);
      }
    });
  }

  /** Gateways not heard for `GATEWAY_SILENCE_MS` of running time. */
  private silent(): string[] {
    const now = this.now();
    const silent: string[] = [];
    for (const [gateway, at] of this.lastHeard) {
      const running = now - at - this.clock.stalledSince(at, now);
      if (running >= GATEWAY_SILENCE_MS) silent.push(gateway);
    }
    return silent;
  }
}
