/**
 * Dispatch: the ready ring (fair across owners and expressions) and filling free agent slots, one
 * message per agent per round.
 */
import type { Settings, Task } from '@expressionist/core';
import type { Agent, AgentRegistry } from './agent-registry.js';
import type { ExpressionRun } from './expression-run.js';

/** Operations at most this long are prefetched (two in flight per worker slot). */
const PREFETCH_MAX_MS = 10;

/** Loans go first to agents without strikes that have shown they work, then to the rest. */
const rankOf = (agent: Agent): number => (agent.strikes > 0 ? 2 : agent.proven ? 0 : 1);

/**
 * A FIFO queue on an array with a moving head: O(1) push and shift, the consumed prefix dropped
 * in one splice once it is most of the array (a plain `shift()` is O(n) per call).
 */
class Fifo<T> {
  private readonly items: T[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  get isEmpty(): boolean {
    return this.head >= this.items.length;
  }

  /** The queued items, front first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i += 1) yield this.items[i]!;
  }
}

/** Expressions of one owner with ready operations, in the order they are served. */
class Lane {
  private readonly ring = new Fifo<ExpressionRun>();
  /** Whether the lane is in the ring of owners. */
  inRing = false;

  constructor(readonly owner: string) {}

  enqueue(run: ExpressionRun): void {
    if (run.inRing) return;
    run.inRing = true;
    this.ring.push(run);
  }

  get isEmpty(): boolean {
    return this.ring.isEmpty;
  }

  /** Next ready operation, round-robin across this owner's expressions. */
  take(): { run: ExpressionRun; opId: number } | undefined {
    for (let run = this.ring.shift(); run !== undefined; run = this.ring.shift()) {
      const opId = run.finished ? undefined : run.takeReady();
      if (opId === undefined) {
        run.inRing = false;
        continue;
      }
      if (run.hasReady) this.ring.push(run);
      else run.inRing = false;
      return { run, opId };
    }
    return undefined;
  }

  get readyCount(): number {
    let count = 0;
    for (const run of this.ring) count += run.readyCount;
    return count;
  }
}

/**
 * Expressions with ready operations, served round-robin over owners first, then over that
 * owner's expressions: one user's 10,000 expressions get the same share as another's one, and a
 * huge expression cannot starve a small one. Within one expression the run's own heap gives
 * critical-path-first order. Open mode has one owner (nobody), so it is one round-robin over
 * expressions, as before accounts.
 */
export class ReadyRing {
  private readonly lanes = new Map<string, Lane>();
  private readonly ring = new Fifo<Lane>();

  /** Puts a run that has ready work in the ring (once). */
  enqueue(run: ExpressionRun): void {
    if (run.inRing) return;
    const owner = run.stored.owner ?? '';
    let lane = this.lanes.get(owner);
    if (!lane) this.lanes.set(owner, (lane = new Lane(owner)));
    lane.enqueue(run);
    if (lane.inRing) return;
    lane.inRing = true;
    this.ring.push(lane);
  }

  get isEmpty(): boolean {
    return this.ring.isEmpty;
  }

  /** Next ready operation: the next owner's turn, then that owner's next expression. */
  take(): { run: ExpressionRun; opId: number } | undefined {
    for (let lane = this.ring.shift(); lane !== undefined; lane = this.ring.shift()) {
      const next = lane.take();
      if (next && !lane.isEmpty) {
        this.ring.push(lane);
        return next;
      }
      lane.inRing = false;
      // An owner with nothing queued is forgotten, so lanes do not pile up per user.
      if (lane.isEmpty) this.lanes.delete(lane.owner);
      if (next) return next;
    }
    return undefined;
  }

  /**
   * Takes the next ready operation that need not avoid the actor `actorKey` (one whose earlier
   * attempt expired or failed on it), as long as another agent can take those later; the skipped
   * ones go back. Looks at most `limit` operations deep.
   */
  takeFor(
    actorKey: string,
    someoneElse: (avoid: readonly string[]) => boolean,
    limit = 64,
  ): { run: ExpressionRun; opId: number } | undefined {
    const skipped: { run: ExpressionRun; opId: number }[] = [];
    let found: { run: ExpressionRun; opId: number } | undefined;
    for (let i = 0; i < limit; i += 1) {
      const next = this.take();
      if (!next) break;
      const avoid = next.run.avoidedBy(next.opId);
      if (avoid?.includes(actorKey) && someoneElse(avoid)) skipped.push(next);
      else {
        found = next;
        break;
      }
    }
    this.putBack(skipped);
    return found;
  }

  /** Returns taken but unassigned operations to the ring. */
  putBack(ops: readonly { run: ExpressionRun; opId: number }[]): void {
    for (const { run, opId } of ops) {
      if (run.finished) continue;
      run.markReady(opId);
      this.enqueue(run);
    }
  }

  /** Ready operations queued (an upper bound: entries that stopped being ready count). */
  get readyCount(): number {
    let count = 0;
    for (const lane of this.ring) count += lane.readyCount;
    return count;
  }
}

/** What the dispatcher needs from the write path. */
export interface DispatchTarget {
  settings(): Settings;
  /** Leases `opId` of `run` to `agent` (`loan`: beyond its window) and returns the task. */
  assign(run: ExpressionRun, opId: number, agent: Agent, now: number, loan: boolean): Task;
  /** The agent's view changed (new tasks). */
  agentChanged(agent: Agent): void;
}

/**
 * Hands ready operations to free worker slots of socket agents: at most once per event-loop
 * turn, one task per agent per round so work spreads evenly, one `tasks` message per agent.
 */
export class Dispatcher {
  private scheduled = false;

  constructor(
    private readonly ring: ReadyRing,
    private readonly agents: AgentRegistry,
    private readonly target: DispatchTarget,
  ) {}

  /** Runs a dispatch after the current turn (many changes in one turn share one dispatch). */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.dispatch());
  }

