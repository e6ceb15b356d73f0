/**
 * The Express app, composed: request plumbing (ids, proxies, security headers, CORS), then
 * health and metrics, the REST API v1, the course protocol and the dashboard, in that order.
 */
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { proxyTrust } from '../auth/client-address.js';
import { authorize } from '../auth/policy.js';
import type { AppDeps } from './app-deps.js';
import { CourseAgents } from '../course/course-agents.js';
import { courseRouter } from '../course/routes.js';
import { errorHandler, sendError } from '../errors.js';
import { openApiRouter } from './openapi.js';
import { identify, principalOf } from './request-context.js';
import { accountRoutes, meRoute, publicAccountRoutes } from './routes/accounts.js';
import { agentRoutes } from './routes/agents.js';
import { expressionRoutes } from './routes/expressions.js';
import { healthRoutes } from './routes/health.js';
import { settingsRoutes } from './routes/settings.js';
import { webRoutes } from './routes/web.js';
import { corsPolicy, isLoopbackHost, securityHeaders } from './security.js';

export type { AppDeps, ClusterPort } from './app-deps.js';

/** Builds the Express app: REST API v1, the course protocol, health, metrics and the dashboard. */
export function createApp(deps: AppDeps): Express {
  const { scheduler, log, auth } = deps;
  const limits = deps.config.auth;
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

  app.use(healthRoutes(deps));
  // The API and the course protocol are the leader's; a gateway forwards them (not health,
  // metrics or the dashboard's files, which every instance serves itself).
  if (deps.cluster) app.use(['/api', '/internal'], deps.cluster.forward);

  const api = express.Router();
  api.use(publicAccountRoutes(auth, json));
  // Everything below: who is calling (an invalid, expired or forged token is 401, not anonymous).
  api.use(identify(auth));
  api.use(meRoute(auth, exposed));
  api.use((req, _res, next) => {
    // The document describes the API; reading it needs no account.
    if (!(req.method === 'GET' && req.path === '/openapi.json')) authorize(principalOf(req), 'use');
    next();
  });
  api.use(accountRoutes(auth, json));
  api.use(expressionRoutes(deps, json));
  api.use(settingsRoutes(deps, json));
  api.use(agentRoutes(deps, json));
  api.use(openApiRouter());
  api.use((req, res) =>
    sendError(res, 'NOT_FOUND', { method: req.method, path: `${req.baseUrl}${req.path}` }),
  );
  app.use('/api/v1', api);

  // The course's standard agent protocol: pull a task, post its result.
  app.use(
    courseRouter(new CourseAgents(scheduler.course, log, deps.courseTaskId), deps.gate, json),
  );

  app.use(webRoutes(deps.webDir));
  app.use((req, res) => sendError(res, 'NOT_FOUND', { method: req.method, path: req.path }));
  app.use(errorHandler(log));
  return app;
}
