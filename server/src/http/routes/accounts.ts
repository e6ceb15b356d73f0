/**
 * The account routes of `/api/v1`: registration, sign-in and the first admin (public), who the
 * caller is (`/me`), and signing out, password changes and user management (signed in).
 */
import { Router, type RequestHandler } from 'express';
import {
  CredentialsBodySchema,
  ExpressionistError,
  LoginBodySchema,
  PasswordChangeBodySchema,
  SetupBodySchema,
} from '@expressionist/core';
import type { AuthService } from '../../auth/service.js';
import { authorize } from '../../auth/policy.js';
import { describeIssue, sendError } from '../../errors.js';
import { requestAddress } from '../../auth/client-address.js';
import { principalOf, sessionOf } from '../request-context.js';

/** Accounts: public, and the bearer header (if any) is not looked at. */
export function publicAccountRoutes(auth: AuthService, json: RequestHandler): Router {
  const api = Router();
  api.post('/register', json, async (req, res) => {
    const body = CredentialsBodySchema.safeParse(req.body);
    if (!body.success) {
      const { field, message } = describeIssue(body.error);
      sendError(res, 'ACCOUNT_INVALID', { reason: message }, field ? { field } : {});
      return;
    }
    res.json({ user: await auth.accounts.register(body.data, requestAddress(req)) });
  });
  api.post('/login', json, async (req, res) => {
    // A malformed body is a failed sign-in like any other (no hint which rule it broke).
    const body = LoginBodySchema.safeParse(req.body);
    if (!body.success) throw ExpressionistError.of('LOGIN_FAILED', {});
    res.json(await auth.accounts.login(body.data, requestAddress(req)));
  });
  api.post('/setup', json, async (req, res) => {
    const body = SetupBodySchema.safeParse(req.body);
    if (!body.success) {
      const { field, message } = describeIssue(body.error);
      if (field === 'token' || !auth.accounts.setupPending)
        throw ExpressionistError.of('SETUP_INVALID', {});
      sendError(res, 'ACCOUNT_INVALID', { reason: message }, { field });
      return;
    }
    res.json(await auth.accounts.setup(body.data));
  });
  return api;
}

/**
 * `GET /me`: the caller (anyone, signed in or not) and how this orchestrator is run; `exposed`
 * says an open-mode orchestrator listens beyond this machine.
 */
export function meRoute(auth: AuthService, exposed: boolean): Router {
  const api = Router();
  api.get('/me', async (req, res) => {
    res.json(await auth.accounts.me(principalOf(req), exposed));
  });
  return api;
}

/** A signed-in user's own session and password, and the admins' user management. */
export function accountRoutes(auth: AuthService, json: RequestHandler): Router {
  const api = Router();
  api.post('/logout', async (req, res) => {
    await auth.accounts.logout(sessionOf(req));
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
    res.json({ token: await auth.accounts.changePassword(session, body.data) });
  });
  api.get('/users', async (req, res) => {
    authorize(principalOf(req), 'manage-users');
    res.json({ users: await auth.accounts.listUsers() });
  });
  api.post('/users/:id/disable', async (req, res) => {
    authorize(principalOf(req), 'manage-users');
    res.json({ user: await auth.accounts.setDisabled(principalOf(req), req.params.id, true) });
  });
  api.post('/users/:id/enable', async (req, res) => {
    authorize(principalOf(req), 'manage-users');
    res.json({ user: await auth.accounts.setDisabled(principalOf(req), req.params.id, false) });
  });
  api.delete('/users/:id', async (req, res) => {
    authorize(principalOf(req), 'manage-users');
    await auth.accounts.deleteUser(principalOf(req), req.params.id);
    res.json({ deleted: req.params.id });
  });
  return api;
}
