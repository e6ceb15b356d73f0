/**
 * The route table of accounts (tag `accounts`): sign-up, sign-in, sessions, users, the first
 * admin and agent credentials.
 */
import {
  CreateCredentialBodySchema,
  CredentialsBodySchema,
  LoginBodySchema,
  PasswordChangeBodySchema,
  SetupBodySchema,
  type ErrorCode,
} from '@expressionist/core';
import { BODY_ERRORS, routeTable, type RouteDoc } from './route-doc.js';

/** An admin's action on a user: unknown ids, and never on oneself. */
const USER_ERRORS: ErrorCode[] = ['USER_NOT_FOUND', 'USER_SELF', 'NOT_FOUND'];

/** Accounts, sessions, user management and the first admin. */
export const ACCOUNT_DOCS: readonly RouteDoc[] = routeTable('accounts', [
  {
    route: 'POST /api/v1/register',
    summary: 'Create an account (role `user`). Limited per address.',
    body: CredentialsBodySchema,
    ok: ['The new user.', 'RegisterReply'],
    errors: [...BODY_ERRORS, 'ACCOUNT_INVALID', 'LOGIN_TAKEN', 'RATE_LIMITED'],
  },
  {
    route: 'POST /api/v1/login',
    summary:
      'Sign in: a JWT for `Authorization: Bearer`, and a device token to send with later sign-ins from this device. Failed attempts from unknown devices lock the login and the address for growing times (`Retry-After`); a valid `deviceToken` for the login is locked only by its own failures.',
    body: LoginBodySchema,
    ok: ['A token and a device token.', 'LoginReply'],
    errors: [...BODY_ERRORS, 'LOGIN_FAILED', 'RATE_LIMITED', 'ACCOUNT_DISABLED'],
  },
  {
    route: 'POST /api/v1/logout',
    auth: 'user',
    summary: 'Sign out: the token that calls this is revoked (its sockets are disconnected).',
    ok: ['Signed out.', 'LogoutReply'],
  },
  {
    route: 'POST /api/v1/password',
    auth: 'user',
    summary:
      "Change one's password: every other session ends (their sockets are disconnected); this one continues with the token returned.",
    body: PasswordChangeBodySchema,
    ok: ['A fresh token.', 'PasswordReply'],
    errors: [...BODY_ERRORS, 'PASSWORD_WRONG', 'ACCOUNT_INVALID', 'RATE_LIMITED'],
  },
  {
    route: 'GET /api/v1/users',
    auth: 'admin',
    summary: 'Every account, oldest first.',
    ok: ['The users.', 'UsersReply'],
  },
  {
    route: 'POST /api/v1/users/{id}/disable',
    auth: 'admin',
    summary:
      'Disable an account: its sessions end, its sockets and browser-tab agents are cut off and its unfinished expressions canceled, at once; it cannot sign in until enabled.',
    ok: ['The account, disabled.', 'UserReply'],
    errors: USER_ERRORS,
  },
  {
    route: 'POST /api/v1/users/{id}/enable',
    auth: 'admin',
    summary: 'Enable a disabled account (its user signs in again).',
    ok: ['The account, enabled.', 'UserReply'],
    errors: USER_ERRORS,
  },
  {
    route: 'DELETE /api/v1/users/{id}',
    auth: 'admin',
    summary:
      'Delete an account (its expressions stay): cut off as when disabled; the login is free again.',
    ok: ['Deleted.', 'DeleteUserReply'],
    errors: USER_ERRORS,
  },
  {
    route: 'POST /api/v1/setup',
    summary:
      'Create the first admin with the one-time token of the setup link the orchestrator prints; signs in.',
    body: SetupBodySchema,
    ok: ['The admin is created; a token and a device token.', 'LoginReply'],
    errors: [...BODY_ERRORS, 'SETUP_INVALID', 'ACCOUNT_INVALID', 'LOGIN_TAKEN'],
  },
  {
    route: 'GET /api/v1/me',
    auth: 'optional',
    summary: 'How this orchestrator is run (mode, guests, setup pending) and who the caller is.',
    ok: ['The caller and the mode.', 'MeReply'],
  },
]);

/** The admins' agent credentials. */
export const CREDENTIAL_DOCS: readonly RouteDoc[] = routeTable('accounts', [
  {
    route: 'GET /api/v1/agent-credentials',
    auth: 'admin',
    summary: 'Agent credentials, revoked ones included (never their tokens).',
    ok: ['The credentials.', 'CredentialsReply'],
  },
  {
    route: 'POST /api/v1/agent-credentials',
    auth: 'admin',
    summary: 'Issue an agent credential; its token is in this answer only (stored hashed).',
    body: CreateCredentialBodySchema,
    success: [
      { status: 201, description: 'The credential and its token.', body: 'CreateCredentialReply' },
    ],
    errors: [...BODY_ERRORS],
  },
  {
    route: 'POST /api/v1/agent-credentials/{id}/revoke',
    auth: 'admin',
    summary: 'Revoke an agent credential: agents holding it are disconnected and refused.',
    ok: ['The revoked credential.', 'CredentialReply'],
    errors: ['CREDENTIAL_NOT_FOUND', 'NOT_FOUND'],
  },
]);
