/**
 * The agent relay, gateway side: this instance's agent sockets go straight to the scheduler while
 * it leads; while it does not, their events are relayed to the leader and the leader's commands
 * delivered to them, each direction in one bus message per event-loop turn.
 */
import type { Logger } from 'pino';
import type { TaskResultBatch } from '@expressionist/core';
import type { AgentLink, AgentRoute } from '../realtime/agents-namespace.js';
import type { AgentChannel } from '../scheduler/agent-registry.js';
import type { ClusterBus, ClusterMessageOf } from './bus.js';
import type { Leadership } from './leadership.js';
import {
  agentEventSize,
  type AgentCommand,
  type AgentEvent,
  type RemoteAgent,
} from './messages.js';
import type { TurnBatcher } from './turn-batcher.js';

/** The one destination of a gateway's events: whoever leads. */
const LEADER = 'leader';

export class GatewayAgentRelay implements AgentRoute {
  /**
   * Agent sockets this instance holds, with the socket's own channel (the link's is fenced by
   * the leader lease; the leader's commands arrive through the unfenced one).
   */
  private readonly local = new Map<string, { link: AgentLink; socket: AgentChannel }>();
  /** Joins, results, drains and leaves of this turn, for the leader. */
  private readonly events: TurnBatcher<AgentEvent>;

  constructor(
    private readonly leadership: Leadership,
    private readonly bus: ClusterBus,
    /** This process's scheduler, for when this instance leads. */
    private readonly direct: AgentRoute,
    private readonly log: Logger,
  ) {
    this.events = bus.batcher<AgentEvent>(
      (_, events) => ({ t: 'agent-events', from: this.from, events }),
      { sizeOf: agentEventSize },
    );
    leadership.whenLeading(() => {
      for (const { link } of this.local.values()) this.direct.join(link);
    });
    // A new leader knows none of our agents yet.
    leadership.whenNewLeader(() => {
      for (const { link } of this.local.values()) this.announce(link);
    });
    bus.on('rejoin', (m) => {
      if (m.to !== leadership.instance) return;
      for (const id of m.sockets) {
        const held = this.local.get(id);
        if (held) this.announce(held.link);
      }
    });
    bus.on('agent-commands', (m) => this.deliver(m));
  }

  /** How many agent sockets this instance holds. */
  get size(): number {
    return this.local.size;
  }

  join(link: AgentLink): void {
    const socket = link.channel;
    // In place, so the leave that follows names the same channel the registry holds.
    link.channel = this.fence(socket);
    this.local.set(link.socketId, { link, socket });
    if (this.leadership.leading()) this.direct.join(link);
    else this.announce(link);
  }

  results(link: AgentLink, batch: TaskResultBatch): void {
    if (this.leadership.leading()) this.direct.results(link, batch);
    else this.events.add(LEADER, { e: 'results', socketId: link.socketId, batch });
  }

  leave(link: AgentLink, reason: string): void {
    this.local.delete(link.socketId);
    if (this.leadership.leading()) this.direct.leave(link, reason);
    else this.events.add(LEADER, { e: 'leave', socketId: link.socketId, reason });
  }

  drain(link: AgentLink): void {
    if (this.leadership.leading()) this.direct.drain(link);
    else this.events.add(LEADER, { e: 'drain', socketId: link.socketId });
  }

  seen(link: AgentLink): void {
    // A gateway's beat lists its live sockets every second; per-pong messages would be noise.
    if (this.leadership.leading()) this.direct.seen(link);
  }

  /** Every second, on a gateway: tells the leader which agent sockets are still here. */
  beat(): void {
    if (this.leadership.role !== 'gateway') return;
    // After this turn's events (the bus flushes them first): a join is never missing from it.
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
    this.events.add(LEADER, { e: 'join', agent: remoteAgent(link) });
  }

  /**
   * The leader's commands for this gateway's agents. Ignored while this instance leads or takes
   * over (its own scheduler owns them), and from a leader another has since replaced.
   */
  private deliver(m: ClusterMessageOf<'agent-commands'>): void {
    if (m.to !== this.from) return;
    if (this.leadership.role !== 'gateway' || this.leadership.superseded(m.from, m.epoch)) {
      this.log.warn(
        { from: m.from, epoch: m.epoch, commands: m.commands.length },
        'commands of a replaced leader dropped',
      );
      return;
    }
    for (const command of m.commands) {
      const held = this.local.get(command.socketId);
      if (held) apply(held.socket, command);
    }
  }

  private get from(): string {
    return this.leadership.instance;
  }
}

/** One command of the leader, through the agent socket's own channel. */
function apply(socket: AgentChannel, command: AgentCommand): void {
  switch (command.c) {
    case 'tasks':
      socket.sendTasks(command.tasks);
      return;
    case 'revoke':
      socket.revoke(command.taskIds);
      return;
    case 'settings':
      socket.sendSettings(command.settings);
      return;
    case 'quarantine':
      socket.quarantine(command.reason);
      return;
    case 'close':
      socket.close(command.reason);
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
