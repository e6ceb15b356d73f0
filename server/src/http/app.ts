import { existsSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  CalculateBodySchema,
  ExpressionListQuerySchema,
  ExpressionistError,
  SettingsPatchSchema,
} from '@expressionist/core';
import type { Metrics } from '../metrics.js';
import type { AuthService } from '../auth/service.js';
import type { Config } from '../config.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { ListCursor, Store } from '../store/store.js';
import { CourseAgents } from './course-agents.js';
import { describeIssue, errorHandler, sendError } from './errors.js';
import { openApiRouter } from './openapi.js';

export interface AppDeps {
  scheduler: Scheduler;
  /** Accounts and agent credentials; `config.auth` holds the limits. */
  auth: AuthService;
  config: Pick<Config, 'auth' | 'host'>;
  store: Store;
  metrics: Metrics;
  log: Logger;
  bodyLimitBytes: number;
  /** How course HTTP agents get task ids (see http/course-agents.ts). */
  courseTaskId: 'auto' | 'number' | 'string';
  webDir: string | undefined;
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

/** Builds the Express app: REST API v1, the course protocol, health, metrics and the dashboard. */
export function createApp(deps: AppDeps): Express {
  const { scheduler, store, metrics, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
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
  const json = express.json({ limit: deps.bodyLimitBytes, strict: false });

  app.get('/healthz', async (_req, res) => {
    const ok = await store.ping();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'store unreachable' });
  });
  app.get('/readyz', async (_req, res) => {
    const storeOk = await store.ping();
    const ready = storeOk && scheduler.isAccepting;
    res.status(ready ? 200 : 503).json({ ready, store: storeOk, accepting: scheduler.isAccepting });
  });
  app.get('/metrics', async (_req, res) => {
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
  api.post('/calculate', json, async (req: Request, res: Response) => {
    const body = CalculateBodySchema.safeParse(req.body);
    if (!body.success) {
      const { field, message } = describeIssue(body.error);
      sendError(res, 'BODY_INVALID', { reason: message }, field ? { field } : {});
      return;
    }
    const outcome = await scheduler.submit(body.data.expression, body.data.id);
    res.status(outcome.created ? 201 : 200).json({ id: outcome.id });
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
    );
    const last = expressions.at(-1);
    const nextCursor =
      expressions.length === limit && last
        ? encodeCursor({ createdAt: Date.parse(last.createdAt), id: last.id })
        : null;
    res.json({ expressions, nextCursor });
  });
  api.get('/expressions/:id', async (req, res) => {
    const expression = await scheduler.views.expressionView(req.params.id);
    if (!expression) throw ExpressionistError.of('EXPRESSION_NOT_FOUND', { id: req.params.id });
    res.json({ expression });
  });
  api.get('/expressions/:id/operations', async (req, res) => {
    const operations = await scheduler.views.operations(req.params.id);
    if (!operations) throw ExpressionistError.of('EXPRESSION_NOT_FOUND', { id: req.params.id });
    res.json({ operations });
  });
  api.post('/expressions/:id/cancel', async (req, res) => {
    res.json({ expression: await scheduler.cancel(req.params.id) });
  });
  api.get('/settings', (_req, res) => {
    res.json({ settings: scheduler.getSettings() });
  });
  api.put('/settings', json, async (req, res) => {
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
  api.get('/agents', (_req, res) => {
    res.json({ agents: scheduler.agentViews() });
  });
  api.post('/agents/:id/release', async (req, res) => {
    if (!(await scheduler.agents.release(req.params.id)))
      throw ExpressionistError.of('AGENT_NOT_QUARANTINED', { id: req.params.id });
    res.json({ released: req.params.id });
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
