/**
 * The agent relay, leader side: registers the agent sockets that gateways hold with this
 * process's scheduler, sends them its commands (one bus message per gateway and event-loop turn),
 * and drops those of a silent gateway.
 */
import type { Logger } from 'pino';
import type { AuthService } from '../auth/service.js';
import type { AgentLink, AgentRoute } from '../realtime/agents-namespace.js';
import type { AgentChannel } from '../scheduler/agent-registry.js';
import type { ClusterBus } from './bus.js';
import type { Leadership } from './leadership.js';
import {
  agentCommandSize,
  type AgentCommand,
  type AgentEvent,
  type ClusterMessage,
  type RemoteAgent,
} from './messages.js';
import { NO_STALLS, type RunningClock } from '../scheduler/stall-monitor.js';
import { GatewaySilence } from './gateway-silence.js';
import { RemoteAgents } from './remote-agents.js';
import type { TurnBatcher } from './turn-batcher.js';

export class LeaderAgentRelay {
  /** Agent sockets held by gateways, by socket id and by gateway. */
  private readonly remote = new RemoteAgents();
  /** When each gateway was last heard, judged on the leader's running time. */
  private readonly gateways: GatewaySilence;
  /** The scheduler's commands of this turn, by the gateway that holds the agent socket. */
  private readonly commands: TurnBatcher<AgentCommand>;

  constructor(
    private readonly leadership: Leadership,
    private readonly bus: ClusterBus,
    /** This process's scheduler. */
    private readonly direct: AgentRoute,
    private readonly auth: AuthService,
    private readonly log: Logger,
    clock: RunningClock = NO_STALLS,
  ) {
    this.gateways = new GatewaySilence(clock);
    this.commands = bus.batcher<AgentCommand>((to, commands) => this.commandsFor(to, commands), {
      sizeOf: agentCommandSize,
    });
    leadership.hear('agent-events', (m) => {
      this.heard(m.from);
      const unknown = new Set<string>();
      for (const event of m.events) {
        try {
          this.onEvent(m.from, event, unknown);
        } catch (err) {
          this.log.error({ err, gateway: m.from, event: event.e }, 'a relayed agent event failed');
        }
      }
      if (unknown.size > 0) this.rejoin(m.from, [...unknown]);
    });
    leadership.hear('beat', (m) => {
      this.heard(m.from);
      const listed = new Set(m.agents);
      const unknown: string[] = [];
      for (const id of m.agents) {
        const link = this.remote.get(id);
        if (link) this.direct.seen(link);
        else unknown.push(id);
      }
      // Messages from one instance arrive in order: a socket missing from its latest beat left
      // (its leave was sent while nobody led, or lost).
      for (const id of this.remote.of(m.from))
        if (!listed.has(id)) this.dropRemote(id, 'gone from its gateway');
      if (unknown.length > 0) this.rejoin(m.from, unknown);
    });
  }

  /** Every second, on the leader: drops the agents of gateways it no longer hears. */
  sweep(): void {
    if (!this.leadership.leading()) return;
    this.gateways.sweep((from) => {
      if (!this.leadership.leading()) return;
      const held = this.remote.of(from);
      for (const id of held) this.dropRemote(id, 'its gateway went silent');
      this.log.warn({ gateway: from, agents: held.length }, 'gateway silent; its agents dropped');
    });
  }

  /** One event of a gateway's turn; `unknown` gathers sockets the leader has to ask about. */
  private onEvent(from: string, event: AgentEvent, unknown: Set<string>): void {
    switch (event.e) {
      case 'join':
        this.join(from, event.agent);
        return;
      case 'results': {
        const link = this.remote.get(event.socketId);
        if (link) this.direct.results(link, event.batch);
        else unknown.add(event.socketId);
        return;
      }
      case 'drain': {
        const link = this.remote.get(event.socketId);
        if (link) this.direct.drain(link);
        return;
      }
      case 'leave':
        this.dropRemote(event.socketId, event.reason);
    }
  }

  private join(from: string, agent: RemoteAgent): void {
    if (this.remote.has(agent.socketId)) return;
    const link: AgentLink = {
      ...agent,
      standing: agent.standing,
      channel: this.remoteChannel(agent.socketId, from),
    };
    if (link.credentialId !== null && !this.auth.isLive(link.credentialId)) {
      link.channel.close('its credential was revoked');
      return;
    }
    this.remote.add(from, link);
    this.direct.join(link);
  }

  /** The leader does not know these sockets of gateway `to` (a join was lost): ask again. */
  private rejoin(to: string, sockets: string[]): void {
    this.bus.send({ t: 'rejoin', from: this.leadership.instance, to, sockets });
  }

  private heard(from: string): void {
    this.gateways.heard(from);
  }

  private dropRemote(socketId: string, reason: string): void {
    const link = this.remote.remove(socketId);
    if (link) this.direct.leave(link, reason);
  }

  /**
   * A turn's commands for gateway `to`, as one message under this leader's epoch; fenced as a
   * dispatch is (the leader lease must still hold when they leave), else dropped.
   */
  private commandsFor(to: string, commands: AgentCommand[]): ClusterMessage | null {
    const epoch = this.leadership.epoch;
    if (epoch === null) return null;
    try {
      this.leadership.guard();
    } catch (err) {
      this.log.warn({ err: String(err), gateway: to }, 'agent commands dropped: not leading');
      return null;
    }
    return { t: 'agent-commands', from: this.leadership.instance, to, epoch, commands };
  }

  /** Reaches an agent socket held by gateway `gateway`: through that gateway's turn batch. */
  private remoteChannel(socketId: string, gateway: string): AgentChannel {
    const send = (command: AgentCommand): void => this.commands.add(gateway, command);
    return {
      sendTasks: (tasks) => {
        this.leadership.guard();
        send({ c: 'tasks', socketId, tasks });
      },
      revoke: (taskIds) => send({ c: 'revoke', socketId, taskIds }),
      sendSettings: (settings) => send({ c: 'settings', socketId, settings }),
      quarantine: (reason) => send({ c: 'quarantine', socketId, reason }),
      close: (reason) => send({ c: 'close', socketId, reason }),
    };
  }
}
