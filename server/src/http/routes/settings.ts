/**
 * The settings routes of `/api/v1`: everyone signed in reads the operation durations and agent
 * retention; admins change them.
 */
import { Router, type RequestHandler } from 'express';
import { SettingsPatchSchema } from '@expressionist/core';
import { authorize } from '../../auth/policy.js';
import type { AppDeps } from '../app-deps.js';
import { describeIssue, sendError } from '../../errors.js';
import { principalOf } from '../request-context.js';

export function settingsRoutes(deps: AppDeps, json: RequestHandler): Router {
  const { scheduler } = deps;
  const api = Router();
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
  return api;
}
