/**
 * The reconnect grace: a socket agent whose connection dropped keeps its leases for
 * AGENT_RECONNECT_GRACE_MS; back in time (same id, same actor), it delivers their results, and
 * what the connection lost (a `tasks` message, a result, a revoke) is reconciled from its hello.
 */
import type { Logger } from 'pino';
import type { AgentHello, HeldTask, Settings, Task } from '@expressionist/core';
import type { Agent, AgentChannel } from './agent.js';
import type { Lease } from './lease-table.js';

/** What to tell an agent back within its grace: the tasks to send again, the ids to revoke. */
export interface Reconciliation {
  resend: Lease[];
  revoke: string[];
}

/**
 * Reconciles the leases an agent kept through its grace with what its hello says it holds.
 * A connection that breaks loses what was in flight on it: a `tasks` message the agent never got
 * (the lease would sit until it expired, and the expiry would count as the agent's failure — a
 * strike and a halved window for a network blip, and a whole lease of delay), a result the agent
 * sent (it cannot know that one was lost; the orchestrator can), a `revoke` (the agent would spend
 * a slot on work nobody waits for). So the kept leases whose attempt it does not hold are sent
 * again — its runner ignores an attempt it already runs and answers one it already answered
 * (at once, or computing it again if it takes under 100 ms) — and the task ids it holds without a
 * lease here are revoked. The deadlines stay as they were: what was lost was in flight when the
 * connection broke, and the agent is back within the grace (1.5 s), well within a lease's margin
 * past its operation's time (LEASE_GRACE_MS, 3 s); renewing them would let an agent that
 * reconnects over and over hold its leases for ever. Why the agent's word and not
 * acknowledgements of every message: nothing is added to the busy path (a 0-ms operation's round
 * trip), only to a reconnection. An agent that lies gains nothing: claiming a task it lacks only
 * keeps its own lease from being sent again (it expires on it as before), denying one it holds
 * only gets it the same attempt again (its lease and deadline unchanged), and a revoke goes to it
 * alone. No `holding` (an agent from before the field): nothing is reconciled, as before.
 */
export function reconcile(
  kept: readonly Lease[],
  holding: readonly HeldTask[] | undefined,
): Reconciliation {
  if (holding === undefined) return { resend: [], revoke: [] };
  const key = (taskId: string, attempt: number): string => `${attempt}:${taskId}`;
  const held = new Set(holding.map((h) => key(h.taskId, h.attempt)));
  const leased = new Set(kept.map((lease) => lease.taskId));
  return {
    resend: kept.filter((lease) => !held.has(key(lease.taskId, lease.attempt))),
    revoke: [...new Set(holding.map((h) => h.taskId))].filter((id) => !leased.has(id)),
  };
}

/** What the grace works with: the agent lifecycle's hooks and its way to lose an agent. */
export interface GraceParts {
  graceMs: number;
  log: Logger;
  settings(): Settings;
  /** The leases `agent` holds. */
  leasesOf(agent: Agent): Lease[];
  /** The task a lease sends its agent. */
  taskOf(lease: Lease): Task;
  /** `count` tasks were sent again after a reconnection. */
  resent(count: number): void;
  /** The grace of `agent` ran out: it is lost, its leases requeued. */
  expire(agent: Agent): void;
  /** The agent's membership changed (it left for its grace, or came back). */
  changed(agent: Agent): void;
  dispatchSoon(): void;
  capacityChanged(): void;
}

/**
 * Agents away within their grace, each with the timer that ends it. Why a grace of our own and
 * not Socket.IO's connection state recovery: recovery still reports the disconnect at once (the
 * leases would have to wait anyway), skips the handshake's checks by default, replays only
 * broadcasts (tasks go to one socket), and cannot follow an agent to another instance of a
 * cluster; this one is keyed by what the registry already trusts — the agent id and its actor.
 * The price is paid by an agent that really died (a SIGKILL looks like a dropped connection): its
 * work moves on after the grace instead of at once.
 */
