/**
 * Agents as a viewer may see them: an admin sees every agent as it is, a user their own, and
 * every other agent under an alias.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { AgentView } from '@expressionist/core';
import type { AgentRegistry } from './agent-registry.js';

/**
 * Who reads an agent's details: null for an admin (and everyone in open mode), who sees them all;
 * else a signed-in user's id. A user sees their own agents (browser tabs: identity `user-<id>`)
 * as they are, and every other agent under an alias: agent ids and names are chosen by whoever
 * runs the agent (host names) or made from addresses (course guests), and are not users' to see.
 * Task ids (`running`) are an admin's alone.
 */
export type Viewer = string | null;

/** Views of agents for a viewer, and the aliases that hide agents that are not theirs. */
export class AgentViews {
  /** Keys the aliases: stable while the process lives, unguessable from outside. */
  private readonly aliasKey = randomBytes(32);

  constructor(private readonly agents: AgentRegistry) {}

  /** Aliases computed so far: every delta of 1,000 busy agents would otherwise run 1,000 HMACs. */
  private readonly aliases = new Map<string, string>();

  /** The alias users see for an agent that is not theirs (the same for every user). */
  aliasOf(agentId: string): string {
    let alias = this.aliases.get(agentId);
    if (alias === undefined) {
      // Bounded: ids are chosen by agents, and forgetting costs only a recomputation.
      if (this.aliases.size >= 100_000) this.aliases.clear();
      alias = `agent-${createHmac('sha256', this.aliasKey).update(agentId).digest('hex').slice(0, 12)}`;
      this.aliases.set(agentId, alias);
    }
    return alias;
  }

  /** The user whose browser-tab identity an agent holds, if any. */
  userOfAgent(agentId: string): string | null {
    const identity = this.agents.get(agentId)?.identity ?? null;
    return identity !== null && identity.startsWith('user-')
      ? identity.slice('user-'.length)
      : null;
  }

  /** An agent as `viewer` may see it (see `Viewer`). */
  agentRef(
    agentId: string | null,
    viewer: Viewer,
  ): { agentId: string | null; agentName: string | null } {
    if (agentId === null) return { agentId: null, agentName: null };
    if (viewer === null || this.userOfAgent(agentId) === viewer)
      return { agentId, agentName: this.agents.get(agentId)?.name ?? agentId };
    const alias = this.aliasOf(agentId);
    return { agentId: alias, agentName: alias };
  }

  agentViews(viewer: Viewer = null): AgentView[] {
    return [...this.agents.all()].map((agent) => this.seenBy(agent.toView(), viewer));
  }

  /**
   * Every agent's view, `slice` per event-loop turn: a dashboard's snapshot of 10,000 agents
   * never holds the loop for all of them at once.
   */
  async agentViewsInSlices(viewer: Viewer, slice: number): Promise<AgentView[]> {
    const agents = [...this.agents.all()];
    const views: AgentView[] = [];
    for (let from = 0; from < agents.length; from += slice) {
      if (from > 0) await nextTurn();
      for (const agent of agents.slice(from, from + slice))
        views.push(this.seenBy(agent.toView(), viewer));
    }
    return views;
  }

  /** One page of the agents list (see `AgentRegistry.page`). */
  agentPage(
    after: number,
    limit: number,
    viewer: Viewer = null,
  ): { agents: AgentView[]; next: number | null } {
    const page = this.agents.page(after, limit);
    return {
      agents: page.agents.map((agent) => this.seenBy(agent.toView(), viewer)),
      next: page.next,
    };
  }

  agentView(id: string, viewer: Viewer = null): AgentView | null {
    const view = this.agents.get(id)?.toView();
    return view ? this.seenBy(view, viewer) : null;
  }

  /** `view` as `viewer` may see it (see `Viewer`). */
  private seenBy(view: AgentView, viewer: Viewer): AgentView {
    if (viewer === null) return view;
    view.running = [];
    if (this.userOfAgent(view.id) === viewer) return view;
    const alias = this.aliasOf(view.id);
    view.id = alias;
    view.name = alias;
    return view;
  }
}
