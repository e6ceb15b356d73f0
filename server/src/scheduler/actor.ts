/**
 * Who answers for an agent: counts belong to identities, never to the ids agents choose. An
 * actor is a credential (`cred-…`), a user (`user-…`), a guest's address (`guest@…`, IPv6 grouped
 * by /64), or in open mode the agent's own id. Strikes in a row, the cool-down and a guest's cap on
 * tasks in flight live here, shared by every agent of the actor, so one actor with many agent ids
 * gets no more tries, slots or patience than with one.
 */
import ipaddr from 'ipaddr.js';

/** When an actor counts as unresponsive, and for how long it then gets no work. */
export interface StrikePolicy {
  /** Strikes in a row (no accepted result between them) that make it unresponsive. */
  limit: number;
  cooldownMs: number;
}

export class Actor {
  private inFlightNow = 0;
  private inRow = 0;
  private until: number | null = null;
  private why: string | null = null;
  /** Agents listed under it (connected or recently lost). */
  members = 0;

  constructor(
    readonly key: string,
    /** Tasks all its agents together may hold at once (guests: GUEST_MAX_SLOTS). */
    readonly maxInFlight: number = Number.POSITIVE_INFINITY,
  ) {}

  /** Tasks its agents hold now. */
  get inFlight(): number {
    return this.inFlightNow;
  }

  /** Whether its agents together may hold one more task. */
  get hasRoom(): boolean {
    return this.inFlightNow < this.maxInFlight;
  }

  held(delta: 1 | -1): void {
    this.inFlightNow += delta;
  }

  /** Strikes since its last accepted result. */
  get strikes(): number {
    return this.inRow;
  }

  /** End of its cool-down while it is unresponsive, else null. */
  get coolingUntil(): number | null {
    return this.until;
  }

  get reason(): string | null {
    return this.why;
  }

  /**
   * Charges `strikes` (expired leases, unconfirmed error reports, a guest's wrong values). True
   * when that makes it unresponsive: no work for `policy.cooldownMs`.
   */
  charge(strikes: number, now: number, policy: StrikePolicy): boolean {
    if (strikes <= 0) return false;
    this.inRow += strikes;
    if (this.until !== null || this.inRow < policy.limit) return false;
    this.until = now + policy.cooldownMs;
    this.why = `${this.inRow} tasks in a row failed or expired without a result; no work until ${new Date(this.until).toISOString()}`;
    return true;
  }

  /** An accepted result from any of its agents: the strikes in a row are forgiven. */
  credit(): void {
    this.inRow = 0;
  }

  /** Ends a cool-down that is over; true when it just did. */
  wake(now: number): boolean {
    if (this.until === null || this.until > now) return false;
    this.until = null;
    this.why = null;
    this.inRow = 0;
    return true;
  }
}

/**
 * The actor key of a guest at `address`: the address itself for IPv4, its /64 network for IPv6
 * (one host is handed a whole /64, so a finer key would let it mint identities at will).
 */
export function guestActor(address: string): string {
  if (!ipaddr.isValid(address)) return `guest@${address}`;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return `guest@${parsed.toString()}`;
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${parsed.toString()}/64`);
  return `guest@${network.toString()}/64`;
}
