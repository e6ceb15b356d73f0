/**
 * The agent relay, leader side: registers the agent sockets that gateways hold with this
 * process's scheduler, reaches them through the adapter, and drops those of a silent gateway.
 */
import type { Logger } from 'pino';
import type { AuthService } from '../auth/service.js';
import type { AgentLink, AgentRoute } from '../realtime/agents-namespace.js';
import { agentsNamespace, type AgentsNamespace, type IoServer } from '../realtime/io.js';
import type { AgentChannel } from '../scheduler/agent-registry.js';
import type { ClusterBus } from './bus.js';
import type { Leadership } from './leadership.js';

/** A gateway not heard for this long is gone, and with it every agent it held. */
const GATEWAY_SILENCE_MS = 3500;

export class LeaderAgentRelay {
  /** Agent sockets held by gateways, by socket id. */
  private readonly remote = new Map<string, { link: AgentLink; from: string }>();
  /** When each gateway was last heard. */
  private readonly gateways = new Map<string, number>();
  private readonly agentsNsp: AgentsNamespace;

  constructor(
    private readonly leadership: Leadership,
    private readonly bus: ClusterBus,
    /** This process's scheduler. */
    private readonly direct: AgentRoute,
    private readonly auth: AuthService,
    io: IoServer,
    private readonly log: Logger,
  ) {
    this.agentsNsp = agentsNamespace(io);
    leadership.hear('agent-join', (m) => {
      this.heard(m.from);
      if (this.remote.has(m.agent.socketId)) return;
      const link: AgentLink = {
        ...m.agent,
        standing: m.agent.standing,
        channel: this.remoteChannel(m.agent.socketId),
      };
      if (link.credentialId !== null && !this.auth.isLive(link.credentialId)) {
        link.channel.close('its credential was revoked');
        return;
      }
      this.remote.set(link.socketId, { link, from: m.from });
      this.direct.join(link);
    });
    leadership.hear('agent-results', (m) => {
      const r = this.remote.get(m.socketId);
      if (r) this.direct.results(r.link, m.batch);
      else this.rejoin(m.from, [m.socketId]);
    });
    leadership.hear('agent-leave', (m) => this.dropRemote(m.socketId, m.reason));
    leadership.hear('agent-drain', (m) => {
      const r = this.remote.get(m.socketId);
      if (r) this.direct.drain(r.link);
    });
    leadership.hear('beat', (m) => {
      this.heard(m.from);
      const listed = new Set(m.agents);
      const unknown: string[] = [];
      for (const id of m.agents) {
        const r = this.remote.get(id);
        if (r) this.direct.seen(r.link);
        else unknown.push(id);
      }
      // Messages from one instance arrive in order: a socket missing from its latest beat left
      // (its leave was sent while nobody led, or lost).
      for (const [id, r] of this.remote)
        if (r.from === m.from && !listed.has(id)) this.dropRemote(id, 'gone from its gateway');
      if (unknown.length > 0) this.rejoin(m.from, unknown);
    });
  }

  /** Every second, on the leader: drops the agents of gateways it no longer hears. */
  sweep(): void {
    if (!this.leadership.leading()) return;
    const now = performance.now();
    for (const [from, at] of this.gateways) {
      if (now - at < GATEWAY_SILENCE_MS) continue;
      this.gateways.delete(from);
      let dropped = 0;
      for (const [id, r] of this.remote)
        if (r.from === from) {
          this.dropRemote(id, 'its gateway went silent');
          dropped += 1;
        }
      this.log.warn({ gateway: from, agents: dropped }, 'gateway silent; its agents dropped');
    }
  }

  /** The leader does not know these sockets of gateway `to` (a join was lost): ask again. */
  private rejoin(to: string, sockets: string[]): void {
    this.bus.send({ t: 'rejoin', from: this.leadership.instance, to, sockets });
  }

  private heard(from: string): void {
    this.gateways.set(from, performance.now());
  }

  private dropRemote(socketId: string, reason: string): void {
    const r = this.remote.get(socketId);
    if (!r) return;
    this.remote.delete(socketId);
    this.direct.leave(r.link, reason);
  }

  /** Reaches an agent socket on whichever instance holds it. */
  private remoteChannel(socketId: string): AgentChannel {
    const nsp = this.agentsNsp;
    return {
      sendTasks: (tasks) => {
        this.leadership.guard();
        nsp.to(socketId).emit('tasks', tasks);
      },
      revoke: (taskIds) => nsp.to(socketId).emit('revoke', taskIds),
      sendSettings: (settings) => nsp.to(socketId).emit('settings', settings),
      quarantine: (reason) => {
        nsp.to(socketId).emit('quarantined', reason);
        setTimeout(() => nsp.in(socketId).disconnectSockets(true), 50).unref();
      },
      close: () => nsp.in(socketId).disconnectSockets(true),
    };
  }
}
