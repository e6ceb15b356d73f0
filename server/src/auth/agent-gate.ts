/**
 * Who may connect, and how far each is trusted: the one place that turns a token and an address
 * into an agent's standing, for socket agents (`/agents`) and pulling course agents alike, and
 * that keeps the per-address limits (in memory, or in Redis with several instances: auth/limits.ts).
 *
 * - **Identity.** An agent credential (`eat_…`) is `cred-<id>`, a signed-in user's JWT (a browser
 *   tab) is `user-<id>`; quarantine sticks to that key, so every process holding one credential
 *   is cut off together and none can shed it by choosing another agent id. A guest (no token,
 *   GUEST_AGENTS=on) has no identity: it is never quarantined, its wrong results are strikes and
 *   retried elsewhere. Every agent is answered for by an actor (scheduler/actor.ts): its identity,
 *   or for a guest its address (IPv6: the /64), so all guests of one address share one count of
 *   strikes and GUEST_MAX_SLOTS tasks. Open mode trusts everyone as before accounts: the
 *   self-chosen agent id is the identity.
 * - **Addresses.** At most MAX_SOCKETS_PER_ADDRESS Socket.IO connections per address (both
 *   namespaces share one), at most `GUEST_SOCKETS_PER_ADDRESS` guest agents per address and
 *   `GUEST_CONNECTS_PER_MINUTE` guest handshakes per address a minute, and course guests at most
 *   GUEST_PULLS_PER_SECOND (default 50) pulls per address a second. From everyone together, at
 *   most AGENT_ADMISSIONS_PER_SECOND new agent handshakes a second (auth/admission-bucket.ts).
 */
import type { IncomingMessage } from 'node:http';
import { ExpressionistError, type AuthMode } from '@expressionist/core';
import type { AuthService, AgentPrincipal, Session } from './service.js';
import { RateWindow, memoryLimits, type LimitStore } from './limits.js';
import { AdmissionBucket } from './admission-bucket.js';
import { clientAddress, proxyTrust, type ProxyTrust } from './client-address.js';
import type { AgentStanding } from '../scheduler/agent-lifecycle.js';
import { guestActor } from '../scheduler/actor.js';

/** Guest agents connected at once from one address: a few tabs or processes, not a swarm. */
export const GUEST_SOCKETS_PER_ADDRESS = 4;
/** Guest handshakes per address per minute: reconnects with backoff stay well below. */
export const GUEST_CONNECTS_PER_MINUTE = 30;

export interface AgentGateOptions {
  guestMaxSlots: number;
  /** Course guest pulls (GET /internal/task) per address per second before 429 (default 50). */
  guestPullsPerSecond?: number;
  maxSocketsPerAddress: number;
  /** New `/agents` handshakes admitted per second, from everyone (default 200). */
  agentAdmissionsPerSecond?: number;
  /** Peers whose X-Forwarded-For names the client (TRUSTED_PROXIES; default: loopback). */
  trustedProxies?: readonly string[];
  /** Where guest handshakes per minute are counted (default: this process; Redis when clustered). */
  limits?: LimitStore;
}

/**
 * What the gate admits an agent as: its standing (what the scheduler holds it to), and what cuts
 * it off (the credential it holds, or the session of a browser tab).
 */
export interface Admission {
  /** Undefined in open mode: the agent's own id is its identity, as before accounts. */
  standing: AgentStanding | undefined;
  /** The credential it holds (revoking it cuts the agent off), if any. */
  credentialId: string | null;
  /** A browser tab signed in with a user's token: that session (its end cuts the agent off). */
  session?: Session;
}

const AGENT_TOKEN_PREFIX = 'eat_';

export class AgentGate {
  /** Open Socket.IO (engine) connections per address. */
  private readonly sockets = new Map<string, number>();
  /** Guest agents connected per address. */
  private readonly guests = new Map<string, number>();
  private readonly guestConnects: RateWindow;
  /** Several orchestrators: guest agents of an address on every instance (see `countGuestsWith`). */
  private countGuests: ((address: string) => Promise<number>) | null = null;
  private readonly guestPulls: RateWindow;
  private readonly trust: ProxyTrust;
  private readonly admissions: AdmissionBucket;

  constructor(
    readonly auth: AuthService,
    private readonly o: AgentGateOptions,
  ) {
    this.guestConnects = new RateWindow(
      o.limits ?? memoryLimits,
      'guest-connects',
      GUEST_CONNECTS_PER_MINUTE,
      60,
    );
    // In memory even when clustered: course pulls are served by the leader alone, up to 50 a
    // second per address, and a one-second window gains an attacker nothing across a takeover.
    this.guestPulls = new RateWindow(memoryLimits, 'guest-pulls', o.guestPullsPerSecond ?? 50, 1);
    this.trust = proxyTrust(o.trustedProxies ?? ['loopback']);
    this.admissions = new AdmissionBucket(o.agentAdmissionsPerSecond ?? 200);
  }

  /**
   * Takes one of the AGENT_ADMISSIONS_PER_SECOND admissions for a new agent handshake, before any
   * token is checked: null when admitted, else the AGENT_ADMISSION_BUSY refusal with the window
   * to retry within. Whoever is connected is not affected: a storm of reconnections waits its turn.
   */
  admitHandshake(): AdmissionBusy | null {
    const verdict = this.admissions.take();
    return verdict.admitted ? null : new AdmissionBusy(this.admissions.rate, verdict.retryAfterMs);
  }

