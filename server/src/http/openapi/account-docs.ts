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
} from '@expressionist/core';
import { BODY_ERRORS, type RouteDoc } from './route-doc.js';

/** Accounts, sessions, user management and the first admin. */
export const ACCOUNT_DOCS: readonly RouteDoc[] = [
  {
    method: 'post',
    path: '/api/v1/register',
    summary: 'Create an account (role `user`). Limited per address.',
    tag: 'accounts',
    body: CredentialsBodySchema,
    success: [{ status: 200, description: 'The new user.', body: 'RegisterReply' }],
    errors: [...BODY_ERRORS, 'ACCOUNT_INVALID', 'LOGIN_TAKEN', 'RATE_LIMITED'],
  },
  {
    method: 'post',
    path: '/api/v1/login',
    summary:
      'Sign in: a JWT for `Authorization: Bearer`, and a device token to send with later sign-ins from this device. Failed attempts from unknown devices lock the login and the address for growing times (`Retry-After`); a valid `deviceToken` for the login is locked only by its own failures.',
    tag: 'accounts',
    body: LoginBodySchema,
    success: [{ status: 200, description: 'A token and a device token.', body: 'LoginReply' }],
    errors: [...BODY_ERRORS, 'LOGIN_FAILED', 'RATE_LIMITED', 'ACCOUNT_DISABLED'],
  },
  {
    method: 'post',
    path: '/api/v1/logout',
    auth: 'user',
    summary: 'Sign out: the token that calls this is revoked (its sockets are disconnected).',
    tag: 'accounts',
    success: [{ status: 200, description: 'Signed out.', body: 'LogoutReply' }],
  },
  {
    method: 'post',
    path: '/api/v1/password',
    auth: 'user',
    summary:
      "Change one's password: every other session ends (their sockets are disconnected); this one continues with the token returned.",
    tag: 'accounts',
    body: PasswordChangeBodySchema,
    success: [{ status: 200, description: 'A fresh token.', body: 'PasswordReply' }],
    errors: [...BODY_ERRORS, 'PASSWORD_WRONG', 'ACCOUNT_INVALID', 'RATE_LIMITED'],
  },
  {
    method: 'get',
    path: '/api/v1/users',
    auth: 'admin',
    summary: 'Every account, oldest first.',
    tag: 'accounts',
    success: [{ status: 200, description: 'The users.', body: 'UsersReply' }],
  },
  {
    method: 'post',
    path: '/api/v1/users/{id}/disable',
    auth: 'admin',
    summary:
      'Disable an account: its sessions end, its sockets and browser-tab agents are cut off and its unfinished expressions canceled, at once; it cannot sign in until enabled.',
    tag: 'accounts',
    success: [{ status: 200, description: 'The account, disabled.', body: 'UserReply' }],
    errors: ['USER_NOT_FOUND', 'USER_SELF', 'NOT_FOUND'],
  },
  {
    method: 'post',
    path: '/api/v1/users/{id}/enable',
    auth: 'admin',
    summary: 'Enable a disabled account (its user signs in again).',
    tag: 'accounts',
    success: [{ status: 200, description: 'The account, enabled.', body: 'UserReply' }],
    errors: ['USER_NOT_FOUND', 'USER_SELF', 'NOT_FOUND'],
  },
  {
    method: 'delete',
    path: '/api/v1/users/{id}',
    auth: 'admin',
    summary:
      'Delete an account (its expressions stay): cut off as when disabled; the login is free again.',
    tag: 'accounts',
    success: [{ status: 200, description: 'Deleted.', body: 'DeleteUserReply' }],
    errors: ['USER_NOT_FOUND', 'USER_SELF', 'NOT_FOUND'],
  },
  {
    method: 'post',
    path: '/api/v1/setup',
    summary:
      'Create the first admin with the one-time token of the setup link the orchestrator prints; signs in.',
    tag: 'accounts',
    body: SetupBodySchema,
    success: [
      {
        status: 200,
        description: 'The admin is created; a token and a device token.',
        body: 'LoginReply',
      },
    ],
    errors: [...BODY_ERRORS, 'SETUP_INVALID', 'ACCOUNT_INVALID', 'LOGIN_TAKEN'],
  },
  {
    method: 'get',
    path: '/api/v1/me',
    auth: 'optional',
    summary: 'How this orchestrator is run (mode, guests, setup pending) and who the caller is.',
    tag: 'accounts',
    success: [{ status: 200, description: 'The caller and the mode.', body: 'MeReply' }],
  },
];

/** The admins' agent credentials. */
export const CREDENTIAL_DOCS: readonly RouteDoc[] = [
  {
    method: 'get',
    path: '/api/v1/agent-credentials',
    auth: 'admin',
    summary: 'Agent credentials, revoked ones included (never their tokens).',
    tag: 'accounts',
    success: [{ status: 200, description: 'The credentials.', body: 'CredentialsReply' }],
  },
  {
    method: 'post',
    path: '/api/v1/agent-credentials',
    auth: 'admin',
    summary: 'Issue an agent credential; its token is in this answer only (stored hashed).',
    tag: 'accounts',
    body: CreateCredentialBodySchema,
    success: [
      { status: 201, description: 'The credential and its token.', body: 'CreateCredentialReply' },
    ],
    errors: [...BODY_ERRORS],
  },
  {
    method: 'post',
    path: '/api/v1/agent-credentials/{id}/revoke',
    auth: 'admin',
    summary: 'Revoke an agent credential: agents holding it are disconnected and refused.',
    tag: 'accounts',
    success: [{ status: 200, description: 'The revoked credential.', body: 'CredentialReply' }],
    errors: ['CREDENTIAL_NOT_FOUND', 'NOT_FOUND'],
  },
];
