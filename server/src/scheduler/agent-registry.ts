/**
 * The agent registry: every agent listed (connected or recently lost), their actors, and the
 * quarantined identities; who can take work now.
 */
import type { AgentKind, AgentStatus } from '@expressionist/core';
import type { StoredQuarantine } from '../store/store.js';
import { Actor } from './actor.js';
import { Agent, type AgentInit } from './agent.js';

// Agents are defined in agent.ts; importers outside it still find them here.
export { Agent, type AgentChannel, type AgentInit } from './agent.js';
export type { StrikePolicy } from './actor.js';

/** Registry of agents: who is connected, who has free slots, who is lost and until when. */
export class AgentRegistry {
  private readonly agents = new Map<string, Agent>();
  /** Actors of listed agents (and of none while their cool-down lasts). */
  private readonly actors = new Map<string, Actor>();
  /** Quarantined identities and why: every agent holding one is refused until released. */
  private readonly quarantines = new Map<string, string>();
  /** Join order: every join (a rejoin too) takes the next number; the agents list pages by it. */
  private joins = 0;
  private readonly joinNumbers = new WeakMap<Agent, number>();

  get(id: string): Agent | undefined {
    return this.agents.get(id);
  }

  all(): IterableIterator<Agent> {
    return this.agents.values();
  }

  get size(): number {
    return this.agents.size;
  }

  /**
   * Up to `limit` agents that joined after join number `after`, in join order, and the number the
   * next page starts after (null: this is the last page). An agent that rejoins meanwhile comes
   * again later in the order, under its new number.
   */
  page(after: number, limit: number): { agents: Agent[]; next: number | null } {
    const later: { n: number; agent: Agent }[] = [];
    for (const agent of this.agents.values()) {
      const n = this.joinNumbers.get(agent) ?? 0;
      if (n > after) later.push({ n, agent });
    }
    later.sort((x, y) => x.n - y.n);
    const page = later.slice(0, limit);
    return {
      agents: page.map((entry) => entry.agent),
      next: later.length > limit ? page[page.length - 1]!.n : null,
    };
  }

  /** Actors known now (listed agents' and those cooling down). */
  get actorCount(): number {
    return this.actors.size;
  }

  /** The actor `key`, if any agent of it is listed or it is cooling down. */
  actor(key: string): Actor | undefined {
    return this.actors.get(key);
  }

  /** Adds or revives an agent. A previous entry with the same id must have been lost first. */
  join(init: AgentInit): Agent {
    const previous = this.agents.get(init.id);
    if (previous) this.forget(previous);
    const key = init.actor ?? (init.identity === undefined ? init.id : (init.identity ?? init.id));
    let actor = this.actors.get(key);
    if (!actor) this.actors.set(key, (actor = new Actor(key, init.maxInFlight)));
    actor.members += 1;
    const agent = new Agent(init, previous?.completed ?? 0, actor);
    this.agents.set(init.id, agent);
    this.joinNumbers.set(agent, (this.joins += 1));
    return agent;
  }

  /**
   * Lists a quarantine recorded before this process started (refused until released). It is
   * stored under the identity (`cred-…`, `user-…`, or an open-mode agent id), listed by that key.
   */
  restoreQuarantine(q: StoredQuarantine): Agent {
    const agent = this.join({
      id: q.agentId,
      name: q.name,
      kind: q.kind,
      concurrency: 0,
      channel: null,
      now: q.at,
      identity: q.agentId,
    });
    agent.gone('quarantined', null, q.reason);
    this.quarantines.set(q.agentId, q.reason);
    return agent;
  }

  /** Why `identity` is quarantined, or undefined when it is not (null identities never are). */
  quarantineOf(identity: string | null): string | undefined {
    return identity === null ? undefined : this.quarantines.get(identity);
  }

  /** Records that `identity` is quarantined. */
  markQuarantined(identity: string, reason: string): void {
    this.quarantines.set(identity, reason);
  }

  /** Lifts the quarantine of `identity`; true when there was one. */
  unmarkQuarantined(identity: string): boolean {
    return this.quarantines.delete(identity);
  }

  /** Every agent listed under `identity` (several processes may share one credential). */
  withIdentity(identity: string): Agent[] {
    const found: Agent[] = [];
    for (const agent of this.agents.values()) if (agent.identity === identity) found.push(agent);
    return found;
  }

