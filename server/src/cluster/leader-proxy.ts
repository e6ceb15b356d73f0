/**
 * The leader proxy: on a gateway, the API and the course protocol are streamed to the leader over
 * HTTP and its answer back (hand-written `node:http`; README "Forwarding stays hand-written").
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { sendError } from '../errors.js';
import { leaderOrigin } from './leader-lease.js';
import type { Leadership } from './leadership.js';

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

export class LeaderProxy {
  /** One upstream connection per client connection (see `upstreamFor`). */
  private readonly upstreams = new WeakMap<Socket, HttpAgent>();

  constructor(
    private readonly leadership: Leadership,
    private readonly log: Logger,
  ) {}

  /**
   * Express middleware for the API and the course protocol: the leader serves them, a gateway
   * streams the request to the leader and its answer back (the leader stores a submission before
   * it answers, so an acknowledged expression survives any single crash).
   */
  readonly forward = (req: Request, res: Response, next: NextFunction): void => {
    const role = this.leadership.role;
    if (role === 'leader') {
      this.leadership.guard();
      next();
      return;
    }
    const target = this.leadership.leaderInfo;
    if (role === 'taking-over' || !target || target.instance === this.leadership.instance) {
      sendError(res, 'LEADER_UNAVAILABLE', {
        reason:
          role === 'taking-over'
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
      this.log.warn({ err: String(err), leader: target.url }, 'forwarding to the leader failed');
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
}
