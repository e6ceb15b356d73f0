/**
 * Several orchestrators (REDIS_URL): leadership, the leader proxy, the agent and dashboard relays
 * between gateways and the leader, Redis health.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  ExpressionistError,
  errorInfo,
  type SubscribeReply,
  type TaskResultBatch,
} from '@expressionist/core';
import type { AuthService } from '../auth/service.js';
import type { Principal } from '../auth/policy.js';
import { sendError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { directRoute, type AgentLink, type AgentRoute } from '../realtime/agents-namespace.js';
import {
  agentsNamespace,
  uiNamespace,
  type AgentsNamespace,
  type IoServer,
} from '../realtime/io.js';
import type { UiClusterPort, UiHub } from '../realtime/ui-hub.js';
import type { AgentChannel } from '../scheduler/agent-registry.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { LeaderLease, leaderOrigin, type LeaderInfo } from './lease.js';
import { ClusterMessageSchema, type ClusterMessage, type RemoteAgent } from './messages.js';

export type Role = 'gateway' | 'taking-over' | 'leader';

export interface ClusterOptions {
  io: IoServer;
  /** For the lease (fails fast: no offline queue). The adapter has its own client. */
  redis: Redis;
  /** Key prefix; one Redis can serve several deployments. */
  prefix: string;
  leaseMs: number;
  /** This instance's HTTP base URL as the others reach it (known once it listens). */
  advertiseUrl: () => string;
  scheduler: Scheduler;
  auth: AuthService;
  hub: UiHub;
  metrics: Metrics;
  log: Logger;
  /** Runs once when this instance wins the lease: recovery, settings, accounts. */
  takeOver: () => Promise<void>;
  /** Leaves for good when the lease is lost (default: exit, a supervisor restarts the process). */
  stepDown?: (reason: string) => never;
}

const BEAT_MS = 1000;
/** A gateway not heard for this long is gone, and with it every agent it held. */
const GATEWAY_SILENCE_MS = 3500;
const SUBSCRIBE_TIMEOUT_MS = 5000;
/**
 * Headers that belong to one connection (RFC 9110 §7.6.1) and the body's framing, which the
 * gateway sets itself: passing a client's `transfer-encoding` or `content-length` on as written
 * is how a second request gets smuggled inside the first.
 */
const NOT_FORWARDED: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'expect',
]);

/** Headers to pass on: not hop-by-hop, not named by `Connection`, no framing. */
function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase()),
  );
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !NOT_FORWARDED.has(name) && !named.has(name)),
  );
}

/** Exit code of a leader that lost its lease: "temporary failure, start me again". */
export const STEPPED_DOWN_EXIT = 75;

/**
 * Several orchestrators as one service. Every instance is a gateway: it serves HTTP, the
 * dashboard and both Socket.IO namespaces (rooms and broadcasts span instances through the Redis
 * streams adapter). Exactly one — the holder of the leader lease in Redis — runs the scheduler;
 * the others forward the API to it over HTTP and relay their agents' joins, results and leaves
 * to it with `serverSideEmit`. The leader reaches any agent socket with `to(socketId).emit`.
 *
 * A leader that cannot renew its lease in time stops acting before anyone else can take over:
 * every dispatch and every scheduler write first checks the lease on this process's monotonic
 * clock (`guard`), and an expired lease ends the process at once — crash-only, so a stale leader
 * never carries stale state into a second life; its supervisor starts it again as a gateway.
 */
export class Cluster implements AgentRoute, UiClusterPort {
  readonly instance = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private roleNow: Role = 'gateway';
  private readonly lease: LeaderLease;
  private leader: LeaderInfo | null = null;
  /**
   * The epoch a new leader last announced, and until when a read of the lease naming an older
   * one is taken for a read sent before the takeover (one lease: after a Redis restart epochs
   * start again from 1, and the gateways must follow).
   */
  private announced: { epoch: number; until: number } | null = null;
  private readonly direct: AgentRoute;
  private readonly agentsNsp: AgentsNamespace;
  /** Agent sockets this instance holds. */
  private readonly local = new Map<string, AgentLink>();
  /** Leader: agent sockets held by gateways, by socket id. */
  private readonly remote = new Map<string, { link: AgentLink; from: string }>();
  /** Leader: when each gateway was last heard. */
  private readonly gateways = new Map<string, number>();
  private readonly pending = new Map<string, (reply: SubscribeReply) => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** One upstream connection per client connection (see `upstreamFor`). */
  private readonly upstreams = new WeakMap<Socket, HttpAgent>();
  private lastRenew = 0;
  private ticking = false;
  private stopped = false;