  /** The client address of a socket's request, by the same rule as Express's `req.ip`. */
  clientAddress(req: IncomingMessage): string {
    return clientAddress(req, this.trust);
  }

  get mode(): AuthMode {
    return this.auth.mode;
  }

  // ------------------------------------------------------------------ sockets per address

  /** Whether one more connection from `address` fits under MAX_SOCKETS_PER_ADDRESS. */
  socketFits(address: string): boolean {
    return (this.sockets.get(address) ?? 0) < this.o.maxSocketsPerAddress;
  }

  /** Counts an open connection; false (not counted) when it is over the cap. */
  socketOpened(address: string): boolean {
    const open = this.sockets.get(address) ?? 0;
    if (open >= this.o.maxSocketsPerAddress) return false;
    this.sockets.set(address, open + 1);
    return true;
  }

  socketClosed(address: string): void {
    decrement(this.sockets, address);
  }

  // ------------------------------------------------------------------ socket agents

  /**
   * Admits a socket agent with `token` from `address`, or throws: UNAUTHENTICATED (bad or
   * revoked token, or none when guests are off), RATE_LIMITED (too many guests from there).
   * A guest admitted here must be counted with `guestJoined` once connected.
   */
  async admitSocket(token: string | undefined, address: string): Promise<Admission> {
    if (this.auth.mode === 'open') return { standing: undefined, credentialId: null };
    const principal = await this.auth.agentOf(token);
    if (principal.trust === 'guest') {
      if ((await this.guestsOf(address)) >= GUEST_SOCKETS_PER_ADDRESS)
        throw ExpressionistError.of('RATE_LIMITED', {
          what: `guest agents from ${address} (at most ${GUEST_SOCKETS_PER_ADDRESS} at once)`,
          seconds: 60,
        });
      const wait = await this.guestConnects.hit(address);
      if (wait > 0)
        throw ExpressionistError.of('RATE_LIMITED', {
          what: `guest agent connections from ${address}`,
          seconds: wait,
        });
    }
    return this.admit(principal, address);
  }

  /**
   * Several orchestrators: counts an address's guests on every instance (the members of its
   * `guestRoom` through the adapter) instead of this instance's alone.
   */
  countGuestsWith(count: (address: string) => Promise<number>): void {
    this.countGuests = count;
  }

  private async guestsOf(address: string): Promise<number> {
    const here = this.guests.get(address) ?? 0;
    if (!this.countGuests) return here;
    // An instance that does not answer (frozen, just killed) fails the count: this instance's own
    // guests are the floor, rather than refusing every guest until the adapter forgets it.
    return this.countGuests(address).then(
      (everywhere) => Math.max(here, everywhere),
      () => here,
    );
  }

  guestJoined(address: string): void {
    this.guests.set(address, (this.guests.get(address) ?? 0) + 1);
  }

  guestLeft(address: string): void {
    decrement(this.guests, address);
  }

  // ------------------------------------------------------------------ course agents

  /**
   * Who a course agent is by its `Authorization` header: only an agent credential counts there
   * (a user's JWT is not an agent token); no header is a guest when guests are allowed. Null in
   * open mode (X-Agent-Id names it, as before accounts). Throws UNAUTHENTICATED.
   */
  async admitCourse(authorization: string | undefined, address: string): Promise<Admission | null> {
    if (this.auth.mode === 'open') return null;
    if (authorization === undefined || authorization === '') {
      if (this.auth.guestAgents) return this.admit({ trust: 'guest' }, address);
      throw ExpressionistError.of('UNAUTHENTICATED', {
        reason: 'course agents need Authorization: Bearer <agent token> (GUEST_AGENTS=off).',
      });
    }
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    const token = match?.[1];
    // Agent tokens are `eat_<id>.<secret>`; anything else (a user's JWT) is not one.
    if (!token?.startsWith(AGENT_TOKEN_PREFIX))
      throw ExpressionistError.of('UNAUTHENTICATED', {
        reason: 'send Authorization: Bearer <agent token> (an admin issues agent credentials).',
      });
    return this.admit(await this.auth.agentOf(token), address);
  }

  /** Seconds a course guest at `address` must wait before pulling again (0: go ahead). */
  guestPullWait(address: string): Promise<number> {
    return this.guestPulls.hit(address);
  }

  /**
   * A guest's actor is its address (IPv6: its /64), shared by its socket and course agents, so
   * GUEST_MAX_SLOTS caps the address, whatever labels and connections it uses.
   */
  private admit(principal: AgentPrincipal, address: string): Admission {
    switch (principal.trust) {
      case 'credential':
        return {
          standing: { trust: 'credential', identity: principal.key },
          credentialId: principal.credentialId,
        };
      case 'user':
        return {
          standing: { trust: 'user', identity: principal.key },
          credentialId: null,
          session: principal.session,
        };
      case 'guest':
        return {
          standing: {
            trust: 'guest',
            identity: null,
            maxInFlight: this.o.guestMaxSlots,
            actor: guestActor(address),
          },
          credentialId: null,
        };
    }
  }
}

/** A handshake refused by the admission bound, with the window its retry should spread over. */
export class AdmissionBusy extends ExpressionistError {
  constructor(
    rate: number,
    readonly retryAfterMs: number,
  ) {
    const params = { rate, seconds: Math.ceil(retryAfterMs / 1000) };
    super('AGENT_ADMISSION_BUSY', ExpressionistError.of('AGENT_ADMISSION_BUSY', params).message);
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const left = (map.get(key) ?? 1) - 1;
  if (left > 0) map.set(key, left);
  else map.delete(key);
}
