/**
 * The course's standard agent protocol: `GET /internal/task` leases the next ready operation to a
 * pulling agent, `POST /internal/task` returns its result. It talks to the scheduler only through
 * the narrow `CourseWork` interface (scheduler/course-port.ts); routes.ts serves it over HTTP.
 *
 * Course agents send no identity and decode the task id as a JSON number or a string, so this
 * module works out who is pulling and how to speak to it:
 *
 * - **Identity (accounts mode).** `Authorization: Bearer <agent token>` (an admin-issued
 *   credential) makes it `http-cred-<credentialId>`: trusted, and quarantine sticks to the
 *   credential (every agent holding it, socket or HTTP, is cut off together; revoking it cuts
 *   them off too). A user's JWT is not an agent token here (401), nor is anything else. Without
 *   the header it is a guest when GUEST_AGENTS=on (else 401 UNAUTHENTICATED); `X-Agent-Id` then
 *   only labels it (`http-guest-<id>@<address>`): a guest it stays, not quarantinable. Guests
 *   hold at most GUEST_MAX_SLOTS tasks each, and a host pulling as a guest more than 50 times a
 *   second gets 429 RATE_LIMITED with Retry-After (callers.ts).
 * - **Identity (open mode).** An agent that sends `X-Agent-Id: <id>` is `http-<id>`: a name it
 *   keeps (a weaker one: anybody may claim it), which quarantine sticks to.
 * - **Guests.** Without any header, an agent is a *lease chain* (guests.ts): the keep-alive
 *   connection it first got work on, plus every connection it later posts one of its own tasks on
 *   (a new connection proves whose it is by the task id it answers). Such a guest is listed as
 *   `<address> #n`; when its connections close with nothing in flight (its process died) it is
 *   lost at once. A guest's wrong result is refused and retried elsewhere (without using up an
 *   attempt), but it is not quarantined: it could shed that identity by reconnecting, and the
 *   next client from its address must not pay for it.
 * - **Id type.** Task ids are positive integers (ids.ts). In `auto` mode an agent first gets them
 *   as JSON numbers; when a lease of one that never posted a result expires, it gets strings from
 *   then on (and back, once, if that does not help either). That expiry is excused: neither a
 *   strike on the agent nor an attempt of the operation. A new agent starts with the type that
 *   last worked on its address (id-types.ts).
 * - **Fencing.** A result counts only from the agent holding the lease; anyone else's post (a
 *   stale id from before a restart, another agent's id) is refused with 404 and blames nobody.
 *   Ids never repeat across restarts.
 */
import type { Request } from 'express';
import type { Logger } from 'pino';
import {
  decimalEquals,
  toJsonNumber,
  withinFloatRounding,
  type CourseTask,
} from '@expressionist/core';
import type { Lease } from '../scheduler/lease-table.js';
import type { CourseWork } from '../scheduler/course-port.js';
import { isFirm, type Caller } from './callers.js';
import { GuestConnections, guestName, type Conn } from './guests.js';
import { CourseIds } from './ids.js';
import { IdTypes, type CourseIdMode } from './id-types.js';

export type CourseResultOutcome = 'accepted' | 'unknown' | 'wrong' | 'rejected';

