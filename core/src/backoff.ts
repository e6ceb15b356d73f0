/**
 * How agents (Node and browser) space their reconnection attempts: exponential backoff with full
 * jitter, so a fleet that lost its orchestrator together does not come back together.
 */

/** The base and the cap of a backoff, in milliseconds. */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay; it doubles per failed attempt. */
  baseMs: number;
  /** No delay is ever longer than this. */
  capMs: number;
  /** A number in [0, 1) (default `Math.random`); tests pass their own. */
  random?: () => number;
}

/**
 * Full jitter (AWS's "Exponential Backoff and Jitter"): a delay drawn uniformly from
 * [0, min(cap, base·2^attempt)). Unlike a ±50 % randomization around the exponential delay
 * (Socket.IO's `randomizationFactor`), it spreads N agents over the whole window, so a server
 * that refused them together sees them again one by one. `floorMs` (a server's retry hint) raises
 * the window's ceiling, never the delay's floor: the spread stays full.
 */
export function fullJitterDelay(attempt: number, o: BackoffOptions, floorMs = 0): number {
  const ceiling = Math.max(Math.min(o.capMs, o.baseMs * 2 ** Math.min(attempt, 30)), floorMs);
  return Math.floor((o.random ?? Math.random)() * ceiling);
}

/**
 * Schedules reconnection attempts with full jitter: `schedule` after each failure or loss (the
 * n-th in a row waits up to base·2^n), `succeeded` once connected. At most one attempt is pending.
 */
export class Reconnector {
  private attempts = 0;
  private timer: unknown;

  constructor(
    private readonly o: BackoffOptions,
    private readonly attempt: () => void,
  ) {}

  /** Failures since the last success. */
  get failures(): number {
    return this.attempts;
  }

  /** Whether an attempt is waiting for its time. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  /**
   * Tries again after a full-jitter delay (`hintMs`: the server's retry hint widens the window);
   * returns the delay, or -1 when an attempt is already pending.
   */
  schedule(hintMs = 0): number {
    if (this.timer !== undefined) return -1;
    const delay = fullJitterDelay(this.attempts, this.o, hintMs);
    this.attempts += 1;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.attempt();
    }, delay);
    return delay;
  }

  /** Connected: the next loss starts from the base again. */
  succeeded(): void {
    this.attempts = 0;
  }

  /** No more attempts (the agent leaves). */
  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
