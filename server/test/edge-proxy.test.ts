/**
 * What a client can try at the edge of one instance: make a gateway fetch another host (an
 * absolute-form request line), smuggle a second request inside a GET's body, or pass itself off
 * as another address with X-Forwarded-For. Real servers on loopback: a gateway in-process (Redis
 * and FerretDB), a plain HTTP listener standing in for the leader, and one for "some other host"
 * that must receive nothing.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { clusterUnavailable, startRedis, waitFor, type PrivateRedis } from '@expressionist/testkit';
import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { Server as SocketServer } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { AGENT_PROTOCOL } from '@expressionist/core';
import { clientAddress, proxyTrust } from '../src/auth/client-address.js';
import { FailureThrottle, RateWindow, memoryLimits, redisLimits } from '../src/auth/limits.js';
import { decodeLeader } from '../src/cluster/leader-lease.js';
import { MongoStore } from '../src/store/mongo-store.js';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The gateway's end of the upstream connection. */
  port: number;
}

/** A listener that records every request it gets and answers 200. */
async function recorder(): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        port: req.socket.remotePort ?? 0,
      });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ from: 'recorder', url: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, seen };
}

/**
 * Writes raw bytes to `url` on one connection and collects what comes back until `until` holds
 * for the text received (or the server closes).
 */
