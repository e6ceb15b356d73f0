/**
 * The agent routes of `/api/v1`: listing agents, an admin's release and kick, and the admins'
 * agent credentials (issue, list, revoke).
 */
import { Router, type RequestHandler } from 'express';
import { CreateCredentialBodySchema, ExpressionistError } from '@expressionist/core';
import { agentViewer, authorize } from '../../auth/policy.js';
import type { AppDeps } from '../app-deps.js';
import { describeIssue, sendError } from '../../errors.js';
import { principalOf } from '../request-context.js';

export function agentRoutes(deps: AppDeps, json: RequestHandler): Router {
  const { scheduler, log, auth } = deps;
  const api = Router();
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
  return api;
}
