import { existsSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  CalculateBodySchema,
  CreateCredentialBodySchema,
  CredentialsBodySchema,
  ExpressionListQuerySchema,
  ExpressionistError,
  LoginBodySchema,
  OperationsQuerySchema,
  PasswordChangeBodySchema,
  SettingsPatchSchema,
  SetupBodySchema,
} from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { AuthService, Session } from '../auth/service.js';
import { RateLimitedError, RateWindow, memoryLimits, type LimitStore } from '../auth/limits.js';
import { bareAddress, proxyTrust } from '../auth/client-address.js';
import {
  agentViewer,
  authorize,
  canSee,
  ownerOf,
  visibleOwner,
  type Principal,
} from '../auth/policy.js';
import type { Config } from '../config.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { ListCursor, Store } from '../store/store.js';
import { CourseAgents } from './course-agents.js';
import { describeIssue, errorHandler, sendError } from './errors.js';
import { openApiRouter } from './openapi.js';
import { corsPolicy, isLoopback, isLoopbackHost, securityHeaders } from './security.js';

export interface AppDeps {
  scheduler: Scheduler;
  /** Accounts and agent credentials; `config.auth` holds the limits. */
  auth: AuthService;
  config: Pick<Config, 'auth' | 'host' | 'trustedProxies'>;
  store: Store;
  metrics: Metrics;
  log: Logger;
  bodyLimitBytes: number;
  /** How course HTTP agents get task ids (see http/course-agents.ts). */
  courseTaskId: 'auto' | 'number' | 'string';
  webDir: string | undefined;
  /** Several orchestrators (REDIS_URL): this instance's place in the cluster. */
  cluster?: ClusterPort;
  /** Where the submissions count lives (default: this process; Redis when clustered). */
  limits?: LimitStore;
}

/** What the HTTP layer needs from the cluster (see cluster/cluster.ts). */
export interface ClusterPort {
  readonly role: 'gateway' | 'taking-over' | 'leader';
  readonly leaderInfo: { instance: string; epoch: number } | null;
  readonly instance: string;
  redisOk(): Promise<boolean>;
  /** Serves the API here when leading, else streams it to the leader. */
  forward: RequestHandler;
}

const CursorSchema = z.tuple([z.number().int().nonnegative(), z.string().min(1).max(128)]);

function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

function decodeCursor(raw: string): ListCursor {
  try {
    const [createdAt, id] = CursorSchema.parse(
      JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')),
    );
    return { createdAt, id };
  } catch {
    throw ExpressionistError.of('QUERY_INVALID', {
      reason: 'cursor: not a cursor returned by this API.',
    });
  }
}

/**
 * An operations page's cursor: the id its page starts at, as a decimal string. Ids are dense and
 * ordered, so the cursor is all a page needs; it is checked like any other query field.
 */
export function decodeOpCursor(raw: string | undefined): number {
  if (raw === undefined) return 0;
  if (!/^\d{1,9}$/.test(raw))
    throw ExpressionistError.of('QUERY_INVALID', {
      reason: 'cursor: not a cursor returned by this API.',
    });
  return Number(raw);
}

/**
 * At least as many operations as `source` plans into: one per binary operator, and a unary minus
 * counted as one too (an overestimate by at most those). A scan of 1 MB takes about a
 * millisecond; planning it, a second.
 */
export function operationsAtMost(source: string): number {
  let n = 0;
  for (let i = 0; i < source.length; i += 1) {
    const c = source.charCodeAt(i);
    // + * - /
    if (c === 43 || c === 42 || c === 45 || c === 47) n += 1;
  }
  return n;
}

/** Who is calling, as the auth middleware found it. */
const principals = new WeakMap<Request, Principal>();
function principalOf(req: Request): Principal {
  return principals.get(req) ?? { kind: 'anonymous' };
}
/** The caller's session (accounts mode, signed in). */
const sessions = new WeakMap<Request, Session>();
function sessionOf(req: Request): Session {
  const session = sessions.get(req);
  if (!session)
    throw ExpressionistError.of('UNAUTHENTICATED', {
      reason: 'this needs a signed-in session (AUTH_MODE=accounts).',
    });
  return session;
}

