/**
 * The bound on new `/agents` handshakes a second (AGENT_ADMISSIONS_PER_SECOND): a token bucket,
 * and for the handshakes it refuses a retry hint that spreads them over the time it needs.
 */

/** What the bucket answers a handshake: go ahead (0), or spread the retry over `retryAfterMs`. */
export interface AdmissionVerdict {
  admitted: boolean;
  /** Refused: how long the refused handshakes before this one need at this rate (≥ 1 s). */
  retryAfterMs: number;
}

/** The retry hint never asks an agent to stay away longer than this. */
const MAX_HINT_MS = 60_000;

/**
 * A token bucket of `rate` tokens a second holding at most `burst` (default: one second's worth),
 * so a classroom that reconnects together is admitted at once and 10,000 agents after a restart
 * come in at `rate` a second while the orchestrator keeps serving those it has.
 *
 * Refused handshakes are counted too, as a backlog that drains at `rate` a second: the n-th one
 * refused in a burst is told to retry within n / rate seconds. Agents wait a uniformly random
 * time within that window (full jitter), so they come back spread at about the rate the bucket
 * admits, instead of all at once after a fixed delay.
 */
export class AdmissionBucket {
  private tokens: number;
  private backlog = 0;
  private at: number;
  private readonly burst: number;

  constructor(
    readonly rate: number,
    burst?: number,
    private readonly now: () => number = Date.now,
  ) {
    this.burst = burst ?? rate;
    this.tokens = this.burst;
    this.at = now();
  }

  /** Takes a token for one handshake, or refuses it with a retry hint. */
  take(): AdmissionVerdict {
    const now = this.now();
    const refill = ((now - this.at) / 1000) * this.rate;
    this.at = now;
    this.tokens = Math.min(this.burst, this.tokens + refill);
    this.backlog = Math.max(0, this.backlog - refill);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { admitted: true, retryAfterMs: 0 };
    }
    this.backlog += 1;
    const retryAfterMs = Math.min(
      MAX_HINT_MS,
      Math.max(1000, Math.ceil((this.backlog / this.rate) * 1000)),
    );
    return { admitted: false, retryAfterMs };
  }
}
