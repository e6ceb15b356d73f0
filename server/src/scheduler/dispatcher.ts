/**
 * The dispatcher: hands ready operations to free worker slots of socket agents, with prefetch
 * and loans beyond an agent's window.
 */
import type { Settings, Task } from '@expressionist/core';
import type { Agent } from './agent.js';
import type { AgentRegistry } from './agent-registry.js';
import type { ExpressionRun } from './expression-run.js';
import type { ReadyQueue } from './ready-queue.js';

/** Operations at most this long are prefetched (two in flight per worker slot). */
const PREFETCH_MAX_MS = 10;

/** Loans go first to agents without strikes that have shown they work, then to the rest. */
const rankOf = (agent: Agent): number => (agent.strikes > 0 ? 2 : agent.proven ? 0 : 1);

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
    private readonly queue: ReadyQueue,
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
    if (this.queue.isEmpty) return;
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
    if (!this.queue.isEmpty) {
      // Nobody can take more within a window: lend beyond them, proven agents without strikes
      // first, so an unproven agent gets a loan only when no one better has a free slot.
      const borrowers = this.agents
        .borrowers(depth)
        .sort((x, y) => rankOf(x) - rankOf(y) || y.completed - x.completed);
      this.fill(borrowers, borrowers, (a) => a.canBorrow(depth), true, batches, deferred);
    }
    this.queue.putBack(deferred);
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
        const next = this.queue.take();
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
