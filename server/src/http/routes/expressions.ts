/**
 * The expression routes of `/api/v1`: submitting (with the per-user submission and in-flight
 * limits), listing, reading with operations pages, canceling and deleting.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import {
  CalculateBodySchema,
  ExpressionListQuerySchema,
  ExpressionistError,
  OperationsQuerySchema,
} from '@expressionist/core';
import { RateLimitedError, RateWindow, memoryLimits } from '../../auth/limits.js';
import { agentViewer, ownerOf, visibleOwner } from '../../auth/policy.js';
import type { AppDeps } from '../app-deps.js';
import { decodeCursor, decodeOpCursor, encodeCursor } from '../cursors.js';
import { describeIssue, sendError } from '../../errors.js';
import { principalOf, visibleTo } from '../request-context.js';

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

export function expressionRoutes(deps: AppDeps, json: RequestHandler): Router {
  const { scheduler } = deps;
  const limits = deps.config.auth;
  const submissions = new RateWindow(
    deps.limits ?? memoryLimits,
    'submissions',
    limits.submissionsPerMinute,
    60,
  );
  /** Operations of each owner's submissions still being planned (not yet counted as unfinished). */
  const planning = new Map<string, number>();
  const api = Router();

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
  return api;
}