  /** Forgets an agent at once. */
  remove(id: string): boolean {
    const agent = this.agents.get(id);
    if (!agent) return false;
    this.agents.delete(id);
    this.forget(agent);
    return true;
  }

  /** An agent leaves the list: its actor goes with its last agent, unless cooling down. */
  private forget(agent: Agent): void {
    const actor = agent.actor;
    for (const taskId of agent.heldTasks()) agent.drop(taskId);
    actor.members -= 1;
    if (actor.members <= 0 && actor.coolingUntil === null && this.actors.get(actor.key) === actor)
      this.actors.delete(actor.key);
  }

  /** Agents that can take socket-pushed work now within their windows (`depth` per slot). */
  withFreeSlots(depth = 1): Agent[] {
    const free: Agent[] = [];
    for (const agent of this.agents.values()) if (agent.canTake(depth)) free.push(agent);
    return free;
  }

  /** Agents that may borrow socket-pushed work beyond their windows now. */
  borrowers(depth = 1): Agent[] {
    const found: Agent[] = [];
    for (const agent of this.agents.values()) if (agent.canBorrow(depth)) found.push(agent);
    return found;
  }

  /** Whether an agent of another actor than `actor` can take pushed work within its window now. */
  otherCanTake(actor: Actor, depth = 1): boolean {
    for (const agent of this.agents.values())
      if (agent.actor !== actor && agent.canTake(depth)) return true;
    return false;
  }

  /** Pushed tasks each actor's agents may still take now within their windows (none: absent). */
  spareByActor(depth = 1): Map<Actor, number> {
    const spare = new Map<Actor, number>();
    for (const agent of this.agents.values()) {
      const n = agent.spare(depth);
      if (n > 0)
        spare.set(
          agent.actor,
          Math.min(agent.actor.maxInFlight, (spare.get(agent.actor) ?? 0) + n),
        );
    }
    return spare;
  }

  /** Every agent of `actor`. */
  ofActor(actor: Actor): Agent[] {
    const found: Agent[] = [];
    for (const agent of this.agents.values()) if (agent.actor === actor) found.push(agent);
    return found;
  }

  /**
   * Ends the cool-downs that are over (actors without agents are then forgotten); returns the
   * agents back on probation.
   */
  wake(now: number): Agent[] {
    const woken: Agent[] = [];
    for (const actor of this.actors.values()) {
      if (!actor.wake(now)) continue;
      if (actor.members <= 0) this.actors.delete(actor.key);
    }
    for (const agent of this.agents.values()) if (agent.wake()) woken.push(agent);
    return woken;
  }

  /** Removes gone agents whose retention passed; returns their ids. */
  sweep(now: number): string[] {
    const removed: string[] = [];
    for (const agent of this.agents.values()) {
      if (agent.expiresAt !== null && agent.expiresAt <= now) {
        this.agents.delete(agent.id);
        this.forget(agent);
        removed.push(agent.id);
      }
    }
    return removed;
  }

  /** Re-times retention of agents already gone (after a settings change). */
  retime(now: number, retentionMs: number): void {
    for (const agent of this.agents.values()) agent.retime(now + retentionMs);
  }

  /** Agents in `status`, per kind. */
  counts(status: AgentStatus = 'active'): Record<AgentKind, number> {
    const counts: Record<AgentKind, number> = { node: 0, browser: 0, http: 0 };
    for (const agent of this.agents.values()) if (agent.status === status) counts[agent.kind] += 1;
    return counts;
  }

  /** Whether an active agent of an actor not in `avoid` exists (busy or not). */
  someoneElse(avoid: readonly string[]): boolean {
    for (const agent of this.agents.values())
      if (agent.status === 'active' && !avoid.includes(agent.actor.key)) return true;
    return false;
  }

  /** Whether some agent could take work now or later without a cool-down ending first. */
  hasResponsive(): boolean {
    for (const agent of this.agents.values()) if (agent.status === 'active') return true;
    return false;
  }

  /** Total worker slots of active socket agents. */
  totalSlots(): number {
    let slots = 0;
    for (const agent of this.agents.values()) {
      if (agent.status === 'active' && agent.channel) slots += agent.concurrency;
    }
    return slots;
  }
}