export class ReconnectGrace {
  private readonly waiting = new Map<Agent, NodeJS.Timeout>();

  constructor(private readonly p: GraceParts) {}

  /**
   * The connection of `agent` dropped: it keeps what it holds, takes nothing new, and has the
   * grace to come back. False (lose it now) when there is no grace or it holds nothing.
   */
  hold(agent: Agent, reason: string): boolean {
    if (this.p.graceMs <= 0 || agent.inFlight === 0 || this.waiting.has(agent)) return false;
    const timer = setTimeout(() => {
      this.waiting.delete(agent);
      this.p.expire(agent);
    }, this.p.graceMs);
    timer.unref();
    this.waiting.set(agent, timer);
    agent.detach();
    this.p.log.info(
      { agent: agent.id, name: agent.name, reason, holding: agent.inFlight },
      'agent disconnected; its tasks wait for it to reconnect',
    );
    this.p.changed(agent);
    this.p.capacityChanged();
    return true;
  }

  /** Whether `agent` is away within its grace. */
  has(agent: Agent): boolean {
    return this.waiting.has(agent);
  }

  /**
   * `agent` reconnected within its grace as the same kind with the same `slots`: `channel` holds
   * its registration and its leases from now on, their results count from there, and what the
   * old connection lost is sent again (see `reconcile`). False when it had no grace running, or
   * came back as something else (then it is replaced as usual).
   */
  resume(agent: Agent, hello: AgentHello, slots: number, channel: AgentChannel): boolean {
    if (agent.kind !== hello.kind || agent.concurrency !== slots) return false;
    if (!this.end(agent)) return false;
    this.adopt(
      agent,
      hello,
      channel,
      'agent reconnected within its grace; its tasks are still its own',
    );
    return true;
  }

  /**
   * `agent` connected again while its old connection still looks alive (half-open: the agent saw
   * the break first, say a proxy closed its side): like a resume, the new connection takes the
   * registration and the leases, reconciled, instead of the leases being requeued. Only for an
   * active agent of the same kind and slots whose hello says what it holds (without that nothing
   * can be reconciled: it is replaced as before). The caller closes the old connection; its late
   * messages count for nothing (`AgentLifecycle.holder`).
   */
  takeOver(agent: Agent, hello: AgentHello, slots: number, channel: AgentChannel): boolean {
    if (hello.holding === undefined || agent.status !== 'active') return false;
    if (agent.kind !== hello.kind || agent.concurrency !== slots) return false;
    this.adopt(
      agent,
      hello,
      channel,
      'agent reconnected before its old connection was seen to drop; its tasks are still its own',
    );
    return true;
  }

  /** `channel` holds `agent`'s registration and leases from now on; what it lacks is sent again. */
  private adopt(agent: Agent, hello: AgentHello, channel: AgentChannel, message: string): void {
    agent.reattach(channel, Date.now());
    channel.sendSettings(this.p.settings());
    const { resend, revoke } = reconcile(this.p.leasesOf(agent), hello.holding);
    if (revoke.length > 0) channel.revoke(revoke);
    if (resend.length > 0) {
      channel.sendTasks(resend.map((lease) => this.p.taskOf(lease)));
      this.p.resent(resend.length);
    }
    this.p.log.info(
      {
        agent: agent.id,
        name: agent.name,
        kept: agent.inFlight,
        resent: resend.length,
        revoked: revoke.length,
      },
      message,
    );
    this.p.changed(agent);
    this.p.dispatchSoon();
    this.p.capacityChanged();
  }

  /** Ends the grace of `agent` (it came back, or is gone for another reason); true if it had one. */
  end(agent: Agent): boolean {
    const timer = this.waiting.get(agent);
    if (timer === undefined) return false;
    clearTimeout(timer);
    this.waiting.delete(agent);
    return true;
  }

  /** Ends every grace without expiring it (the scheduler stops). */
  clear(): void {
    for (const timer of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
  }
}
