import type { AgentKind, AgentStatus, AgentView, Settings, Task } from '@expressionist/core';

/** How the scheduler talks to one connected agent (a socket, or nothing for pull-based HTTP). */
export interface AgentChannel {
  sendTasks(tasks: Task[]): void;
  revoke(taskIds: string[]): void;
  sendSettings(settings: Settings): void;
  /** Tells the agent it is quarantined, then cuts it off. */
  quarantine(reason: string): void;
}

/** One agent the orchestrator knows of, connected or recently lost. */
export interface AgentEntry {
  id: string;
  name: string;
  kind: AgentKind;
  status: AgentStatus;
  concurrency: number;
  channel: AgentChannel | null;
  /** Task ids currently leased to this agent. */
  running: Set<string>;
  completed: number;
  connectedAt: number;
  lastSeenAt: number;
  expiresAt: number | null;
}

/** Registry of agents: who is connected, who has free slots, who is lost and until when. */
export class AgentRegistry {
  private readonly agents = new Map<string, AgentEntry>();

  get(id: string): AgentEntry | undefined {
    return this.agents.get(id);
  }

  all(): IterableIterator<AgentEntry> {
    return this.agents.values();
  }

  get size(): number {
    return this.agents.size;
  }

  /** Adds or revives an agent. A previous entry with the same id must have been lost first. */
  join(entry: Omit<AgentEntry, 'running' | 'completed' | 'status' | 'expiresAt'>): AgentEntry {
    const previous = this.agents.get(entry.id);
    const agent: AgentEntry = {
      ...entry,
      status: 'active',
      running: new Set(),
      completed: previous?.completed ?? 0,
      expiresAt: null,
    };
    this.agents.set(entry.id, agent);
    return agent;
  }

  /** Agents that can take socket-pushed work now, with `depth` tasks in flight per slot. */
  withFreeSlots(depth = 1): AgentEntry[] {
    const free: AgentEntry[] = [];
    for (const agent of this.agents.values()) {
      const capacity = agent.concurrency * depth;
      if (agent.status === 'active' && agent.channel && agent.running.size < capacity) {
        free.push(agent);
      }
    }
    return free;
  }

  /** Marks an agent gone; it stays listed until `expiresAt`. */
  markGone(
    agent: AgentEntry,
    status: 'lost' | 'quarantined',
    now: number,
    retentionMs: number,
  ): void {
    agent.status = status;
    agent.channel = null;
    agent.expiresAt = now + retentionMs;
  }

  /** Removes gone agents whose retention passed; returns their ids. */
  sweep(now: number): string[] {
    const removed: string[] = [];
    for (const agent of this.agents.values()) {
      if (agent.expiresAt !== null && agent.expiresAt <= now) {
        this.agents.delete(agent.id);
        removed.push(agent.id);
      }
    }
    return removed;
  }

  /** Re-times retention of agents already gone (after a settings change). */
  retime(now: number, retentionMs: number): void {
    for (const agent of this.agents.values()) {
      if (agent.expiresAt !== null) agent.expiresAt = Math.min(agent.expiresAt, now + retentionMs);
    }
  }

  counts(): Record<AgentKind, number> {
    const counts: Record<AgentKind, number> = { node: 0, browser: 0, http: 0 };
    for (const agent of this.agents.values())
      if (agent.status === 'active') counts[agent.kind] += 1;
    return counts;
  }

  /** Total worker slots of active socket agents. */
  totalSlots(): number {
    let slots = 0;
    for (const agent of this.agents.values()) {
      if (agent.status === 'active' && agent.channel) slots += agent.concurrency;
    }
    return slots;
  }

  view(agent: AgentEntry): AgentView {
    return {
      id: agent.id,
      name: agent.name,
      kind: agent.kind,
      status: agent.status,
      concurrency: agent.concurrency,
      running: [...agent.running],
      completed: agent.completed,
      connectedAt: new Date(agent.connectedAt).toISOString(),
      lastSeenAt: new Date(agent.lastSeenAt).toISOString(),
      expiresAt: agent.expiresAt === null ? null : new Date(agent.expiresAt).toISOString(),
    };
  }
}
