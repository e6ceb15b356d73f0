/**
 * The course's standard agent protocol: `GET /internal/task` leases the next ready operation to a
 * pulling agent, `POST /internal/task` returns its result. It talks to the scheduler only through
 * the narrow `CourseWork` interface.
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
 *   second gets 429 RATE_LIMITED with Retry-After.
 * - **Identity (open mode).** An agent that sends `X-Agent-Id: <id>` is `http-<id>`: a name it
 *   keeps (a weaker one: anybody may claim it), which quarantine sticks to.
 * - **Guests.** Without any header, an agent is a *lease chain*: the keep-alive connection it
 *   first got work on, plus every connection it later posts one of its own tasks on (a new
 *   connection proves whose it is by the task id it answers). Such a guest is listed as
 *   `<address> #n`; when its connections close with nothing in flight (its process died) it is
 *   lost at once. A guest's wrong result is refused and retried elsewhere (without using up an
 *   attempt), but it is not quarantined: it could shed that identity by reconnecting, and the
 *   next client from its address must not pay for it.
 * - **Id type.** Task ids are positive integers. In `auto` mode an agent first gets them as JSON
 *   numbers; when a lease of one that never posted a result expires, it gets strings from then on
 *   (and back, once, if that does not help either). That expiry is excused: neither a strike on
 *   the agent nor an attempt of the operation. A new agent starts with the type that last worked
 *   on its address.
 * - **Fencing.** A result counts only from the agent holding the lease; anyone else's post (a
 *   stale id from before a restart, another agent's id) is refused with 404 and blames nobody.
 *   Ids never repeat across restarts.
 */
import type { Socket } from 'node:net';
import express, { type Request, type Router } from 'express';
import type { Logger } from 'pino';
import {
  CourseResultSchema,
  ERROR_CODES,
  ExpressionistError,
  decimalEquals,
  toJsonNumber,
  withinFloatRounding,
  type CourseTask,
} from '@expressionist/core';
import { z } from 'zod';
import type { Admission } from '../realtime/agent-gate.js';
import type { AgentStanding } from '../scheduler/agent-lifecycle.js';
import type { CourseIdType, Lease } from '../scheduler/lease-table.js';
import type { CourseWork } from '../scheduler/course-port.js';
import { describeIssue, sendError } from './errors.js';
import { bareAddress } from '../auth/client-address.js';

const AgentKeySchema = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/);

export type CourseIdMode = 'auto' | CourseIdType;
export type CourseResultOutcome = 'accepted' | 'unknown' | 'wrong' | 'rejected';

/**
 * Task ids that never repeat across restarts: microseconds since the epoch at issue, bumped past
 * the previous id. A restarted orchestrator starts above every id it issued before (unless it
 * issued more than a million per second, far beyond what it dispatches), with no store round
 * trip per task; the ids stay below 2^53, so they are exact as JSON numbers.
 */
export class CourseIds {
  private last = 0;

  next(now = Date.now()): number {
    this.last = Math.max(this.last + 1, now * 1000);
    return this.last;
  }
}

/** One TCP connection a course agent pulls on. */
interface Conn {
  /** The guest it belongs to, once it got work or posted a guest's task. */
  key: string | null;
  address: string;
}

/** What the protocol knows of one agent's id decoding. */
interface IdState {
  type: CourseIdType;
  tried: Set<CourseIdType>;
  /** It posted a result of a task sent with `type`. */
  proven: boolean;
  /** Both types went unanswered (logged once). */
  silent: boolean;
  address: string;
}

/**
 * Who is calling: `key` names it when it says who it is (`http-…`, else null: a lease-chain
 * guest), `standing` is how far it is trusted, `guest` whether the guest limits apply to it.
 */
interface Caller {
  key: string | null;
  standing: AgentStanding;
  guest: boolean;
}

/** A guest as before accounts (open mode): no cap, never quarantined. */
const OPEN_GUEST: AgentStanding = { trust: 'guest', identity: null };

/** Probes judged early that are remembered (the most recent ones). */
const EARLY_PROBES_KEPT = 1024;
/** Addresses whose working id type is remembered (the most recent ones). */
const ADDRESS_TYPES_KEPT = 4096;

const other = (type: CourseIdType): CourseIdType => (type === 'number' ? 'string' : 'number');
const isFirm = (key: string): boolean => key.startsWith('http-');