async function raw(url: string, bytes: string, until: (text: string) => boolean): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (until(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

/** Counts complete HTTP responses in a raw stream (all ours carry content-length or chunks). */
const responses = (text: string): number => text.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;

const mongoUri = process.env.MONGODB_URI;
const missing = clusterUnavailable(mongoUri);
if (missing) console.log(`edge-proxy gateway tests skipped: ${missing}`);

describe.runIf(missing === null)('a gateway forwards only to the leader', () => {
  const db = `exprtest_edge_${process.pid}_${Date.now()}`;
  let redis: PrivateRedis;
  let leader: Awaited<ReturnType<typeof recorder>>;
  let elsewhere: Awaited<ReturnType<typeof recorder>>;
  let gateway: TestOrchestrator;

  beforeAll(async () => {
    redis = await startRedis();
    leader = await recorder();
    elsewhere = await recorder();
    // A leader announced in Redis under epoch 7: the recorder. The gateway never wins the lease
    // while it is held, so it forwards the API there.
    const client = new Redis(redis.url);
    await client.set(`expressionist:${db}:leader`, `ghost|${leader.url}|7`, 'PX', 600_000);
    await client.quit();
    gateway = await startTestOrchestrator({
      MONGODB_URI: mongoUri ?? '',
      MONGODB_DB: db,
      REDIS_URL: redis.url,
      JWT_SECRET: 'edge-proxy-test-secret-0123456789abcdef',
      TRUSTED_PROXIES: '127.0.0.1/32',
      // Long enough that the window in which a stale read of the lease is set aside (one lease)
      // outlasts the test's look at it.
      LEADER_LEASE_MS: '20000',
    });
    await waitFor(() => gateway.cluster?.leaderInfo?.instance === 'ghost', 10_000, 'the ghost');
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    leader?.server.close();
    elsewhere?.server.close();
    await redis?.stop();
    if (mongoUri) {
      const store = new MongoStore(mongoUri, db);
      await store.init();
      await store.dropDatabase();
      await store.close();
    }
  });

  it('forwards the API to the leader it knows (the baseline the attacks below depart from)', async () => {
    const res = await fetch(`${gateway.url}/api/v1/settings?x=1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ from: 'recorder', url: '/api/v1/settings?x=1' });
  });

  it('an absolute-form request line is refused with 400; the other host gets nothing', async () => {
    const before = leader.seen.length;
    const target = `${elsewhere.url}/api/v1/secret`;
    const text = await raw(
      gateway.url,
      `GET ${target} HTTP/1.1\r\nHost: ${new URL(elsewhere.url).host}\r\n\r\n`,
      (t) => responses(t) >= 1 && t.includes('\r\n\r\n{'),
    );
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect(text).toContain('REQUEST_TARGET_INVALID');
    expect(elsewhere.seen).toEqual([]);
    expect(leader.seen.length).toBe(before);
  });

  it('authority-form and asterisk-form request lines are refused too', async () => {
    const host = new URL(elsewhere.url).host;
    for (const line of [`GET ${host} HTTP/1.1`, `OPTIONS * HTTP/1.1`, `CONNECT ${host} HTTP/1.1`]) {
      const text = await raw(gateway.url, `${line}\r\nHost: ${host}\r\n\r\n`, (t) =>
        t.includes('\r\n\r\n'),
      );
      // CONNECT has no handler at all: Node closes the connection without an answer.
      expect(text === '' || /^HTTP\/1\.1 400/.test(text), `${line}: ${text}`).toBe(true);
    }
    expect(elsewhere.seen).toEqual([]);
  });

  it('a GET with a chunked body reaches the leader as one bodiless GET, never as two requests', async () => {
    const before = leader.seen.length;
    const smuggled = 'GET /api/v1/smuggled HTTP/1.1\r\nHost: leader\r\n\r\n';
    const chunk = `${Buffer.byteLength(smuggled).toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
    // Then a plain request on the same client connection, hence the same upstream connection:
    // once the leader has seen it, anything smuggled in between would have arrived before it.
    const text = await raw(
      gateway.url,
      `GET /api/v1/first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}` +
        `GET /api/v1/after HTTP/1.1\r\nHost: x\r\n\r\n`,
      (t) => t.includes('/api/v1/after'),
    );
    const urls = leader.seen.slice(before).map((s) => `${s.method} ${s.url}`);
    expect(urls, text).toEqual(['GET /api/v1/first', 'GET /api/v1/after']);
    expect(responses(text)).toBe(2);
    const first = leader.seen[before]!;
    expect(first.body).toBe('');
    expect(first.headers['transfer-encoding']).toBeUndefined();
  });

  it('one upstream connection per client connection (course guests are known by theirs)', async () => {
    const before = leader.seen.length;
    const twice =
      'GET /api/v1/one HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/two HTTP/1.1\r\nHost: x\r\n\r\n';
    await raw(gateway.url, twice, (t) => t.includes('/api/v1/two'));
    await raw(gateway.url, 'GET /api/v1/three HTTP/1.1\r\nHost: x\r\n\r\n', (t) =>
      t.includes('/api/v1/three'),
    );
    const [one, two, three] = leader.seen.slice(before);
    expect([one?.url, two?.url, three?.url]).toEqual([
      '/api/v1/one',
      '/api/v1/two',
      '/api/v1/three',
    ]);
    expect(two?.port).toBe(one?.port);
    expect(three?.port).not.toBe(one?.port);
  });

  it('a POST body is forwarded whole, with framing the gateway sets', async () => {
    const before = leader.seen.length;
    const body = JSON.stringify({ expression: '1+2' });
    // Chunked from the client: forwarded chunked.
    const text = await raw(
      gateway.url,
      `POST /api/v1/calculate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n` +
        `POST /api/v1/calculate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      (t) => responses(t) >= 2 && t.split('"from":"recorder"').length === 3,
    );
    expect(responses(text)).toBe(2);
    const [chunked, sized] = leader.seen.slice(before);
    expect(chunked?.body).toBe(body);
    expect(chunked?.headers['transfer-encoding']).toBe('chunked');
    expect(sized?.body).toBe(body);
    expect(sized?.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it("a new leader's announcement: its URL only once Redis names it under that epoch", async () => {
    const next = await recorder();
    // What a new leader does on winning the lease: announce itself through the adapter. Redis
    // does not name its URL yet (as when the gateway's read of the lease was sent just before).
    const client = new Redis(redis.url);
    const announcer = new SocketServer({
      adapter: createAdapter(client, { streamName: `expressionist:${db}:sio` }),
    });
    try {
      announcer.serverSideEmit('cluster', { t: 'leader', from: 'ghost2', epoch: 8 });
      await waitFor(() => gateway.cluster?.leaderInfo === null, 10_000, 'the old URL dropped');
      const before = leader.seen.length;
      const refused = await fetch(`${gateway.url}/api/v1/settings`);
      expect(refused.status).toBe(503);
      expect(leader.seen.length).toBe(before);
      // Redis names the new leader under epoch 8: the API goes there.
      await client.set(`expressionist:${db}:leader`, `ghost2|${next.url}|8`, 'PX', 600_000);
      await waitFor(() => gateway.cluster?.leaderInfo?.epoch === 8, 10_000, 'epoch 8');
      const res = await fetch(`${gateway.url}/api/v1/settings`);
      expect(await res.json()).toEqual({ from: 'recorder', url: '/api/v1/settings' });
      expect(next.seen).toHaveLength(1);
      expect(leader.seen.length).toBe(before);
    } finally {
      // Not attached to an HTTP server: only its adapter (the stream reader) needs stopping.
      await announcer.of('/').adapter.close();
      await client.quit();
      // The other tests' leader again (a later epoch, as a real takeover would have).
      const reset = new Redis(redis.url);
      await reset.set(`expressionist:${db}:leader`, `ghost|${leader.url}|9`, 'PX', 600_000);
      await reset.quit();
      await waitFor(() => gateway.cluster?.leaderInfo?.epoch === 9, 10_000, 'epoch 9');
      next.server.close();
    }
  });

  it('names the client in X-Forwarded-For itself; what the client wrote there is dropped', async () => {
    const before = leader.seen.length;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        `${gateway.url}/api/v1/whoami`,
        { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '10.9.9.9' } },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(leader.seen[before]?.headers['x-forwarded-for']).toBe('127.0.0.2');
  });
});

describe('the leader URL a gateway forwards to', () => {
  it('is an http origin as announced in Redis; anything else names no leader', () => {
    expect(decodeLeader('i1|http://10.0.0.5:8080|3')).toEqual({
      instance: 'i1',
      url: 'http://10.0.0.5:8080',
      epoch: 3,
    });
    expect(decodeLeader('i1|http://[::1]:8080/|3')?.epoch).toBe(3);
    for (const url of [
      'http://10.0.0.5:8080/api',
      'http://10.0.0.5:8080/?x=1',
      'http://user:pw@10.0.0.5:8080',
      'https://10.0.0.5',
      'file:///etc/passwd',
      'not a url',
    ])
      expect(decodeLeader(`i1|${url}|3`), url).toBeNull();
  });
});

/** One HTTP request from a chosen local address (all of 127.0.0.0/8 is this machine). */
function from(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: init.method ?? 'GET', localAddress, headers: init.headers ?? {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('X-Forwarded-For is read only from TRUSTED_PROXIES', () => {
  let orch: TestOrchestrator;
  const sockets: { disconnect(): void }[] = [];

  beforeAll(async () => {
    // The proxy is 127.0.0.1 alone; 127.0.0.2 stands for a client on the network.
    orch = await startTestOrchestrator({ AUTH_MODE: 'accounts', TRUSTED_PROXIES: '127.0.0.1/32' });
  });

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await orch?.close();
  });

  it('a peer that is not a trusted proxy is its own address, whatever it forwards', () => {
    // The rule itself, with a client off this machine (a test can only send from loopback).
    const request = (remoteAddress: string, forwarded: string): IncomingMessage =>
      ({
        socket: { remoteAddress },
        connection: { remoteAddress },
        headers: { 'x-forwarded-for': forwarded },
      }) as unknown as IncomingMessage;
    const loopback = proxyTrust(['loopback']);
    expect(clientAddress(request('10.0.0.5', '127.0.0.1'), loopback)).toBe('10.0.0.5');
    expect(clientAddress(request('::ffff:10.0.0.5', '127.0.0.1'), loopback)).toBe('10.0.0.5');
    expect(clientAddress(request('127.0.0.1', '10.0.0.5'), loopback)).toBe('10.0.0.5');
    const lb = proxyTrust(['172.18.0.0/16']);
    expect(clientAddress(request('172.18.0.4', '203.0.113.9'), lb)).toBe('203.0.113.9');
    expect(clientAddress(request('10.0.0.5', '127.0.0.1'), lb)).toBe('10.0.0.5');
  });

  it('/metrics: a trusted proxy forwarding a remote client is refused; an untrusted peer is itself', async () => {
    const remote = { 'x-forwarded-for': '10.9.9.9' };
    expect((await from('127.0.0.1', `${orch.url}/metrics`, { headers: remote })).status).toBe(401);
    // 127.0.0.2 is not a proxy: its header is ignored and it counts as itself (this machine).
    expect((await from('127.0.0.2', `${orch.url}/metrics`, { headers: remote })).status).toBe(200);
  });

  it('registrations: a new X-Forwarded-For on every request does not get past the per-address cap', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 7; i += 1) {
      const res = await from('127.0.0.2', `${orch.url}/api/v1/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.0.0.${i}` },
        body: JSON.stringify({ login: `rotator${i}`, password: `Rotating-pass-${i}x` }),
      });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
  });

  it('guest agents: rotating X-Forwarded-For does not get past the guest sockets per address', async () => {
    const outcomes: string[] = [];
    for (let i = 1; i <= 6; i += 1) {
      const options: Partial<ManagerOptions & SocketOptions> & { localAddress: string } = {
        auth: {
          agentId: `guest-${i}`,
          name: `guest-${i}`,
          kind: 'node',
          concurrency: 1,
          protocol: AGENT_PROTOCOL,
        },
        extraHeaders: { 'x-forwarded-for': `10.1.0.${i}` },
        localAddress: '127.0.0.2',
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
      };
      const socket = io(`${orch.url}/agents`, options);
      sockets.push(socket);
      outcomes.push(
        await new Promise<string>((resolve) => {
          socket.once('connect', () => resolve('admitted'));
          socket.once('connect_error', (err) => resolve(err.message));
        }),
      );
    }
    expect(outcomes.slice(0, 4)).toEqual(['admitted', 'admitted', 'admitted', 'admitted']);
    for (const refused of outcomes.slice(4))
      expect(refused).toMatch(/guest agents from 127\.0\.0\.2/);
  });
});

describe('limit stores', () => {
  it('memory: the (free + 1)th failure locks; a success clears it; a forgiven one unlocks', async () => {
    const throttle = new FailureThrottle(memoryLimits, 'unit', 2, 900);
    await throttle.fail('k');
    await throttle.fail('k');
    expect(await throttle.lockedFor('k')).toBe(0);
    await throttle.fail('k');
    expect(await throttle.lockedFor('k')).toBe(1);
    await throttle.forgive('k');
    expect(await throttle.lockedFor('k')).toBe(0);
    await throttle.fail('k');
    await throttle.fail('k');
    expect(await throttle.lockedFor('k')).toBe(2);
    await throttle.succeed('k');
    expect(await throttle.lockedFor('k')).toBe(0);
    expect(await throttle.lockedFor('other')).toBe(0);
  });

  it.runIf(missing === null)(
    'Redis: two instances share one count; with Redis gone each counts in memory',
    async () => {
      const redis = await startRedis();
      const a = new Redis(redis.url, { enableOfflineQueue: false, lazyConnect: true });
      const b = new Redis(redis.url, { enableOfflineQueue: false, lazyConnect: true });
      try {
        await Promise.all([a.connect(), b.connect()]);
        const windows = [a, b].map((c) => new RateWindow(redisLimits(c, 'unit'), 'reg', 3, 60));
        const waits: number[] = [];
        for (let k = 0; k < 4; k += 1) waits.push(await windows[k % 2]!.hit('10.0.0.1'));
        expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
        expect(waits[3]).toBeGreaterThan(0);
        const [ta, tb] = [a, b].map(
          (c) => new FailureThrottle(redisLimits(c, 'unit'), 'l', 2, 900),
        );
        await ta!.fail('admin');
        await tb!.fail('admin');
        expect(await ta!.lockedFor('admin')).toBe(0);
        await tb!.fail('admin');
        expect(await ta!.lockedFor('admin')).toBe(1);
        await ta!.succeed('admin');
        expect(await tb!.lockedFor('admin')).toBe(0);
        // Redis goes away: the limits weaken to this process, they do not vanish or throw.
        await redis.stop();
        await waitFor(() => a.status !== 'ready', 5000, 'the client to notice');
        const alone = new RateWindow(redisLimits(a, 'unit'), 'sub', 2, 60);
        expect([await alone.hit('u1'), await alone.hit('u1')]).toEqual([0, 0]);
        expect(await alone.hit('u1')).toBeGreaterThan(0);
      } finally {
        a.disconnect();
        b.disconnect();
        await redis.stop();
      }
    },
  );
});