  constructor(private readonly o: ClusterOptions) {
    this.lease = new LeaderLease(
      o.redis,
      `${o.prefix}:leader`,
      {
        instance: this.instance,
        get url() {
          return o.advertiseUrl();
        },
      },
      o.leaseMs,
    );
    this.direct = directRoute(o.scheduler, o.log);
    this.agentsNsp = agentsNamespace(o.io);
    o.io.on('cluster', (raw: unknown) => this.receive(raw));
    o.hub.joinCluster(this);
    o.auth.onCredentialsChanged(() => this.send({ t: 'credentials', from: this.instance }));
    o.auth.onAccountEvent((event, here) => {
      if (here) this.send({ t: 'account', from: this.instance, event });
    });
    o.metrics.clusterRole.set({ role: 'gateway' }, 1);
  }

  get role(): Role {
    return this.roleNow;
  }

  /** The leader as this instance last saw it. */
  get leaderInfo(): LeaderInfo | null {
    return this.roleNow === 'gateway' ? this.leader : this.lease.info;
  }

  leading(): boolean {
    return this.roleNow === 'leader';
  }

  start(): void {
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    // Gateways try for the lease every 200 ms (one cheap script call): a dead leader's lease is taken
    // at most 200 ms after it expires.
    every(Math.max(100, Math.min(200, this.o.leaseMs / 6)), () => void this.tick());
    // A frozen or partitioned leader notices here even when nothing else happens.
    every(100, () => {
      if (this.roleNow !== 'gateway' && !this.lease.valid()) this.stepDown('lease expired');
    });
    every(BEAT_MS, () => this.beatOrSweep());
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.roleNow !== 'gateway') await this.lease.release().catch(() => undefined);
  }

  /**
   * Called before every dispatch and every write of the scheduler: acting on an expired lease
   * could overlap with the next leader, so the process leaves instead.
   */
  guard(): void {
    if (this.roleNow === 'gateway')
      throw ExpressionistError.of('LEADER_UNAVAILABLE', { reason: 'this instance is a gateway' });
    if (!this.lease.valid()) this.stepDown('lease expired before acting on it');
  }

  // ---------------------------------------------------------------- lease

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      if (this.roleNow === 'gateway') {
        const sentAt = performance.now();
        const won = await this.lease.acquire();
        if (won) {
          // Not awaited: the lease must keep being renewed (by the next ticks) while recovery
          // runs, however long that takes.
          this.roleNow = 'taking-over';
          this.lastRenew = sentAt;
          void this.becomeLeader(won);
        } else this.seeLeader(await this.lease.current());
      } else if (performance.now() - this.lastRenew >= this.o.leaseMs / 3) {
        const startedAt = performance.now();
        if (!(await this.lease.renew())) this.stepDown('lease taken by another instance');
        this.lastRenew = startedAt;
      }
    } catch (err) {
      // Redis unreachable: a gateway keeps forwarding to the last leader it knew; a leader keeps
      // going until its lease runs out on its own clock, then leaves (the 100-ms check).
      this.o.log.warn({ err: String(err) }, 'leader lease: Redis call failed');
    } finally {
      this.ticking = false;
    }
  }

  private seeLeader(seen: LeaderInfo | null): void {
    let info = seen;
    const announced = this.announced;
    if (info && announced && info.epoch < announced.epoch) {
      if (performance.now() < announced.until) info = null;
      else this.announced = null;
    }
    if (info && info.epoch !== this.leader?.epoch) this.o.metrics.clusterEpoch.set(info.epoch);
    this.leader = info;
  }

  private async becomeLeader(won: LeaderInfo): Promise<void> {
    const started = performance.now();
    this.o.metrics.clusterEpoch.set(won.epoch);
    this.o.log.info(
      { epoch: won.epoch, instance: this.instance },
      'won the leader lease; taking over',
    );
    try {
      await this.o.takeOver();
    } catch (err) {
      this.o.log.error({ err }, 'taking over failed');
      this.stepDown('taking over failed');
    }
    if (!this.lease.valid()) this.stepDown('lease expired while taking over');
    this.roleNow = 'leader';
    this.o.metrics.clusterRole.set({ role: 'gateway' }, 0);
    this.o.metrics.clusterRole.set({ role: 'leader' }, 1);
    this.o.metrics.clusterTakeovers.inc();
    for (const link of this.local.values()) this.direct.join(link);
    // Dashboards here missed what the old leader did not flush before it died.
    for (const [socketId, principal] of this.dashboards())
      void this.o.hub.sendSnapshot(socketId, principal);
    this.send({ t: 'leader', from: this.instance, epoch: won.epoch });
    this.o.log.info(
      { epoch: won.epoch, ms: Math.round(performance.now() - started), agents: this.local.size },
      'leading',
    );
  }

  private stepDown(reason: string): never {
    this.o.log.fatal({ reason, instance: this.instance }, 'lost the leader lease; stepping down');
    if (this.o.stepDown) return this.o.stepDown(reason);
    process.exit(STEPPED_DOWN_EXIT);
  }

  // ---------------------------------------------------------------- agents (AgentRoute)

  join(link: AgentLink): void {
    // In place, so the leave that follows names the same channel the registry holds.
    link.channel = this.fence(link.channel);
    this.local.set(link.socketId, link);
    if (this.roleNow === 'leader') this.direct.join(link);
    else this.announce(link);
  }

  /** Tells the leader about one of this gateway's agent sockets. */
  private announce(link: AgentLink): void {
    this.send({ t: 'agent-join', from: this.instance, agent: remoteAgent(link) });
  }

  /** The dashboard sockets this instance holds, with who watches. */
  private *dashboards(): Generator<[string, Principal]> {
    for (const socket of uiNamespace(this.o.io).sockets.values())
      if (socket.data.principal) yield [socket.id, socket.data.principal];
  }

  results(link: AgentLink, batch: TaskResultBatch): void {
    if (this.roleNow === 'leader') this.direct.results(link, batch);
    else this.send({ t: 'agent-results', from: this.instance, socketId: link.socketId, batch });
  }

  leave(link: AgentLink, reason: string): void {
    this.local.delete(link.socketId);
    if (this.roleNow === 'leader') this.direct.leave(link, reason);
    else this.send({ t: 'agent-leave', from: this.instance, socketId: link.socketId, reason });
  }

  drain(link: AgentLink): void {
    if (this.roleNow === 'leader') this.direct.drain(link);
    else this.send({ t: 'agent-drain', from: this.instance, socketId: link.socketId });
  }

  seen(link: AgentLink): void {
    // A gateway's beat lists its live sockets every second; per-pong messages would be noise.
    if (this.roleNow === 'leader') this.direct.seen(link);
  }

  // ---------------------------------------------------------------- dashboards (UiClusterPort)

  askSnapshot(socketId: string, principal: Principal): void {
    this.send({ t: 'ui-snapshot', from: this.instance, socketId, principal });
  }

  askSubscribe(principal: Principal, expressionId: string): Promise<SubscribeReply> {
    const requestId = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        resolve({
          ok: false,
          error: errorInfo('LEADER_UNAVAILABLE', { reason: 'the leader did not answer' }),
        });
      }, SUBSCRIBE_TIMEOUT_MS);
      this.pending.set(requestId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.send({ t: 'ui-subscribe', from: this.instance, requestId, principal, expressionId });
    });
  }

  // ---------------------------------------------------------------- HTTP

  /**
   * Express middleware for the API and the course protocol: the leader serves them, a gateway
   * streams the request to the leader and its answer back (the leader stores a submission before
   * it answers, so an acknowledged expression survives any single crash).
   */
  readonly forward = (req: Request, res: Response, next: NextFunction): void => {
    if (this.roleNow === 'leader') {
      this.guard();
      next();
      return;
    }
    const target = this.leader;
    if (this.roleNow === 'taking-over' || !target || target.instance === this.instance) {
      sendError(res, 'LEADER_UNAVAILABLE', {
        reason:
          this.roleNow === 'taking-over'
            ? 'this instance is taking over'
            : 'no instance holds the leader lease',
      });
      return;
    }
    const origin = leaderOrigin(target.url);
    // Express matches routes on the path of an absolute-form target too (`GET http://host/api/…`):
    // only a path is ever sent, and only to the leader's origin (the app refuses the rest first).
    const path = req.originalUrl;
    if (!path.startsWith('/')) {
      sendError(res, 'REQUEST_TARGET_INVALID', {});
      return;
    }
    if (!origin) {
      sendError(res, 'LEADER_UNAVAILABLE', { reason: 'the leader announced an unusable URL' });
      return;
    }
    const headers = endToEnd(req.headers);
    // The client as this instance resolved it (through TRUSTED_PROXIES), and nothing a client
    // wrote itself: the leader trusts its gateways' word.
    headers['x-forwarded-for'] = req.ip ?? req.socket.remoteAddress ?? '';
    // Framing set here: no body on GET and HEAD (whatever the client framed after its headers is
    // read and dropped by this server's parser), a body's own length, or chunks.
    const bodyless = req.method === 'GET' || req.method === 'HEAD';
    if (!bodyless) {
      const length = req.headers['content-length'];
      if (length !== undefined) headers['content-length'] = length;
      else if (req.headers['transfer-encoding'] !== undefined)
        headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = '0';
    }
    const upstream = httpRequest({
      protocol: 'http:',
      hostname: origin.hostname,
      port: origin.port,
      path,
      method: req.method,
      headers,
      agent: this.upstreamFor(req.socket),
    });
    upstream.on('response', (answer) => {
      // The answer was framed by Node's parser, so its length holds (and a HEAD keeps it).
      const back = endToEnd(answer.headers);
      const length = answer.headers['content-length'];
      if (length !== undefined) back['content-length'] = length;
      res.writeHead(answer.statusCode ?? 502, back);
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      this.o.log.warn({ err: String(err), leader: target.url }, 'forwarding to the leader failed');
      if (!res.headersSent)
        sendError(res, 'LEADER_UNAVAILABLE', { reason: 'the leader did not answer' });
      else res.destroy();
    });
    if (bodyless) {
      req.resume();
      upstream.end();
    } else req.pipe(upstream);
  };

  /**
   * The leader sees one connection per client connection, opened and closed with it: the course
   * protocol knows a guest agent by the keep-alive connections it pulls on, which a shared pool
   * would mix up between clients.
   */
  private upstreamFor(socket: Socket): HttpAgent {
    let agent = this.upstreams.get(socket);
    if (!agent) {
      const created = new HttpAgent({ keepAlive: true, maxSockets: 1 });
      this.upstreams.set(socket, created);
      socket.once('close', () => created.destroy());
      agent = created;
    }
    return agent;
  }

  /** Whether Redis answers a PING within a second. */
  async redisOk(): Promise<boolean> {
    try {
      const answer = await Promise.race([
        this.o.redis.ping(),
        new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 1000).unref()),
      ]);
      return answer === 'PONG';
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- messages

  private send(message: ClusterMessage): void {
    this.o.io.serverSideEmit('cluster', message);
  }

  private receive(raw: unknown): void {
    const parsed = ClusterMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.o.log.warn({ issue: parsed.error.issues[0]?.message }, 'invalid cluster message');
      return;
    }
    const m = parsed.data;
    try {
      if (m.t === 'credentials') void this.o.auth.reloadCredentials().catch(() => undefined);
      else if (m.t === 'account') this.o.auth.accountEventElsewhere(m.event);
      else if (m.t === 'leader') this.onLeader(m.from, m.epoch);
      else if (m.t === 'rejoin') {
        if (m.to !== this.instance) return;
        for (const id of m.sockets) {
          const link = this.local.get(id);
          if (link) this.announce(link);
        }
      } else if (m.t === 'ui-subscribed') {
        if (m.to === this.instance) this.pending.get(m.requestId)?.(m.reply);
        this.pending.delete(m.requestId);
      } else if (this.roleNow === 'leader') this.lead(m);
    } catch (err) {
      this.o.log.error({ err, message: m.t }, 'handling a cluster message failed');
    }
  }

  /** A new leader announced itself: tell it about our agents and refresh our dashboards. */
  private onLeader(from: string, epoch: number): void {
    if (this.roleNow !== 'gateway') {
      const mine = this.lease.info?.epoch ?? 0;
      if (epoch > mine) this.stepDown(`instance ${from} leads with a later epoch`);
      return;
    }
    // Only a URL announced in Redis under the current epoch is forwarded to: until Redis names
    // the new leader's URL, the API answers 503 (the old leader's URL is not the new one's).
    if (epoch > (this.leader?.epoch ?? 0)) {
      this.announced = { epoch, until: performance.now() + this.o.leaseMs };
      this.seeLeader(null);
    }
    void this.lease
      .current()
      .then((info) => this.seeLeader(info))
      .catch(() => undefined);
    for (const link of this.local.values()) this.announce(link);
    for (const [socketId, principal] of this.dashboards()) this.askSnapshot(socketId, principal);
  }

  /** The leader's side of the relay. */
  private lead(m: ClusterMessage): void {
    switch (m.t) {
      case 'agent-join': {
        this.heard(m.from);
        if (this.remote.has(m.agent.socketId)) return;
        const link: AgentLink = {
          ...m.agent,
          standing: m.agent.standing,
          channel: this.remoteChannel(m.agent.socketId),
        };
        if (link.credentialId !== null && !this.o.auth.isLive(link.credentialId)) {
          link.channel.close('its credential was revoked');
          return;
        }
        this.remote.set(link.socketId, { link, from: m.from });
        this.direct.join(link);
        return;
      }
      case 'agent-results': {
        const r = this.remote.get(m.socketId);
        if (r) this.direct.results(r.link, m.batch);
        else this.send({ t: 'rejoin', from: this.instance, to: m.from, sockets: [m.socketId] });
        return;
      }
      case 'agent-leave':
        this.dropRemote(m.socketId, m.reason);
        return;
      case 'agent-drain': {
        const r = this.remote.get(m.socketId);
        if (r) this.direct.drain(r.link);
        return;
      }
      case 'beat': {
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
        if (unknown.length > 0)
          this.send({ t: 'rejoin', from: this.instance, to: m.from, sockets: unknown });
        return;
      }
      case 'ui-snapshot':
        void this.o.hub.sendSnapshot(m.socketId, m.principal);
        return;
      case 'ui-subscribe':
        void this.o.hub.subscription(m.principal, m.expressionId).then(
          (reply) =>
            this.send({
              t: 'ui-subscribed',
              from: this.instance,
              to: m.from,
              requestId: m.requestId,
              reply,
            }),
          (err: unknown) => this.o.log.warn({ err }, 'remote subscribe failed'),
        );
        return;
      default:
        return;
    }
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

  /** Gateways beat; the leader drops the agents of gateways it no longer hears. */
  private beatOrSweep(): void {
    if (this.roleNow === 'gateway') {
      this.send({
        t: 'beat',
        from: this.instance,
        agents: [...this.local.keys()],
      });
      return;
    }
    if (this.roleNow !== 'leader') return;
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
      this.o.log.warn({ gateway: from, agents: dropped }, 'gateway silent; its agents dropped');
    }
  }

  /** Reaches an agent socket on whichever instance holds it. */
  private remoteChannel(socketId: string): AgentChannel {
    const nsp = this.agentsNsp;
    return {
      sendTasks: (tasks) => {
        this.guard();
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

  /** Wraps a local agent channel so a dispatch first checks the lease. */
  fence(channel: AgentChannel): AgentChannel {
    return {
      ...channel,
      sendTasks: (tasks) => {
        this.guard();
        channel.sendTasks(tasks);
      },
    };
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