export class CourseAgents {
  private readonly ids = new CourseIds();
  private readonly conns = new WeakMap<Socket, Conn>();
  /** Open connections per guest. */
  private readonly open = new Map<string, number>();
  private readonly idStates = new Map<string, IdState>();
  /** Probes judged early, by course id (the most recent ones): see `lateProbe`. */
  private readonly earlyProbes = new Map<number, { key: string; type: CourseIdType }>();
  /** The id type that last worked on each address: where a new agent starts. */
  private readonly addressType = new Map<string, CourseIdType>();
  private guests = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly work: CourseWork,
    private readonly log: Logger,
    private readonly idMode: CourseIdMode = 'auto',
  ) {
    work.excuseExpiries((lease, early) => this.excuse(lease, early));
    work.describeTables(() => this.tableSizes());
    work.onForgotten((key) => this.idStates.delete(key));
    // Guests whose connections all closed while they held work are checked once a second; the
    // check ends with the scheduler.
    this.timer = setInterval(() => {
      if (this.work.isAccepting) this.sweepGuests();
      else clearInterval(this.timer);
    }, 1000);
    this.timer.unref();
  }

  /** `GET /internal/task`: the next ready operation for the pulling agent, if any. */
  lease(
    req: Request,
    caller: Caller,
  ): CourseTask | 'quarantined' | 'unresponsive' | 'crowded' | null {
    const now = Date.now();
    const conn = this.connOf(req);
    let key = caller.key ?? conn.key;
    if (key === null) {
      // A connection nobody owns yet becomes a guest only when there is work to give it.
      if (!this.work.hasReady()) return null;
      key = this.newGuest(conn);
    }
    const agent = this.work.pulled(key, this.nameOf(key, conn.address), now, caller.standing);
    if (agent === 'quarantined' || agent === 'crowded') return agent;
    if (agent.status === 'unresponsive') return 'unresponsive';
    const idType = this.idTypeOf(key, conn.address);
    // Until it has posted a result it may not decode our ids at all: one lease at a time, so a
    // wrong id type costs one operation, not a window of them.
    if (!this.idStates.get(key)?.proven && agent.inFlight > 0) {
      this.work.agentChanged(agent);
      return null;
    }
    const leased = this.work.leaseNext(agent, { id: this.ids.next(now), idType }, now);
    this.work.agentChanged(agent);
    if (!leased) return null;
    const { lease, task } = leased;
    const id = lease.course!.id;
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
    const conn = this.connOf(req);
    const lease = this.work.lease(courseId);
    if (!lease) {
      this.lateProbe(courseId, caller.key ?? conn.key);
      return 'unknown';
    }
    const holder = lease.agent;
    const sender = caller.key ?? conn.key;
    if (sender !== holder.id) {
      // A guest's connections are pooled by its HTTP client and shared by its workers, so its
      // answer may come on a connection first seen pulling for another of its workers, or on a
      // new one: the task id it answers says whose connection it is now (a lease chain). A named
      // agent must answer as itself, and nobody answers for a client at another address.
      const address = this.idStates.get(holder.id)?.address;
      if (caller.key !== null || isFirm(holder.id) || address !== conn.address) return 'unknown';
      this.link(conn, holder.id);
    }
    holder.seen(Date.now());
    const state = this.idStates.get(holder.id);
    if (state && lease.course) {
      state.proven = true;
      this.learnAddressType(state.address, lease.course.idType);
    }
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

  /** The two routes, mounted at the app's root. */
  router(json: express.RequestHandler): Router {
    const router = express.Router();
    router.get('/internal/task', async (req, res) => {
      const caller = await this.callerOf(req, res);
      if (!caller) return;
      if (caller.guest && this.work.gate) {
        const wait = await this.work.gate.guestPullWait(this.connOf(req).address);
        if (wait > 0) {
          res.set('Retry-After', String(wait));
          sendError(res, 'RATE_LIMITED', {
            what: 'task requests from this address',
            seconds: wait,
          });
          return;
        }
      }
      const task = this.lease(req, caller);
      if (task === 'quarantined') {
        sendError(res, 'AGENT_QUARANTINED', { reason: 'it returned a wrong result' });
      } else if (task === 'crowded') {
        res.set('Retry-After', '60');
        sendError(res, 'RATE_LIMITED', {
          what: 'guest agents from this address, all busy',
          seconds: 60,
        });
      } else if (task === 'unresponsive') {
        sendError(res, 'TASK_NOT_FOUND', {
          reason: 'Nothing for you right now: your earlier tasks expired unanswered (cool-down).',
        });
      } else if (!task) {
        sendError(res, 'TASK_NOT_FOUND', { reason: 'Nothing to do right now.' });
      } else {
        res.json({ task });
      }
    });
    router.post('/internal/task', json, async (req, res) => {
      const caller = await this.callerOf(req, res);
      if (!caller) return;
      const body = CourseResultSchema.safeParse(req.body);
      if (!body.success) {
        sendError(res, 'TASK_RESULT_INVALID', { reason: describeIssue(body.error).message });
        return;
      }
      const id = body.data.id;
      const outcome = await this.submit(req, caller, Number(id), body.data.result);
      if (outcome === 'accepted') res.json({ ok: true });
      else if (outcome === 'unknown')
        sendError(res, 'TASK_NOT_FOUND', {
          reason: `No task ${id} is leased to you (finished, reassigned, or never issued to you).`,
        });
      else
        sendError(res, 'TASK_RESULT_WRONG', {
          reason:
            outcome === 'rejected'
              ? 'The result does not match the verified value; the task goes to another agent.'
              : 'The result does not match the verified value; this agent is quarantined.',
        });
    });
    return router;
  }

  // ---------------------------------------------------------------- identity

  /**
   * Who sent `req` (see the header comment), or null after answering 401 UNAUTHENTICATED.
   */
  private async callerOf(req: Request, res: express.Response): Promise<Caller | null> {
    const label = AgentKeySchema.safeParse(req.get('x-agent-id'));
    const gate = this.work.gate;
    let admission: Admission | null | undefined;
    try {
      admission = await gate?.courseIdentity(req.get('authorization'), this.connOf(req).address);
    } catch (err) {
      if (!(err instanceof ExpressionistError)) throw err;
      res
        .status(ERROR_CODES[err.code].status)
        .json({ error: { code: err.code, message: err.message } });
      return null;
    }
    if (!admission?.standing) {
      // Open mode: X-Agent-Id names it, as before accounts.
      if (!label.success) return { key: null, standing: OPEN_GUEST, guest: false };
      const key = `http-${label.data}`;
      return { key, standing: { trust: 'credential', identity: key }, guest: false };
    }
    const standing = admission.standing;
    if (admission.credentialId !== null)
      return { key: `http-cred-${admission.credentialId}`, standing, guest: false };
    const address = this.connOf(req).address;
    const key = label.success ? `http-guest-${label.data}@${address}` : null;
    return { key, standing, guest: true };
  }

  private connOf(req: Request): Conn {
    const socket = req.socket;
    let conn = this.conns.get(socket);
    if (!conn) {
      conn = { key: null, address: bareAddress(req.ip ?? 'unknown') };
      this.conns.set(socket, conn);
      const owned = conn;
      socket.once('close', () => this.closed(owned));
    }
    return conn;
  }

  private newGuest(conn: Conn): string {
    this.guests += 1;
    const key = `guest:${conn.address}:${this.guests}`;
    this.link(conn, key);
    return key;
  }

  private nameOf(key: string, address: string): string {
    if (isFirm(key)) return key;
    return `${address} #${key.slice(key.lastIndexOf(':') + 1)}`;
  }

  /** Makes `conn` one of `key`'s connections (leaving the guest it belonged to before). */
  private link(conn: Conn, key: string): void {
    this.unlink(conn);
    conn.key = key;
    this.open.set(key, (this.open.get(key) ?? 0) + 1);
  }

  private unlink(conn: Conn): void {
    const key = conn.key;
    if (key === null) return;
    conn.key = null;
    const left = (this.open.get(key) ?? 1) - 1;
    if (left > 0) this.open.set(key, left);
    else this.open.delete(key);
  }

  private closed(conn: Conn): void {
    const key = conn.key;
    if (key === null || isFirm(key)) return;
    this.unlink(conn);
    if (!this.open.has(key)) this.leaveIfIdle(key);
  }

  /** A guest none of whose connections is open is gone once it holds nothing. */
  private leaveIfIdle(key: string): void {
    const agent = this.work.agent(key);
    if (!agent) {
      this.idStates.delete(key);
      return;
    }
    if (agent.inFlight > 0) return;
    this.work.leave(agent, 'its connections closed');
    this.idStates.delete(key);
  }

  /**
   * Guests whose connections all closed leave once idle; and what is known of any agent no longer
   * active (lost, or forgotten by the registry) goes, so a swarm of ids leaves nothing behind.
   */
  private sweepGuests(): void {
    for (const key of this.idStates.keys()) {
      if (!isFirm(key) && !this.open.has(key)) this.leaveIfIdle(key);
      else {
        const agent = this.work.agent(key);
        if (!agent || agent.status === 'lost') this.idStates.delete(key);
      }
    }
  }

  /** Sizes of every table this protocol keeps (tests and metrics check they stay bounded). */
  tableSizes(): Record<string, number> {
    return {
      idStates: this.idStates.size,
      earlyProbes: this.earlyProbes.size,
      openGuests: this.open.size,
      addressTypes: this.addressType.size,
    };
  }

  // ---------------------------------------------------------------- id types

  /** Remembers a probe judged early: a late answer to it proves its type after all. */
  private remember(courseId: number, key: string, type: CourseIdType): void {
    this.earlyProbes.set(courseId, { key, type });
    if (this.earlyProbes.size > EARLY_PROBES_KEPT)
      this.earlyProbes.delete(this.earlyProbes.keys().next().value!);
  }

  /**
   * A post for a task no longer leased: if it answers a probe that was judged early, its sender
   * does decode that type (it was only slow): it gets that type back. The task itself went to
   * another agent, so the post is still refused.
   */
  private lateProbe(courseId: number, sender: string | null): void {
    const probe = this.earlyProbes.get(courseId);
    if (!probe || probe.key !== sender) return;
    this.earlyProbes.delete(courseId);
    const state = this.idStates.get(probe.key);
    if (!state) return;
    this.log.info({ agent: probe.key, type: probe.type }, 'course agent was slow, not confused');
    state.type = probe.type;
    state.tried = new Set([probe.type]);
    this.learnAddressType(state.address, probe.type);
  }

  /** Remembers what works at `address`; the oldest addresses are forgotten past a bound. */
  private learnAddressType(address: string, type: CourseIdType): void {
    this.addressType.delete(address);
    this.addressType.set(address, type);
    if (this.addressType.size > ADDRESS_TYPES_KEPT)
      this.addressType.delete(this.addressType.keys().next().value!);
  }

  private idTypeOf(key: string, address: string): CourseIdType {
    let state = this.idStates.get(key);
    if (!state) {
      const type =
        this.idMode === 'auto' ? (this.addressType.get(address) ?? 'number') : this.idMode;
      state = { type, tried: new Set([type]), proven: false, silent: false, address };
      this.idStates.set(key, state);
    }
    return state.type;
  }

  /**
   * Called for every expired lease, and early (`early`) for an overdue lease of an agent that
   * never posted a result: true excuses it (no strike, no attempt used) when the agent could not
   * have decoded it — sent with an id type it has since moved away from, or the first type it
   * never answered, which it now leaves. An agent that decodes our ids answers within its
   * operation's time, so the switch need not wait for the lease's grace. At a full expiry a guest
   * whose connections all closed is excused too (its process died).
   */
  private excuse(lease: Lease, early: boolean): boolean {
    if (!lease.course) return false;
    const key = lease.agent.id;
    const state = this.idStates.get(key);
    if (this.idMode === 'auto' && state) {
      if (lease.course.idType !== state.type) return true;
      if (!state.proven) {
        const next = other(state.type);
        if (!state.tried.has(next)) {
          this.log.warn(
            { agent: lease.agent.id, from: state.type, to: next },
            `course agent never answered a task sent with a ${state.type} id: it likely decodes the id as a ${next}; sending ${next} ids from now on`,
          );
          if (early) this.remember(lease.course.id, key, state.type);
          state.type = next;
          state.tried.add(next);
          this.learnAddressType(state.address, next);
          return true;
        }
        if (!state.silent && !early) {
          state.silent = true;
          this.log.warn(
            { agent: lease.agent.id },
            'course agent answered no task, with number or string ids: it is silent, not confused',
          );
        }
      }
    }
    // A guest whose connections all closed is gone (its process died): like a socket agent's
    // disconnect, what it held says nothing about the operation or about a live agent. (Not
    // early: an HTTP client closes idle pooled connections while a worker still computes.)
    return !early && !isFirm(key) && !this.open.has(key);
  }
}
