/**
 * Id-type negotiation: whether a course agent gets task ids as JSON numbers or strings, switched
 * when a lease sent one way expires unanswered, and remembered per address for new agents.
 */
import type { Logger } from 'pino';
import type { Lease } from '../scheduler/lease-table.js';

/** The JSON type a course agent decodes task ids as. */
export type CourseIdType = 'number' | 'string';
/** COURSE_TASK_ID: negotiate (`auto`), or always one type. */
export type CourseIdMode = 'auto' | CourseIdType;

/** What the protocol knows of one agent's id decoding. */
interface IdState {
  type: CourseIdType;
  tried: Set<CourseIdType>;
  /** It posted a result of a task sent with `type`. */
  proven: boolean;
  /** Both types went unanswered (logged once). */
  silent: boolean;
  /** Where it first pulled from. */
  address: string;
}

/** Probes judged early that are remembered (the most recent ones). */
const EARLY_PROBES_KEPT = 1024;
/** Addresses whose working id type is remembered (the most recent ones). */
const ADDRESS_TYPES_KEPT = 4096;

const other = (type: CourseIdType): CourseIdType => (type === 'number' ? 'string' : 'number');

export class IdTypes {
  private readonly states = new Map<string, IdState>();
  /** Probes judged early, by course id (the most recent ones): see `lateProbe`. */
  private readonly earlyProbes = new Map<number, { key: string; type: CourseIdType }>();
  /** The id type that last worked on each address: where a new agent starts. */
  private readonly addressType = new Map<string, CourseIdType>();
  /** The type each course lease's id was sent as (gone with the lease). */
  private readonly sentAs = new WeakMap<Lease, CourseIdType>();

  constructor(
    private readonly mode: CourseIdMode,
    private readonly log: Logger,
  ) {}

  /** The type `key` gets ids as; a new agent (first seen at `address`) starts with its address's. */
  typeFor(key: string, address: string): CourseIdType {
    let state = this.states.get(key);
    if (!state) {
      const type = this.mode === 'auto' ? (this.addressType.get(address) ?? 'number') : this.mode;
      state = { type, tried: new Set([type]), proven: false, silent: false, address };
      this.states.set(key, state);
    }
    return state.type;
  }

  /** Whether `key` ever posted a result (until then it gets one task at a time). */
  isProven(key: string): boolean {
    return this.states.get(key)?.proven ?? false;
  }

  /** The address `key` first pulled from, if it is known. */
  firstAddress(key: string): string | undefined {
    return this.states.get(key)?.address;
  }

  /** Records that `lease`'s id went out as `type`. */
  sent(lease: Lease, type: CourseIdType): void {
    this.sentAs.set(lease, type);
  }

  /** How `lease`'s id went out; undefined for a lease the course protocol did not issue. */
  sentWith(lease: Lease): CourseIdType | undefined {
    return this.sentAs.get(lease);
  }

  /** The holder of `lease` posted a result for it: the type it was sent as works. */
  answered(lease: Lease): void {
    const state = this.states.get(lease.agent.id);
    const type = this.sentAs.get(lease);
    if (!state || type === undefined) return;
    state.proven = true;
    this.learnAddressType(state.address, type);
  }

  /**
   * A post for a task no longer leased: if it answers a probe that was judged early, its sender
   * does decode that type (it was only slow): it gets that type back. The task itself went to
   * another agent, so the post is still refused.
   */
  lateProbe(courseId: number, sender: string | null): void {
    const probe = this.earlyProbes.get(courseId);
    if (!probe || probe.key !== sender) return;
    this.earlyProbes.delete(courseId);
    const state = this.states.get(probe.key);
    if (!state) return;
    this.log.info({ agent: probe.key, type: probe.type }, 'course agent was slow, not confused');
    state.type = probe.type;
    state.tried = new Set([probe.type]);
    this.learnAddressType(state.address, probe.type);
  }

  /**
   * Whether the expiry of `lease` (sent as `type`; `early`: overdue, not yet expired) is the id
   * type's fault: sent with a type its agent has since moved away from, or the first type it
   * never answered, which it now leaves. An agent that decodes our ids answers within its
   * operation's time, so the switch need not wait for the lease's grace.
   */
  excuses(lease: Lease, type: CourseIdType, early: boolean): boolean {
    const key = lease.agent.id;
    const state = this.states.get(key);
    if (this.mode !== 'auto' || !state) return false;
    if (type !== state.type) return true;
    if (state.proven) return false;
    const next = other(state.type);
    if (!state.tried.has(next)) {
      this.log.warn(
        { agent: key, from: state.type, to: next },
        `course agent never answered a task sent with a ${state.type} id: it likely decodes the id as a ${next}; sending ${next} ids from now on`,
      );
      if (early && lease.course) this.remember(lease.course.id, key, state.type);
      state.type = next;
      state.tried.add(next);
      this.learnAddressType(state.address, next);
      return true;
    }
    if (!state.silent && !early) {
      state.silent = true;
      this.log.warn(
        { agent: key },
        'course agent answered no task, with number or string ids: it is silent, not confused',
      );
    }
    return false;
  }

  /** Agents whose id decoding is known. */
  agents(): IterableIterator<string> {
    return this.states.keys();
  }

  /** Forgets what is known of `key` (it left, or is no longer listed). */
  forget(key: string): void {
    this.states.delete(key);
  }

  /** Sizes of the tables kept here. */
  tableSizes(): { idStates: number; earlyProbes: number; addressTypes: number } {
    return {
      idStates: this.states.size,
      earlyProbes: this.earlyProbes.size,
      addressTypes: this.addressType.size,
    };
  }

  /** Remembers a probe judged early: a late answer to it proves its type after all. */
  private remember(courseId: number, key: string, type: CourseIdType): void {
    this.earlyProbes.set(courseId, { key, type });
    if (this.earlyProbes.size > EARLY_PROBES_KEPT)
      this.earlyProbes.delete(this.earlyProbes.keys().next().value!);
  }

  /** Remembers what works at `address`; the oldest addresses are forgotten past a bound. */
  private learnAddressType(address: string, type: CourseIdType): void {
    this.addressType.delete(address);
    this.addressType.set(address, type);
    if (this.addressType.size > ADDRESS_TYPES_KEPT)
      this.addressType.delete(this.addressType.keys().next().value!);
  }
}