  /**
   * Tasks in flight per worker slot. When every operation is near-instant, the round trip to the
   * agent costs more than the work, so each slot gets a second task that waits on the agent
   * (its TaskRunner runs at most `concurrency` at once) and starts the moment the first is done.
   * Longer operations are not prefetched: a slot's work is then worth more than a round trip,
   * and queued work would sit behind it instead of going to an idle agent.
   */
  depth(): number {
    const s = this.target.settings();
    const longest = Math.max(s.additionMs, s.subtractionMs, s.multiplicationMs, s.divisionMs);
    return longest <= PREFETCH_MAX_MS ? 2 : 1;
  }

  private dispatch(): void {
    this.scheduled = false;
    if (this.ring.isEmpty) return;
    const depth = this.depth();
    const batches = new Map<Agent, Task[]>();
    const deferred: { run: ExpressionRun; opId: number }[] = [];
    const free = this.agents.withFreeSlots(depth);
    const within = (a: Agent): boolean => a.canTake(depth);
    // Agents with strikes in a row get work only once those without are full.
    const clean = free.filter((a) => a.strikes === 0);
    this.fill(clean, free, within, false, batches, deferred);
    this.fill(
      free.filter((a) => a.strikes > 0),
      free,
      within,
      false,
      batches,
      deferred,
    );
    if (!this.ring.isEmpty) {
      // Nobody can take more within a window: lend beyond them, proven agents without strikes
      // first, so an unproven agent gets a loan only when no one better has a free slot.
      const borrowers = this.agents
        .borrowers(depth)
        .sort((x, y) => rankOf(x) - rankOf(y) || y.completed - x.completed);
      this.fill(borrowers, borrowers, (a) => a.canBorrow(depth), true, batches, deferred);
    }
    this.ring.putBack(deferred);
    for (const [agent, tasks] of batches) {
      agent.channel?.sendTasks(tasks);
      this.target.agentChanged(agent);
    }
  }

  /**
   * Round-robin over `agents`, one task per agent per round, until none `may` take more or no
   * work is left; `loan`: the tasks go beyond the agents' windows.
   */
  private fill(
    agents: readonly Agent[],
    free: readonly Agent[],
    may: (agent: Agent) => boolean,
    loan: boolean,
    batches: Map<Agent, Task[]>,
    deferred: { run: ExpressionRun; opId: number }[],
  ): void {
    const now = Date.now();
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const candidate of agents) {
        if (!may(candidate)) continue;
        const next = this.ring.take();
        if (!next) break;
        progressed = true;
        const agent = this.pickAgent(candidate, free, may, next.run.avoidedBy(next.opId));
        if (!agent) {
          // Only agents it should avoid are free now, and another will be: it waits for that one.
          deferred.push(next);
          continue;
        }
        let batch = batches.get(agent);
        if (!batch) batches.set(agent, (batch = []));
        batch.push(this.target.assign(next.run, next.opId, agent, now, loan));
      }
    }
  }

  /**
   * The candidate, unless the op should avoid it: then another free agent, or none when some
   * other agent (busy now) will take it later, or the candidate after all when nobody else can.
   */
  private pickAgent(
    candidate: Agent,
    free: readonly Agent[],
    may: (agent: Agent) => boolean,
    avoid: readonly string[] | undefined,
  ): Agent | undefined {
    if (!avoid?.includes(candidate.actor.key)) return candidate;
    const other = free.find((a) => !avoid.includes(a.actor.key) && may(a));
    if (other) return other;
    return this.agents.someoneElse(avoid) ? undefined : candidate;
  }
}
