/**
 * The leader lease: one Redis key naming the instance that leads, with an epoch that grows with
 * every acquisition, taken and renewed by Lua scripts; and the leader URL a gateway may forward to.
 */
import type { Redis } from 'ioredis';

/** Who holds the leader lease, as stored in Redis. */
export interface LeaderInfo {
  instance: string;
  /** Base URL the gateways forward the API to. */
  url: string;
  /** Grows by one with every acquisition: a later leader always has a larger epoch. */
  epoch: number;
}

const SEP = '|';
const encode = (info: LeaderInfo): string => [info.instance, info.url, info.epoch].join(SEP);

export function decodeLeader(value: string | null): LeaderInfo | null {
  if (value === null) return null;
  const [instance, url, epoch] = value.split(SEP);
  const n = Number(epoch);
  if (!instance || !url || !Number.isSafeInteger(n) || leaderOrigin(url) === null) return null;
  return { instance, url, epoch: n };
}

/**
 * Where a gateway may send the API: the host and port of an `http://host:port` base URL, and
 * nothing else (no credentials, path, query or fragment for a request path to be joined to).
 * Null for anything else, which no gateway forwards to.
 */
export function leaderOrigin(url: string): { hostname: string; port: number } | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const bare =
    parsed.username === '' &&
    parsed.password === '' &&
    (parsed.pathname === '/' || parsed.pathname === '') &&
    parsed.search === '' &&
    parsed.hash === '';
  if (parsed.protocol !== 'http:' || !bare || parsed.hostname === '') return null;
  return {
    // `[::1]` in a URL, `::1` for a socket.
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 80 : Number(parsed.port),
  };
}

/**
 * Acquire: when nobody holds the lease, bump the epoch and `SET key value NX PX ttl` — one script,
 * so the epoch grows only for a real acquisition. Returns the new epoch, or 0 when it is held.
 */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. epoch, 'NX', 'PX', ARGV[2])
return epoch`;

/** Compare-and-extend: only the holder (same value, same epoch) renews. 1 renewed, 0 lost. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Compare-and-delete, on a graceful stop: the others need not wait for the TTL. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The leader lease in Redis. Validity is judged on this process's monotonic clock from the moment
 * a renewal was *sent*, minus a safety margin, so this process always believes it leads for less
 * time than Redis keeps the key: by the time another instance can acquire it, this one has
 * already stopped acting (its guard fails first).
 */
export class LeaderLease {
  private held: LeaderInfo | null = null;
  private validUntil = 0;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly self: { instance: string; url: string },
    readonly ttlMs: number,
  ) {}

  /** The leader lease this process holds, or null. */
  get info(): LeaderInfo | null {
    return this.held;
  }

  /** Whether this process may still act as leader right now. */
  valid(now = performance.now()): boolean {
    return this.held !== null && now < this.validUntil;
  }

  /** Tries to take the leader lease; the new epoch when taken. */
  async acquire(): Promise<LeaderInfo | null> {
    const sentAt = performance.now();
    const prefix = `${this.self.instance}${SEP}${this.self.url}`;
    const epoch = Number(
      await this.redis.eval(ACQUIRE, 2, this.key, `${this.key}:epoch`, prefix, this.ttlMs),
    );
    if (!(epoch > 0)) return null;
    this.held = { ...this.self, epoch };
    this.validUntil = sentAt + this.margin();
    return this.held;
  }

  /** Extends the leader lease; false when it was lost (expired and perhaps taken by another). */
  async renew(): Promise<boolean> {
    const held = this.held;
    if (!held) return false;
    const sentAt = performance.now();
    const ok = Number(await this.redis.eval(RENEW, 1, this.key, encode(held), this.ttlMs)) === 1;
    if (ok && this.held === held) this.validUntil = sentAt + this.margin();
    else this.held = null;
    return ok;
  }

  /** Gives the leader lease up (graceful stop). */
  async release(): Promise<void> {
    const held = this.held;
    this.held = null;
    if (held) await this.redis.eval(RELEASE, 1, this.key, encode(held));
  }

  /** Who leads now, as Redis says. */
  async current(): Promise<LeaderInfo | null> {
    return decodeLeader(await this.redis.get(this.key));
  }

  /** 10 % of the TTL (at least 100 ms) is kept back for clock-rate drift and scheduling delays. */
  private margin(): number {
    return this.ttlMs - Math.max(100, this.ttlMs / 10);
  }
}