export class CourseAgents {
  private readonly ids = new CourseIds();
  private readonly conns = new GuestConnections((key) => this.leaveIfIdle(key));
  private readonly idTypes: IdTypes;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly work: CourseWork,
    private readonly log: Logger,
    idMode: CourseIdMode = 'auto',
  ) {
    this.idTypes = new IdTypes(idMode, log);
    work.excuseExpiries((lease, early) => this.excuse(lease, early));
    work.describeTables(() => this.tableSizes());
    work.onForgotten((key) => this.idTypes.forget(key));
    // Guests whose connections all closed while they held work are checked once a second; the
    // check ends with the scheduler.
    this.timer = setInterval(() => {
      if (this.work.isAccepting) this.sweepGuests();
      else clearInterval(this.timer);
    }, 1000);
    this.timer.unref();
  }

  /** The connection `req` came on, and the client address it comes from. */
  connection(req: Request): Conn {
    return this.conns.of(req);
  }

  /** `GET /internal/task`: the next ready operation for the pulling agent, if any. */
  lease(
    req: Request,
    caller: Caller,
  ): CourseTask | 'quarantined' | 'unresponsive' | 'crowded' | null {
    const now = Date.now();
    const conn = this.conns.of(req);
    let key = caller.key ?? conn.key;
    if (key === null) {
      // A connection nobody owns yet becomes a guest only when there is work to give it.
      if (!this.work.hasReady()) return null;
      key = this.conns.newGuest(conn);
    }
    const agent = this.work.pulled(key, guestName(key, conn.address), now, caller.standing);
    if (agent === 'quarantined' || agent === 'crowded') return agent;
    if (agent.status === 'unresponsive') return 'unresponsive';
    const idType = this.idTypes.typeFor(key, conn.address);
    // Until it has posted a result it may not decode our ids at all: one lease at a time, so a
    // wrong id type costs one operation, not a window of them.
    if (!this.idTypes.isProven(key) && agent.inFlight > 0) {
      this.work.agentChanged(agent);
      return null;
    }
    const id = this.ids.next(now);
    const leased = this.work.leaseNext(agent, { id }, now);
    this.work.agentChanged(agent);
    if (!leased) return null;
    const { lease, task } = leased;
    this.idTypes.sent(lease, idType);
    return {
      id: idType === 'string' ? String(id) : id,
      arg1: toJsonNumber(task.a),
      arg2: toJsonNumber(task.b),
      operation: task.op,
      operation_time: task.durationMs,
    };
  }

  /**
   * `POST /internal/task`: a float result within float64 rounding of the exact value is accepted
   * and the exact value recorded. Resolves once the result is stored.
   */
  async submit(
    req: Request,
    caller: Caller,
    courseId: number,
    result: number | string,
  ): Promise<CourseResultOutcome> {
    const conn = this.conns.of(req);
    const lease = this.work.lease(courseId);
    if (!lease) {
      this.idTypes.lateProbe(courseId, caller.key ?? conn.key);
      return 'unknown';
    }
    const holder = lease.agent;
    const sender = caller.key ?? conn.key;
    if (sender !== holder.id) {
      // A guest's connections are pooled by its HTTP client and shared by its workers, so its
      // answer may come on a connection first seen pulling for another of its workers, or on a
      // new one: the task id it answers says whose connection it is now (a lease chain). A named
      // agent must answer as itself, and nobody answers for a client at another address.
      const address = this.idTypes.firstAddress(holder.id);
      if (caller.key !== null || isFirm(holder.id) || address !== conn.address) return 'unknown';
      this.conns.link(conn, holder.id);
    }
    holder.seen(Date.now());
    this.idTypes.answered(lease);
    const matches = (expected: string): boolean =>
      typeof result === 'number'
        ? withinFloatRounding(expected, result)
        : decimalEquals(expected, result);
    const verdict = await this.work.settle(lease, matches);
    if (verdict === 'accepted') return 'accepted';
    if (holder.identity === null) {
      this.log.warn(
        { agent: holder.id, courseId },
        'a guest returned a wrong result; retried elsewhere',
      );
      this.work.reject(lease);
      return 'rejected';
    }
    await this.work.quarantine(holder, `returned ${String(result)} for task ${courseId}`);
    return 'wrong';
  }

  /** Sizes of every table this protocol keeps (tests and metrics check they stay bounded). */
  tableSizes(): Record<string, number> {
    return { ...this.idTypes.tableSizes(), openGuests: this.conns.size };
  }

  /** A guest none of whose connections is open is gone once it holds nothing. */
  private leaveIfIdle(key: string): void {
    const agent = this.work.agent(key);
    if (!agent) {
      this.idTypes.forget(key);
      return;
    }
    if (agent.inFlight > 0) return;
    this.work.leave(agent, 'its connections closed');
    this.idTypes.forget(key);
  }

  /**
   * Guests whose connections all closed leave once idle; and what is known of any agent no longer
   * active (lost, or forgotten by the registry) goes, so a swarm of ids leaves nothing behind.
   */
  private sweepGuests(): void {
    for (const key of this.idTypes.agents()) {
      if (!isFirm(key) && !this.conns.hasOpen(key)) this.leaveIfIdle(key);
      else {
        const agent = this.work.agent(key);
        if (!agent || agent.status === 'lost') this.idTypes.forget(key);
      }
    }
  }

  /**
   * Called for every expired lease, and early (`early`) for an overdue lease of an agent that
   * never posted a result: true excuses it (no strike, no attempt used) when the agent could not
   * have decoded it (see `IdTypes.excuses`). At a full expiry a guest whose connections all
   * closed is excused too (its process died).
   */
  private excuse(lease: Lease, early: boolean): boolean {
    const type = this.idTypes.sentWith(lease);
    if (type === undefined) return false;
    if (this.idTypes.excuses(lease, type, early)) return true;
    // A guest whose connections all closed is gone (its process died): like a socket agent's
    // disconnect, what it held says nothing about the operation or about a live agent. (Not
    // early: an HTTP client closes idle pooled connections while a worker still computes.)
    const key = lease.agent.id;
    return !early && !isFirm(key) && !this.conns.hasOpen(key);
  }
}
