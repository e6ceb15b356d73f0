/**
 * The event-loop stall monitor: knows when the orchestrator itself stood still (a long collection,
 * a huge synchronous turn, SIGSTOP), so deadlines judged against agents do not count that time.
 */

/** How often the monitor ticks: a tick that comes late measures a stall. */
export const STALL_TICK_MS = 100;
/** A tick later than this (beyond its schedule) is a stall: shorter delays are ordinary load. */
export const STALL_MIN_MS = 200;
/** Stalls remembered: enough for any deadline still open (the oldest go first). */
const KEPT_STALLS = 256;

/** The loop stood still from `from` to `to` (epoch ms). */
export interface Stall {
  from: number;
  to: number;
}

/**
 * What judges of deadlines ask: how much of a span the orchestrator was stalled, and a way to give
 * a verdict only once the loop caught up.
 *
 * Why both: after a stall Node runs its overdue timers (timers phase) before it reads the pongs and
 * results waiting in the sockets (poll phase). A judge subtracts the stall from the time that
 * passed, and confirms a verdict after the next poll phase, when what arrived meanwhile was read.
 */
export interface RunningClock {
  /** Milliseconds of [since, now] the loop was stalled, the stall it is just waking from included. */
  stalledSince(since: number, now: number): number;
  /** Runs `verdict` after this turn's poll phase has read what waits in the sockets. */
  afterCatchUp(verdict: () => void): void;
}

/** A clock for parts built without a monitor (unit tests): no stalls, verdicts at once. */
export const NO_STALLS: RunningClock = {
  stalledSince: () => 0,
  afterCatchUp: (verdict) => verdict(),
};

/**
 * Ticks every `STALL_TICK_MS` and measures its own lateness; a tick more than `STALL_MIN_MS` late
 * records a stall and reports it (metrics, the log). Judges of deadlines read it as a
 * `RunningClock`.
 */
export class StallMonitor implements RunningClock {
  private readonly stalls: Stall[] = [];
  private lastTick: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onStall: (stall: Stall) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.lastTick = now();
  }

  start(): void {
    this.stop();
    this.lastTick = this.now();
    this.timer = setInterval(() => this.tick(), STALL_TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One tick: records the stall it ends, if it was one. */
  tick(): void {
    const now = this.now();
    const open = this.openStall(now);
    this.lastTick = now;
    if (!open) return;
    this.stalls.push(open);
    if (this.stalls.length > KEPT_STALLS) this.stalls.shift();
    this.onStall(open);
  }

  stalledSince(since: number, now: number): number {
    let total = 0;
    for (const stall of this.stalls) total += overlap(stall, since, now);
    // A judge may run before the monitor's own tick in the turn that ends a stall.
    const open = this.openStall(now);
    if (open) total += overlap(open, since, now);
    return total;
  }

  afterCatchUp(verdict: () => void): void {
    setImmediate(verdict);
  }

  /**
   * The stall that ends now if the loop has not ticked for longer than a stall. It is counted from
   * the last tick, the last moment the loop is known to have run: up to one tick more than the
   * stall itself, which errs on the side of the agents.
   */
  private openStall(now: number): Stall | null {
    if (!this.timer) return null;
    const from = this.lastTick;
    return now - from - STALL_TICK_MS >= STALL_MIN_MS ? { from, to: now } : null;
  }
}

function overlap(stall: Stall, since: number, now: number): number {
  return Math.max(0, Math.min(stall.to, now) - Math.max(stall.from, since));
}
