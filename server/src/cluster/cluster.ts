/**
 * Several orchestrators as one service: composes leadership, the leader proxy, the agent and
 * dashboard relays and the account messages over the bus into the port HTTP and realtime use.
 */
import type { Logger } from 'pino';
import type { SubscribeReply, TaskResultBatch } from '@expressionist/core';
import type { AuthService } from '../auth/service.js';
import type { Principal } from '../auth/policy.js';
import { directRoute, type AgentLink, type AgentRoute } from '../realtime/agents-namespace.js';
import type { IoServer } from '../realtime/io.js';
import type { UiClusterPort, UiHub } from '../realtime/ui-hub.js';
import type { AgentChannel } from '../scheduler/agent-registry.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { RunningClock } from '../scheduler/stall-monitor.js';
import { DashboardRelay } from './dashboard-relay.js';
import { GatewayAgentRelay } from './gateway-agent-relay.js';
import { LeaderAgentRelay } from './leader-agent-relay.js';
import type { LeaderInfo } from './leader-lease.js';
import { LeaderProxy } from './leader-proxy.js';
import type { Leadership, Role } from './leadership.js';

export interface ClusterOptions {
  leadership: Leadership;
  io: IoServer;
  scheduler: Scheduler;
  auth: AuthService;
  hub: UiHub;
  log: Logger;
  /** The stall monitor: a gateway's silence is judged on the leader's running time. */
  clock: RunningClock;
  /** Runs once when this instance wins the leader lease: recovery, settings, accounts. */
  takeOver: () => Promise<void>;
}

const BEAT_MS = 1000;

/**
 * Every instance is a gateway: it serves HTTP, the dashboard and both Socket.IO namespaces (rooms
 * and broadcasts span instances through the Redis streams adapter). Exactly one — the holder of
 * the leader lease in Redis (`Leadership`) — runs the scheduler; the others forward the API to it
 * over HTTP (`LeaderProxy`) and relay their agents' joins, results and leaves to it with
 * `serverSideEmit` (`GatewayAgentRelay`, `LeaderAgentRelay`), and the leader's commands back to
 * the agent sockets they hold: each direction one bus message per gateway and event-loop turn.
 */
export class Cluster implements AgentRoute, UiClusterPort {
  private readonly leadership: Leadership;
  private readonly agents: GatewayAgentRelay;
  private readonly remoteAgents: LeaderAgentRelay;
  private readonly dashboards: DashboardRelay;
  private readonly proxy: LeaderProxy;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: ClusterOptions) {
    const { leadership, auth } = o;
    const bus = leadership.bus;
    this.leadership = leadership;
    const direct = directRoute(o.scheduler, o.log);
    this.agents = new GatewayAgentRelay(leadership, bus, direct, o.log);
    this.remoteAgents = new LeaderAgentRelay(leadership, bus, direct, auth, o.log, o.clock);
    this.dashboards = new DashboardRelay(o.io, o.hub, leadership, bus, o.log);
    this.proxy = new LeaderProxy(leadership, o.log);
    bus.on('credentials', () => void auth.reloadCredentials().catch(() => undefined));
    bus.on('account', (m) => auth.accountEventElsewhere(m.event));
    auth.onCredentialsChanged(() => bus.send({ t: 'credentials', from: this.instance }));
    auth.onAccountEvent((event, here) => {
      if (here) bus.send({ t: 'account', from: this.instance, event });
    });
  }

  get instance(): string {
    return this.leadership.instance;
  }

  get role(): Role {
    return this.leadership.role;
  }

  /** The leader as this instance last saw it. */
  get leaderInfo(): LeaderInfo | null {
    return this.leadership.leaderInfo;
  }

  leading(): boolean {
    return this.leadership.leading();
  }

  start(): void {
    this.leadership.start({ takeOver: this.o.takeOver, agentsHeld: () => this.agents.size });
    // Gateways beat; the leader drops the agents of gateways it no longer hears.
    const beat = setInterval(() => {
      this.agents.beat();
      this.remoteAgents.sweep();
    }, BEAT_MS);
    beat.unref();
    this.timers.push(beat);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.leadership.stop();
  }

  /** See `Leadership.guard`: before every dispatch and every write of the scheduler. */
  guard(): void {
    this.leadership.guard();
  }

  /** Whether Redis answers a PING within a second. */
  redisOk(): Promise<boolean> {
    return this.leadership.redisOk();
  }

  /** Express middleware: the API served here when leading, else streamed to the leader. */
  get forward(): LeaderProxy['forward'] {
    return this.proxy.forward;
  }

  // AgentRoute: this instance's agent sockets.
  join(link: AgentLink): void {
    this.agents.join(link);
  }

  results(link: AgentLink, batch: TaskResultBatch): void {
    this.agents.results(link, batch);
  }

  leave(link: AgentLink, reason: string): void {
    this.agents.leave(link, reason);
  }

  drain(link: AgentLink): void {
    this.agents.drain(link);
  }

  seen(link: AgentLink): void {
    this.agents.seen(link);
  }

  /** Wraps a local agent channel so a dispatch first checks the leader lease. */
  fence(channel: AgentChannel): AgentChannel {
    return this.agents.fence(channel);
  }

  // UiClusterPort: this instance's dashboards.
  askSnapshot(socketId: string, principal: Principal): void {
    this.dashboards.askSnapshot(socketId, principal);
  }

  askSubscribe(principal: Principal, expressionId: string): Promise<SubscribeReply> {
    return this.dashboards.askSubscribe(principal, expressionId);
  }
}