/** The token of `Authorization: Bearer <token>`, if any. */
function bearer(req: Request): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  return match?.[1];
}

/** The client's address (behind a trusted proxy: the one it forwarded). */
const addressOf = (req: Request): string =>
  bareAddress(req.ip ?? req.socket.remoteAddress ?? 'unknown');

/** Builds the Express app: REST API v1, the course protocol, health, metrics and the dashboard. */
export function createApp(deps: AppDeps): Express {
  const { scheduler, store, metrics, log, auth } = deps;
  const limits = deps.config.auth;
  const submissions = new RateWindow(
    deps.limits ?? memoryLimits,
    'submissions',
    limits.submissionsPerMinute,
    60,
  );
  /** Operations of each owner's submissions still being planned (not yet counted as unfinished). */
  const planning = new Map<string, number>();
  const exposed = auth.mode === 'open' && !isLoopbackHost(deps.config.host);
  const app = express();
  app.disable('x-powered-by');
  // Only origin-form request targets (`/path?query`). An absolute-form line (`GET http://host/…`)
  // is what a client sends a forward proxy; routing still matches its path, so a gateway would
  // have forwarded it to the host it names. Authority-form (`host:port`) and `*` name no path.
  app.use((req, res, next) => {
    if (req.url.startsWith('/')) next();
    else sendError(res, 'REQUEST_TARGET_INVALID', {});
  });
  // X-Forwarded-For only from TRUSTED_PROXIES (with several orchestrators: the gateways and the
  // load balancer), by the same rule as the socket gate.
  app.set('trust proxy', proxyTrust(deps.config.trustedProxies));
  app.use((req, res, next) => {
    const requestId = req.get('x-request-id')?.slice(0, 64) ?? randomUUID();
    res.setHeader('x-request-id', requestId);
    res.locals.requestId = requestId;
    const started = performance.now();
    res.on('finish', () => {
      log.debug(
        {
          requestId,
          method: req.method,
          url: req.originalUrl,
          status: res.statusCode,
          ms: Math.round(performance.now() - started),
        },
        'request',
      );
    });
    next();
  });
  app.use(securityHeaders(deps.webDir, limits.corsOrigins));
  app.use(corsPolicy(limits.corsOrigins));
  const json = express.json({ limit: deps.bodyLimitBytes, strict: false });

  app.get('/healthz', async (_req, res) => {
    const ok = await store.ping();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'store unreachable' });
  });
  app.get('/readyz', async (_req, res) => {
    const storeOk = await store.ping();
    const cluster = deps.cluster;
    if (!cluster) {
      const ready = storeOk && scheduler.isAccepting;
      res
        .status(ready ? 200 : 503)
        .json({ ready, role: 'single', store: storeOk, accepting: scheduler.isAccepting });
      return;
    }
    const redis = await cluster.redisOk();
    const leader = cluster.leaderInfo;
    // A gateway is ready when it can reach a leader to forward to; the leader when it accepts.
    const serving = cluster.role === 'leader' ? scheduler.isAccepting : leader !== null;
    const ready = storeOk && redis && serving;
    res.status(ready ? 200 : 503).json({
      ready,
      role: cluster.role,
      instance: cluster.instance,
      store: storeOk,
      redis,
      leader,
      accepting: cluster.role === 'leader' && scheduler.isAccepting,
    });
  });
  // The API and the course protocol are the leader's; a gateway forwards them (not health,
  // metrics or the dashboard's files, which every instance serves itself).
  if (deps.cluster) app.use(['/api', '/internal'], deps.cluster.forward);
  // Admins, or anything on this machine: a local Prometheus or sidecar scrapes without a token.
  // Behind a trusted proxy, `req.ip` is the forwarded client, not the proxy.
  app.get('/metrics', async (req, res) => {
    if (!isLoopback(req.ip)) authorize(await auth.principalOf(bearer(req)), 'read-metrics');
    try {
      const counts = await store.countByStatus();
      for (const status of ['pending', 'in_progress', 'done', 'error', 'canceled'] as const) {
        metrics.expressionsByStatus.set({ status }, counts[status] ?? 0);
      }
    } catch (err) {
      log.warn({ err }, 'counting expressions for /metrics failed');
    }
    scheduler.stats();
    res.setHeader('content-type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  const api = express.Router();

  // Accounts: public, and the bearer header (if any) is not looked at.
  api.post('/register', json, async (req, res) => {
    const body = CredentialsBodySchema.safeParse(req.body);
    if (!body.success) {
      const { field, message } = describeIssue(body.error);
      sendError(res, 'ACCOUNT_INVALID', { reason: message }, field ? { field } : {});
      return;
    }
    res.json({ user: await auth.register(body.data, addressOf(req)) });
  });
  api.post('/login', json, async (req, res) => {
    // A malformed body is a failed sign-in like any other (no hint which rule it broke).
    const body = LoginBodySchema.safeParse(req.body);
    if (!body.success) throw ExpressionistError.of('LOGIN_FAILED', {});
    res.json(await auth.login(body.data, addressOf(req)));
  });
  api.post('/setup', json, async (req, res) => {
    const body = SetupBodySchema.safeParse(req.body);
    if (!body.success) {
      const { field, message } = describeIssue(body.error);
      if (field === 'token' || !auth.setupPending) throw ExpressionistError.of('SETUP_INVALID', {});
      sendError(res, 'ACCOUNT_INVALID', { reason: message }, { field });
      return;
    }
    res.json(await auth.setup(body.data));
  });

  // Everything below: who is calling (an invalid, expired or forged token is 401, not anonymous).
  api.use(async (req, _res, next) => {
    const { principal, session } = await auth.authenticate(bearer(req));
    principals.set(req, principal);
    if (session) sessions.set(req, session);
    next();
  });
  api.get('/me', async (req, res) => {
    res.json(await auth.me(principalOf(req), exposed));
  });
  api.use((req, _res, next) => {
    // The document describes the API; reading it needs no account.
    if (!(req.method === 'GET' && req.path === '/openapi.json')) authorize(principalOf(req), 'use');
    next();
  });
  api.post('/logout', async (req, res) => {
    await auth.logout(sessionOf(req));
    res.json({ ok: true });
  });
  api.post('/password', json, async (req, res) => {
    const session = sessionOf(req);
    const body = PasswordChangeBodySchema.safeParse(req.body);
    if (!body.success) {
      // A weak new password is an account rule (422); any other shape is a bad body (400).
      const { field, message } = describeIssue(body.error);
      const code = field === 'newPassword' ? 'ACCOUNT_INVALID' : 'BODY_INVALID';
      sendError(res, code, { reason: message }, field ? { field } : {});
      return;
    }
    res.json({ token: await auth.changePassword(session, body.data) });
  });
  api.get('/users', async (req, res) => {
    authorize(principalOf(req), 'manage-users');
    res.json({ users: await auth.listUsers() });
  });
  api.post('/users/:id/disable', async (req, res) => {
    authorize(principalOf(req), 'manage-users');
    res.json({ user: await auth.setDisabled(principalOf(req), req.params.id, true) });
  });
  api.post('/users/:id/enable', async (req, res) => {
    authorize(principalOf(req), 'manage-users');
    res.json({ user: await auth.setDisabled(principalOf(req), req.params.id, false) });
  });
  api.delete('/users/:id', async (req, res) => {
    authorize(principalOf(req), 'manage-users');
    await auth.deleteUser(principalOf(req), req.params.id);
    res.json({ deleted: req.params.id });
  });
  /** `visible(owner)` for the scheduler's views: the caller's own, or all for admins. */
  const visibleTo = (req: Request) => {
    const p = principalOf(req);
    return (owner: string | null) => canSee(p, owner);
  };

  api.post('/calculate', json, async (req: Request, res: Response) => {
    const body = CalculateBodySchema.safeParse(req.body);
    if (!body.success) {
      const { field, message } = describeIssue(body.error);
      sendError(res, 'BODY_INVALID', { reason: message }, field ? { field } : {});
      return;
    }
    const owner = ownerOf(principalOf(req));
    if (owner !== undefined) {
      const wait = await submissions.hit(owner);
      if (wait > 0) throw new RateLimitedError('submissions per minute', wait);
      if (scheduler.unfinishedOf(owner) >= limits.maxUnfinishedPerUser)
        throw new RateLimitedError('unfinished expressions (wait for some to finish)', 5);
    }
    if (owner === undefined) {
      const outcome = await scheduler.submit(body.data.expression, body.data.id, owner);
      res.status(outcome.created ? 201 : 200).json({ id: outcome.id });
      return;
    }
    // Operations in flight: one expression alone always fits (its length is bounded anyway).
    const ops = operationsAtMost(body.data.expression);
    const inFlight = scheduler.unfinishedOpsOf(owner) + (planning.get(owner) ?? 0);
    if (inFlight > 0 && inFlight + ops > limits.maxUnfinishedOpsPerUser)
      throw new RateLimitedError('operations in flight (wait for some to finish)', 5);
    planning.set(owner, (planning.get(owner) ?? 0) + ops);
    try {
      const outcome = await scheduler.submit(body.data.expression, body.data.id, owner);
      res.status(outcome.created ? 201 : 200).json({ id: outcome.id });
    } finally {
      const left = (planning.get(owner) ?? ops) - ops;
      if (left > 0) planning.set(owner, left);
      else planning.delete(owner);
    }
  });
  api.get('/expressions', async (req, res) => {
    const query = ExpressionListQuerySchema.safeParse(req.query);
    if (!query.success) {
      const { field, message } = describeIssue(query.error);
      sendError(res, 'QUERY_INVALID', { reason: message }, { field });
      return;
    }
    const { limit, cursor } = query.data;
    const expressions = await scheduler.views.listExpressions(
      limit,
      cursor === undefined ? undefined : decodeCursor(cursor),
      visibleOwner(principalOf(req)),
    );
    const last = expressions.at(-1);
    const nextCursor =
      expressions.length === limit && last
        ? encodeCursor({ createdAt: Date.parse(last.createdAt), id: last.id })
        : null;
    res.json({ expressions, nextCursor });
  });
  api.get('/expressions/:id', async (req, res) => {
    // The one place the whole text is sent (lists and dashboards get a prefix).
    const expression = await scheduler.views.expressionView(req.params.id, visibleTo(req), true);
    if (!expression) throw ExpressionistError.of('EXPRESSION_NOT_FOUND', { id: req.params.id });
    res.json({ expression });
  });
  api.get('/expressions/:id/operations', async (req, res) => {
    const query = OperationsQuerySchema.safeParse(req.query);
    if (!query.success) {
      const { field, message } = describeIssue(query.error);
      sendError(res, 'QUERY_INVALID', { reason: message }, { field });
      return;
    }
    const from = decodeOpCursor(query.data.cursor);
    const page = await scheduler.views.operationsPage(
      req.params.id,
      from,
      query.data.limit,
      visibleTo(req),
      agentViewer(principalOf(req)),
    );
    if (!page) throw ExpressionistError.of('EXPRESSION_NOT_FOUND', { id: req.params.id });
    res.json({
      operations: page.operations,
      nextCursor: page.next === null ? null : String(page.next),
    });
  });
  api.post('/expressions/:id/cancel', async (req, res) => {
    res.json({ expression: await scheduler.cancel(req.params.id, visibleTo(req)) });
  });
  // Deleting: one's own finished expressions (an admin's: anyone's); a running one is canceled
  // first. `DELETE /expressions` deletes every finished expression of the caller.
  api.delete('/expressions/:id', async (req, res) => {
    await scheduler.retention.deleteOne(req.params.id, visibleTo(req));
    res.json({ deleted: 1 });
  });
  api.delete('/expressions', async (req, res) => {
    const owner = ownerOf(principalOf(req));
    res.json({ deleted: await scheduler.retention.deleteFinishedOf(owner) });
  });
  api.get('/settings', (_req, res) => {
    res.json({ settings: scheduler.getSettings() });
  });
  api.put('/settings', json, async (req, res) => {
    authorize(principalOf(req), 'change-settings');
    const patch = SettingsPatchSchema.safeParse(req.body);
    if (!patch.success) {
      const { field, message } = describeIssue(patch.error);
      const wrongShape =
        typeof req.body !== 'object' || req.body === null || Array.isArray(req.body);
      if (wrongShape)
        sendError(res, 'BODY_INVALID', { reason: 'The body must be a JSON object of settings.' });
      else sendError(res, 'SETTINGS_INVALID', { reason: message }, { field });
      return;
    }
    res.json({ settings: await scheduler.updateSettings(patch.data) });
  });
  api.get('/agents', (req, res) => {
    res.json({ agents: scheduler.views.agentViews(agentViewer(principalOf(req))) });
  });
  api.post('/agents/:id/release', async (req, res) => {
    authorize(principalOf(req), 'manage-agents');
    if (!(await scheduler.agents.release(req.params.id)))
      throw ExpressionistError.of('AGENT_NOT_QUARANTINED', { id: req.params.id });
    res.json({ released: req.params.id });
  });
  api.post('/agents/:id/kick', (req, res) => {
    authorize(principalOf(req), 'manage-agents');
    if (!scheduler.agents.kick(req.params.id))
      throw ExpressionistError.of('AGENT_NOT_CONNECTED', { id: req.params.id });
    log.info({ agent: req.params.id }, 'agent kicked by an admin');
    res.json({ kicked: req.params.id });
  });
  api.get('/agent-credentials', (req, res) => {
    authorize(principalOf(req), 'manage-credentials');
    res.json({ credentials: auth.listCredentials() });
  });
  api.post('/agent-credentials', json, async (req, res) => {
    authorize(principalOf(req), 'manage-credentials');
    const body = CreateCredentialBodySchema.safeParse(req.body);
    if (!body.success) {
      const { field, message } = describeIssue(body.error);
      sendError(res, 'BODY_INVALID', { reason: message }, field ? { field } : {});
      return;
    }
    res.status(201).json(await auth.issueCredential(body.data.name));
  });
  api.post('/agent-credentials/:id/revoke', async (req, res) => {
    authorize(principalOf(req), 'manage-credentials');
    res.json({ credential: await auth.revokeCredential(req.params.id) });
  });
  api.use(openApiRouter());
  api.use((req, res) =>
    sendError(res, 'NOT_FOUND', { method: req.method, path: `${req.baseUrl}${req.path}` }),
  );
  app.use('/api/v1', api);

  // The course's standard agent protocol: pull a task, post its result.
  app.use(new CourseAgents(scheduler.course, log, deps.courseTaskId).router(json));

  const webDir = deps.webDir;
  if (webDir && existsSync(path.join(webDir, 'index.html'))) {
    app.use(
      express.static(webDir, {
        index: 'index.html',
        setHeaders: (res, file) => {
          // Vite fingerprints everything under _app/immutable; everything else revalidates.
          const immutable = file.includes(`${path.sep}_app${path.sep}immutable${path.sep}`);
          res.setHeader(
            'cache-control',
            immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
          );
        },
      }),
    );
    // SPA fallback: client-side routes such as /expressions/abc load the app shell.
    app.get(/^\/(?!api\/|internal\/|socket\.io\/).*/, (_req, res) => {
      res.setHeader('cache-control', 'no-cache');
      res.sendFile(path.join(webDir, 'index.html'));
    });
  } else {
    app.get('/', (_req, res) => {
      res
        .type('text/plain')
        .send(
          'Expressionist orchestrator. The dashboard is not built (npm run build -w web). API: /api/v1\n',
        );
    });
  }
  app.use((req, res) => sendError(res, 'NOT_FOUND', { method: req.method, path: req.path }));
  app.use(errorHandler(log));
  return app;
}
