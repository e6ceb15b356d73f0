/**
 * The agent relay, gateway side: this instance's agent sockets go straight to the scheduler while
 * it leads, and are relayed to the leader (join, results, drain, leave, a beat) while it does not.
 */
import type { TaskResultBatch } from '@expressionist/core';
import type { AgentLink, AgentRoute } from '../realtime/agents-namespace.js';
import type { AgentChannel } from '../scheduler/agent-registry.js';
import type { ClusterBus } from './bus.js';
import type { Leadership } from './leadership.js';
import type { RemoteAgent } from './messages.js';

export class GatewayAgentRelay implements AgentRoute {
  /** Agent sockets this instance holds. */
  private readonly local = new Map<string, AgentLink>();

  constructor(
    private readonly leadership: Leadership,
    private readonly bus: ClusterBus,
    /** This process's scheduler, for when this instance leads. */
    private readonly direct: AgentRoute,
  ) {
    leadership.whenLeading(() => {
      for (const link of this.local.values()) this.direct.join(link);
    });
    // A new leader knows none of our agents yet.
    leadership.whenNewLeader(() => {
      for (const link of this.local.values()) this.announce(link);
    });
    bus.on('rejoin', (m) => {
      if (m.to !== leadership.instance) return;
      for (const id of m.sockets) {
        const link = this.local.get(id);
        if (link) this.announce(link);
      }
    });
  }

  /** How many agent sockets this instance holds. */
  get size(): number {
    return this.local.size;
  }

  join(link: AgentLink): void {
    // In place, so the leave that follows names the same channel the registry holds.
    link.channel = this.fence(link.channel);
    this.local.set(link.socketId, link);
    if (this.leadership.leading()) this.direct.join(link);
    else this.announce(link);
  }

  results(link: AgentLink, batch: TaskResultBatch): void {
    if (this.leadership.leading()) this.direct.results(link, batch);
    else this.bus.send({ t: 'agent-results', from: this.from, socketId: link.socketId, batch });
  }

  leave(link: AgentLink, reason: string): void {
    this.local.delete(link.socketId);
    if (this.leadership.leading()) this.direct.leave(link, reason);
    else this.bus.send({ t: 'agent-leave', from: this.from, socketId: link.socketId, reason });
  }

  drain(link: AgentLink): void {
    if (this.leadership.leading()) this.direct.drain(link);
    else this.bus.send({ t: 'agent-drain', from: this.from, socketId: link.socketId });
  }

  seen(link: AgentLink): void {
    // A gateway's beat lists its live sockets every second; per-pong messages would be noise.
    if (this.leadership.leading()) this.direct.seen(link);
  }

  /** Every second, on a gateway: tells the leader which agent sockets are still here. */
  beat(): void {
    if (this.leadership.role !== 'gateway') return;
    this.bus.send({ t: 'beat', from: this.from, agents: [...this.local.keys()] });
  }

  /** Wraps a local agent channel so a dispatch first checks the leader lease. */
  fence(channel: AgentChannel): AgentChannel {
    return {
      ...channel,
      sendTasks: (tasks) => {
        this.leadership.guard();
        channel.sendTasks(tasks);
      },
    };
  }

  /** Tells the leader about one of this gateway's agent sockets. */
  private announce(link: AgentLink): void {
    this.bus.send({ t: 'agent-join', from: this.from, agent: remoteAgent(link) });
  }

  private get from(): string {
    return this.leadership.instance;
  }
}

function remoteAgent(link: AgentLink): RemoteAgent {
  return {
    socketId: link.socketId,
    hello: link.hello,
    ...(link.standing ? { standing: link.standing } : {}),
    credentialId: link.credentialId,
  };
}
