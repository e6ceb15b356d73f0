/**
 * The wire contract of accounts and trust: who may call the API, and as whom.
 *
 * Users sign in with
 * a login and password and get a JWT (`Authorization: Bearer <token>` on every API call, and
 * `auth.token` in both Socket.IO handshakes). Agents prove who they are with an admin-issued
 * agent token (`--token` / `AGENT_TOKEN`, `auth.token` in the `/agents` handshake, or
 * `Authorization: Bearer` on the course protocol), or compute as guests whose every result is
 * verified. Declared once here: the server validates with these, the dashboard and tests parse
 * with them, and the OpenAPI document is generated from them.
 */
import { z } from 'zod';

/** `accounts` (default): users, an admin, agent credentials. `open`: anonymous, as before. */
export const AuthModeSchema = z.enum(['accounts', 'open']);
export type AuthMode = z.infer<typeof AuthModeSchema>;

export const RoleSchema = z.enum(['admin', 'user']);
export type Role = z.infer<typeof RoleSchema>;

/** Logins: 3–64 letters, digits, `.`, `_` or `-`; compared case-insensitively (stored lower-case). */
export const LoginSchema = z
  .string()
  .trim()
  .min(3, 'at least 3 characters')
  .max(64, 'at most 64 characters')
  .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits and . _ - only');

/** Passwords: 8–256 characters, not all the same kind (see `passwordProblem`). */
export const PasswordSchema = z
  .string()
  .min(8, 'at least 8 characters')
  .max(256, 'at most 256 characters');

/** Body of `POST /api/v1/register` and `POST /api/v1/login` (the course's final shape). */
export const CredentialsBodySchema = z.object({ login: LoginSchema, password: PasswordSchema });
export type CredentialsBody = z.infer<typeof CredentialsBodySchema>;

/** Body of `POST /api/v1/setup`: the one-time token from the setup link, and the admin account. */
export const SetupBodySchema = CredentialsBodySchema.extend({
  token: z.string().min(16).max(256),
});
export type SetupBody = z.infer<typeof SetupBodySchema>;

/**
 * Body of `POST /api/v1/login`: the credentials, and the device token an earlier sign-in on this
 * device answered (if any). A valid device token for the login exempts the attempt from the
 * login's lock, which guards only against unknown devices (see README, Security).
 */
export const LoginBodySchema = CredentialsBodySchema.extend({
  deviceToken: z.string().max(2048).optional(),
});
export type LoginBody = z.infer<typeof LoginBodySchema>;

/**
 * `POST /api/v1/login` (and `/setup`) → `{token, deviceToken}`: a session JWT, and a device token
 * for this login to keep beside it and send with later sign-ins from this device.
 */
export const LoginReplySchema = z.object({ token: z.string(), deviceToken: z.string() });
export type LoginReply = z.infer<typeof LoginReplySchema>;

/** Body of `POST /api/v1/password`. */
export const PasswordChangeBodySchema = z.object({
  currentPassword: z.string().max(256),
  newPassword: PasswordSchema,
});
export type PasswordChangeBody = z.infer<typeof PasswordChangeBodySchema>;

/**
 * `POST /api/v1/password` → `{token}`: a fresh session token; every earlier session of the user,
 * this one's old token included, has ended.
 */
export const PasswordReplySchema = z.object({ token: z.string() });

/** `POST /api/v1/logout` → `{ok: true}`: the token that called it no longer works. */
export const LogoutReplySchema = z.object({ ok: z.literal(true) });

/** `POST /api/v1/register` → 200 `{user}`. */
export const UserViewSchema = z.object({
  id: z.string(),
  login: z.string(),
  role: RoleSchema,
  createdAt: z.iso.datetime(),
  /** An admin disabled the account: it cannot sign in, and its sessions have ended. */
  disabled: z.boolean(),
});
export type UserView = z.infer<typeof UserViewSchema>;
export const RegisterReplySchema = z.object({ user: UserViewSchema });
/** `GET /api/v1/users` (admin) → every account, oldest first. */
export const UsersReplySchema = z.object({ users: z.array(UserViewSchema) });
/** `POST /api/v1/users/:id/disable` and `/enable` → the account as it is now. */
export const UserReplySchema = z.object({ user: UserViewSchema });
/** `DELETE /api/v1/users/:id` → the id of the deleted account. */
export const DeleteUserReplySchema = z.object({ deleted: z.string() });

/**
 * `GET /api/v1/me`, public: how this orchestrator is run and who the caller is (null when not
 * signed in). `setupPending`: no admin exists yet (the setup link is in the orchestrator's log).
 * `exposed`: open mode on a non-loopback address (the dashboard shows a warning banner).
 */
export const MeReplySchema = z.object({
  mode: AuthModeSchema,
  user: UserViewSchema.nullable(),
  guestAgents: z.boolean(),
  setupPending: z.boolean(),
  exposed: z.boolean(),
});
export type MeReply = z.infer<typeof MeReplySchema>;

/** An admin-issued agent credential, as listed (the token itself is shown once, at creation). */
export const AgentCredentialViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.iso.datetime(),
  lastUsedAt: z.iso.datetime().nullable(),
  revokedAt: z.iso.datetime().nullable(),
});
export type AgentCredentialView = z.infer<typeof AgentCredentialViewSchema>;

/** Body of `POST /api/v1/agent-credentials`. */
export const CreateCredentialBodySchema = z.object({
  name: z.string().trim().min(1).max(64),
});
/** `POST /api/v1/agent-credentials` → 201: the credential and its token, shown only this once. */
export const CreateCredentialReplySchema = z.object({
  credential: AgentCredentialViewSchema,
  token: z.string(),
});
/** `POST /api/v1/agent-credentials/:id/revoke` → the credential, now revoked. */
export const CredentialReplySchema = z.object({ credential: AgentCredentialViewSchema });
/** `POST /api/v1/agents/:id/kick` → the id of the agent that was disconnected. */
export const KickReplySchema = z.object({ kicked: z.string() });
export const CredentialsReplySchema = z.object({
  credentials: z.array(AgentCredentialViewSchema),
});

/**
 * How far an agent is trusted: it holds an admin-issued credential, it is a signed-in user's
 * browser tab, or it is a guest (no identity it cannot shed: capped slots, never quarantined,
 * every result verified as always).
 */
export const AgentTrustSchema = z.enum(['credential', 'user', 'guest']);
export type AgentTrust = z.infer<typeof AgentTrustSchema>;

/** The Socket.IO handshake `auth` of a dashboard. */
export const UiHandshakeSchema = z.object({ token: z.string().max(4096).optional() });
