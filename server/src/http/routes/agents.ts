/**
 * The agent routes of `/api/v1`: listing agents (paginated), an admin's release and kick, and the admins'
 * agent credentials (issue, list, revoke).
 */
import { Router, type RequestHandler } from 'express';
import {
  AgentListQuerySchema,
  CreateCredentialBodySchema,
  ExpressionistError,
} from '@expressionist/core';
import { agentViewer, authorize } from '../../auth/policy.js';
import type { AppDeps } from '../app-deps.js';
import { describeIssue, sendError } from '../../errors.js';
import { principalOf } from '../request-context.js';

export function agentRoutes(deps: AppDeps, json: RequestHandler): Router {
  const { scheduler, log, auth } = deps;
  const api = Router();
  // One page at a time (10,000 agents are 10 pages): no request holds the loop for all of them.
  api.get('/agents', (req, res) => {
    const query = AgentListQuerySchema.safeParse(req.query);
    if (!query.success) {
      const { field, message } = describeIssue(query.error);
      sendError(res, 'QUERY_INVALID', { reason: message }, { field });
      return;
    }
    const { limit, cursor } = query.data;
    const after = cursor === undefined ? 0 : Number(cursor);
    const page = scheduler.views.agentPage(after, limit, agentViewer(principalOf(req)));
    res.json({ agents: page.agents, nextCursor: page.next === null ? null : String(page.next) });
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
  return api;
}
