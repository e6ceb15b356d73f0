/**
 * Leadership: which instance of several runs the scheduler. Holds the leader lease (acquire,
 * renew, step down), this instance's role, and which leader a gateway forwards to.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ExpressionistError } from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { ClusterBus, ClusterMessageOf, ClusterMessageType } from './bus.js';
import { LeaderLease, type LeaderInfo } from './leader-lease.js';

export type Role = 'gateway' | 'taking-over' | 'leader';

/** Exit code of a leader that lost its leader lease: "temporary failure, start me again". */
export const STEPPED_DOWN_EXIT = 75;

export interface LeadershipOptions {
  bus: ClusterBus;
  /** For the leader lease (fails fast: no offline queue). The adapter has its own client. */
  redis: Redis;
  /** Key prefix; one Redis can serve several deployments. */
  prefix: string;
  leaseMs: number;
  /** This instance's HTTP base URL as the others reach it (known once it listens). */
  advertiseUrl: () => string;
  metrics: Metrics;
  log: Logger;
  /** Leaves for good when the leader lease is lost (default: exit, a supervisor restarts it). */
  stepDown?: (reason: string) => never;
}

/** What happens when this instance starts leading; see `Leadership.start`. */
export interface LeadershipHooks {
  /** Runs once when this instance wins the leader lease: recovery, settings, accounts. */
  takeOver: () => Promise<void>;
  /** Agent sockets this instance holds (for the "leading" log line). */
  agentsHeld: () => number;
}

/**
 * Every instance starts as a gateway and tries for the leader lease; the one that wins takes over
 * (`taking-over`) and then leads. A leader that cannot renew its leader lease in time stops acting
 * before anyone else can take over: every dispatch and every scheduler write first checks it on
 * this process's monotonic clock (`guard`), and an expired leader lease ends the process at once
 * — crash-only, so a stale leader never carries stale state into a second life; its supervisor
 * starts it again as a gateway.
 */
export class Leadership {
  readonly instance = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private roleNow: Role = 'gateway';
  private readonly lease: LeaderLease;
  private leader: LeaderInfo | null = null;
  /**
   * The epoch a new leader last announced, and until when a read of the leader lease naming an
   * older one is taken for a read sent before the takeover (one key: after a Redis restart epochs
   * start again from 1, and the gateways must follow).
   */
  private announced: { epoch: number; until: number } | null = null;
  /** The last leader announcement heard on the bus (in the order of the stream). */
  private lastHeard: { from: string; epoch: number } | null = null;
  private readonly leadingListeners: (() => void)[] = [];
  private readonly newLeaderListeners: (() => void)[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private hooks: LeadershipHooks | null = null;
  private lastRenew = 0;
  private ticking = false;
  private stopped = false;

  constructor(private readonly o: LeadershipOptions) {
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
    o.bus.identify(this.instance);
    o.bus.on('leader', (m) => this.onLeader(m.from, m.epoch));
    o.metrics.clusterRole.set({ role: 'gateway' }, 1);
  }

  /** The bus leadership speaks on (and the relays beside it). */
  get bus(): ClusterBus {
    return this.o.bus;
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

  /** The epoch of the leader lease this instance holds (null on a gateway). */
  get epoch(): number | null {
    return this.roleNow === 'gateway' ? null : (this.lease.info?.epoch ?? null);
  }

  /**
   * Whether a message of leader `from` under `epoch` was sent after another instance announced a
   * later epoch on the bus (messages arrive in stream order): a stale leader's, to ignore. An
   * older epoch from the last announcer itself (Redis restarted, epochs began again) is not.
   */
  superseded(from: string, epoch: number): boolean {
    const heard = this.lastHeard;
    return heard !== null && heard.from !== from && epoch < heard.epoch;
  }

  /** Runs `listener` each time this instance starts leading, once it has taken over. */
  whenLeading(listener: () => void): void {
    this.leadingListeners.push(listener);
  }

  /** Runs `listener` (on a gateway) each time another instance announces that it leads. */
  whenNewLeader(listener: () => void): void {
    this.newLeaderListeners.push(listener);
  }

  /** Handles messages of type `t` while this instance leads; the others ignore them. */
  hear<T extends ClusterMessageType>(t: T, handler: (message: ClusterMessageOf<T>) => void): void {
    this.o.bus.on(t, handler, () => this.roleNow === 'leader');
  }

  start(hooks: LeadershipHooks): void {
    this.hooks = hooks;
    // Gateways try for the leader lease every 200 ms (one cheap script call): a dead leader's
    // lease is taken at most 200 ms after it expires.
    this.every(Math.max(100, Math.min(200, this.o.leaseMs / 6)), () => void this.tick());
    // A frozen or partitioned leader notices here even when nothing else happens.
    this.every(100, () => {
      if (this.roleNow !== 'gateway' && !this.lease.valid()) this.stepDown('lease expired');
    });
    void this.tick();
  }

  /** Runs `fn` every `ms` until `stop` (timers that keep no process alive). */
  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.roleNow !== 'gateway') await this.lease.release().catch(() => undefined);
  }

  /**
   * Called before every dispatch and every write of the scheduler: acting on an expired leader
   * lease could overlap with the next leader, so the process leaves instead.
   */
  guard(): void {
    if (this.roleNow === 'gateway')
      throw ExpressionistError.of('LEADER_UNAVAILABLE', { reason: 'this instance is a gateway' });
    if (!this.lease.valid()) this.stepDown('lease expired before acting on it');
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      if (this.roleNow === 'gateway') {
        const sentAt = performance.now();
        const won = await this.lease.acquire();
        if (won) {
          // Not awaited: the leader lease must keep being renewed (by the next ticks) while
          // recovery runs, however long that takes.
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
      await this.hooks?.takeOver();
    } catch (err) {
      this.o.log.error({ err }, 'taking over failed');
      this.stepDown('taking over failed');
    }
    if (!this.lease.valid()) this.stepDown('lease expired while taking over');
    this.roleNow = 'leader';
    this.o.metrics.clusterRole.set({ role: 'gateway' }, 0);
    this.o.metrics.clusterRole.set({ role: 'leader' }, 1);
    this.o.metrics.clusterTakeovers.inc();
    for (const listener of this.leadingListeners) listener();
    this.o.bus.send({ t: 'leader', from: this.instance, epoch: won.epoch });
    this.o.log.info(
      {
        epoch: won.epoch,
        ms: Math.round(performance.now() - started),
        agents: this.hooks?.agentsHeld() ?? 0,
      },
      'leading',
    );
  }

  /** A new leader announced itself: follow it (a gateway), or leave (an older leader). */
  private onLeader(from: string, epoch: number): void {
    this.lastHeard = { from, epoch };
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
    for (const listener of this.newLeaderListeners) listener();
  }

  private stepDown(reason: string): never {
    this.o.log.fatal({ reason, instance: this.instance }, 'lost the leader lease; stepping down');
    if (this.o.stepDown) return this.o.stepDown(reason);
    process.exit(STEPPED_DOWN_EXIT);
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
}
