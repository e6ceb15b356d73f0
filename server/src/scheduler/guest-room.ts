/**
 * Room for guests: a guest actor (an address) has at most GUEST_AGENTS_PER_ACTOR agents listed;
 * its lost and idle ones are forgotten to make room for a new one.
 */
import type { Agent } from './agent.js';
import type { AgentRegistry } from './agent-registry.js';

/**
 * Agents one guest actor (an address) may have listed at once, connected or lost: a classroom
 * behind one NAT fits, a swarm of fresh ids does not grow the list (see `makeRoom`).
 */
export const GUEST_AGENTS_PER_ACTOR = 64;

/** What making room works with (the agent lifecycle's registry and its way to cut one off). */
export interface GuestRoomParts {
  registry: AgentRegistry;
  lose(agent: Agent, status: 'lost', reason: string): void;
  agentRemoved(id: string): void;
}

/** Keeps each guest actor's listed agents within GUEST_AGENTS_PER_ACTOR. */
export class GuestRoom {
  constructor(private readonly p: GuestRoomParts) {}

  /**
   * Makes room for one more agent of the guest actor `key` (`reviving`: the entry about to be
   * replaced, which does not count): past GUEST_AGENTS_PER_ACTOR listed agents it forgets the
   * actor's lost ones, oldest first, then idle pulling ones, least recently seen first. False
   * when every one of them holds work. A swarm of fresh ids from one address so leaves at most
   * that many entries, and an honest guest coming back always finds room.
   */
  makeRoom(key: string, reviving?: Agent): boolean {
    const actor = this.p.registry.actor(key);
    if (!actor) return true;
    const members = this.p.registry.ofActor(actor).filter((a) => a !== reviving);
    let excess = members.length + 1 - GUEST_AGENTS_PER_ACTOR;
    if (excess <= 0) return true;
    const rank = (a: Agent): number => (a.status === 'lost' ? 0 : 1);
    const spare = members
      .filter((a) => a.status === 'lost' || (a.kind === 'http' && a.inFlight === 0))
      .sort((x, y) => rank(x) - rank(y) || x.lastSeenAt - y.lastSeenAt);
    for (const agent of spare) {
      if (excess <= 0) break;
      if (agent.status !== 'lost') this.p.lose(agent, 'lost', 'replaced by a newer guest agent');
      this.p.registry.remove(agent.id);
      this.p.agentRemoved(agent.id);
      excess -= 1;
    }
    return excess <= 0;
  }
}
