/**
 * Accounts and agent credentials: registration, sign-in (JWT, HS256 via `jose`) with device
 * tokens, sessions that end (sign-out, password change, an admin disabling or deleting a user),
 * the first admin (from ADMIN_LOGIN/ADMIN_PASSWORD, or a one-time setup link), and admin-issued
 * agent tokens.
 *
 * It turns a bearer token into a `Principal` (users) or an `AgentPrincipal`
 * (agents), reading the user's role and status from the store (cached briefly, see
 * session-states.ts); `policy.ts` decides what they may do.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, jwtVerify } from 'jose';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  ExpressionistError,
  type AgentCredentialView,
  type AuthMode,
  type CredentialsBody,
  type LoginBody,
  type LoginReply,
  type MeReply,
  type PasswordChangeBody,
  type SetupBody,
  type UserView,
} from '@expressionist/core';
import type { Store, StoredCredential, StoredUser } from '../store/store.js';
import { DeviceTokens } from './device-tokens.js';
import {
  FailureThrottle,
  RateLimitedError,
  RateWindow,
  memoryLimits,
  type LimitStore,
} from './limits.js';
import { DUMMY_HASH, hashPassword, passwordProblem, verifyPassword } from './passwords.js';
import type { Principal } from './policy.js';
import { SessionStates } from './session-states.js';
import { ON_SUCCESS, countsOf, type SignInCount } from './sign-in-rules.js';

/**
 * Who an agent's token proves it is (the gate turns it into an `Admission`); the `key` is its
 * identity, the one quarantine sticks to.
 */
export type AgentPrincipal =
  | { trust: 'credential'; key: string; credentialId: string; name: string }
  | { trust: 'user'; key: string; userId: string; login: string; session: Session }
  | { trust: 'guest' };

/** A signed-in session, as its token carries it. */
export interface Session {
  /** The token's id (`jti`): signing out revokes it. */
  jti: string;
  userId: string;
  /** The user's session epoch when the token was signed (see `StoredUser.sessionEpoch`). */
  epoch: number;
  /** The token's expiry, epoch ms. */
  expiresAt: number;
}

/** Who a bearer token belongs to, and the session it carries (none in open mode or anonymous). */
export interface Authenticated {
  principal: Principal;
  session: Session | null;
}

/**
 * Something that ends or changes sessions: one token signed out, or a user whose sessions may
 * have ended (a password change or a disable ends all earlier ones, a delete ends everything; an
 * enable changes only the cached record).
 */
export type AccountEvent =
  | { t: 'signed-out'; jti: string }
  | { t: 'user-changed'; userId: string; change: 'password' | 'disabled' | 'enabled' | 'deleted' };

const SessionClaimsSchema = z.object({
  sub: z.string().min(1),
  login: z.string(),
  jti: z.string().min(16),
  sv: z.number().int().nonnegative(),
  exp: z.number(),
});

export interface AuthOptions {
  mode: AuthMode;
  secret: Uint8Array;
  ttlSeconds: number;
  guestAgents: boolean;
  /** Failed sign-ins per login and per address before each further one locks them out. */
  loginFreeFailures: number;
  /** Where sign-in and registration counts live (default: this process; Redis when clustered). */
  limits?: LimitStore;
  log: Logger;
}

const SECRET_FILE = 'jwt-secret';
const TOKEN_PREFIX = 'eat_';
/** How often a credential's `lastUsedAt` is written at most. */
const LAST_USED_EVERY_MS = 60_000;

/**
 * The JWT signing secret: JWT_SECRET when given (several orchestrators must share it), else one
 * generated once into `<dataDir>/jwt-secret` with mode 0600 and reused after restarts.
 */
export function loadJwtSecret(dataDir: string, fromEnv: string | undefined): Uint8Array {
  if (fromEnv) return new TextEncoder().encode(fromEnv);
  const file = path.join(dataDir, SECRET_FILE);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  return new TextEncoder().encode(readFileSync(file, 'utf8').trim());
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function userView(u: StoredUser): UserView {
  return {
    id: u.id,
    login: u.login,
    role: u.role,
    createdAt: new Date(u.createdAt).toISOString(),
    disabled: u.disabledAt !== null,
  };
}

const sessionEnded = (): ExpressionistError =>
  ExpressionistError.of('UNAUTHENTICATED', {
    reason: 'this session has ended (signed out, password changed, or account disabled).',
  });

function credentialView(c: StoredCredential): AgentCredentialView {
  return {
    id: c.id,
    name: c.name,
    createdAt: new Date(c.createdAt).toISOString(),
    lastUsedAt: iso(c.lastUsedAt),
    revokedAt: iso(c.revokedAt),
  };
}

export class AuthService {
  private setupToken: string | null = null;
  private adminExists = false;
  /** Credentials by id, kept current by this service (it is the only writer). */
  private readonly credentials = new Map<string, StoredCredential>();
  private readonly revokedListeners: ((credentialId: string) => void)[] = [];
  private readonly changedListeners: (() => void)[] = [];
  private readonly accountListeners: ((event: AccountEvent, here: boolean) => void)[] = [];
  private readonly registrations: RateWindow;
  /** Sign-in failure counts; which ones an attempt meets is sign-in-rules.ts's to say. */
  private readonly failures: Record<SignInCount, FailureThrottle>;
  /** Wrong current passwords given to a password change, per user. */
  private readonly passwordFailures: FailureThrottle;
  private readonly devices: DeviceTokens;
  private readonly states: SessionStates;

  constructor(
    private readonly store: Store,
    private readonly o: AuthOptions,
  ) {
    const limits = o.limits ?? memoryLimits;
    const lockS = 900;
    this.registrations = new RateWindow(limits, 'registrations', 5, 60);
    this.failures = {
      login: new FailureThrottle(limits, 'signin-login', o.loginFreeFailures, lockS),
      address: new FailureThrottle(limits, 'signin-address', o.loginFreeFailures * 4, lockS),
      device: new FailureThrottle(limits, 'signin-device', o.loginFreeFailures, lockS),
    };
    this.passwordFailures = new FailureThrottle(
      limits,
      'password-change',
      o.loginFreeFailures,
      lockS,
    );
    this.devices = new DeviceTokens(o.secret);
    this.states = new SessionStates(store);
  }

  get mode(): AuthMode {
    return this.o.mode;
  }

  get guestAgents(): boolean {
    return this.o.guestAgents;
  }

  /**
   * Loads credentials and makes sure an admin can exist: creates it from `admin` when given and
   * none exists, else (accounts mode, no admin) returns a one-time setup token for the link.
   */
  async start(admin?: { login: string; password: string }): Promise<string | null> {
    await this.reloadCredentials();
    if (this.o.mode === 'open') return null;
    this.adminExists = await this.store.hasAdmin();
    if (this.adminExists) return null;
    if (admin) {
      await this.createUser(admin, 'admin');
      this.adminExists = true;
      this.o.log.info({ login: admin.login }, 'admin account created from ADMIN_LOGIN');
      return null;
    }
    this.setupToken = randomBytes(24).toString('base64url');
    return this.setupToken;
  }

  /**
   * Reads every credential from the store again. Several orchestrators: credentials are issued
   * and revoked on the leader; the other instances reload when told (and each instance on start).
   */
  async reloadCredentials(): Promise<void> {
    const stored = await this.store.listCredentials();
    this.credentials.clear();
    for (const c of stored) this.credentials.set(c.id, c);
  }

  /** Called after a credential was issued or revoked here. */
  onCredentialsChanged(listener: () => void): void {
    this.changedListeners.push(listener);
  }

  /** No admin yet: the setup link is waiting to be used. */
  get setupPending(): boolean {
    return this.setupToken !== null;
  }

  /** `POST /api/v1/register`: a new user (role `user`). */
  async register(body: CredentialsBody, address: string): Promise<UserView> {
    const wait = await this.registrations.hit(address);
    if (wait > 0) throw new RateLimitedError('registrations', wait);
    return userView(await this.createUser(body, 'user'));
  }

  /**
   * `POST /api/v1/login`: a session JWT and a device token, after a constant-time check. Locked
   * per login and address for unknown devices, per device token for known ones
   * (sign-in-rules.ts). A locked attempt is refused before the password is looked at, so the
   * answer is the same whatever the password.
   */
  async login(body: LoginBody, address: string): Promise<LoginReply> {
    const login = body.login.toLowerCase();
    const device = await this.devices.idFor(body.deviceToken, login);
    const counts = countsOf({ login, address, device });
    const waits = await Promise.all(counts.map((c) => this.failures[c.count].lockedFor(c.key)));
    const wait = Math.max(0, ...waits);
    if (wait > 0) throw new RateLimitedError('failed sign-ins', wait);
    // Counted as a failure before the (slow) check and cleared on success: otherwise a burst of
    // parallel guesses all pass the lock check while the first ones are still hashing.
    await Promise.all(counts.map((c) => this.failures[c.count].fail(c.key)));
    const user = await this.store.getUserByLogin(login);
    const ok = await verifyPassword(body.password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) throw ExpressionistError.of('LOGIN_FAILED', {});
    await Promise.all(
      counts.map((c) =>
        ON_SUCCESS[c.count] === 'clear'
          ? this.failures[c.count].succeed(c.key)
          : this.failures[c.count].forgive(c.key),
      ),
    );
    // Said only to whoever knows the password.
    if (user.disabledAt !== null) throw ExpressionistError.of('ACCOUNT_DISABLED', {});
    return this.signIn(user);
  }

  /** `POST /api/v1/logout`: the session's token is revoked until it would have expired. */
  async logout(session: Session): Promise<void> {
    await this.store.revokeToken(session.jti, session.expiresAt);
    this.announce({ t: 'signed-out', jti: session.jti });
  }

  /**
   * `POST /api/v1/password`: after the current password, a new one; every earlier session of the
   * user ends (the session epoch moves on) and this one continues with the token returned.
   * Wrong current passwords lock like sign-in failures (a stolen session must not guess it).
   */
  async changePassword(session: Session, body: PasswordChangeBody): Promise<string> {
    const key = `user:${session.userId}`;
    const wait = await this.passwordFailures.lockedFor(key);
    if (wait > 0) throw new RateLimitedError('wrong current passwords', wait);
    await this.passwordFailures.fail(key);
    const user = await this.store.getUser(session.userId);
    if (!user) throw sessionEnded();
    if (!(await verifyPassword(body.currentPassword, user.passwordHash)))
      throw ExpressionistError.of('PASSWORD_WRONG', {});
    await this.passwordFailures.succeed(key);
    const problem = passwordProblem(user.login, body.newPassword);
    if (problem) throw ExpressionistError.of('ACCOUNT_INVALID', { reason: problem });
    const changed: StoredUser = {
      ...user,
      passwordHash: await hashPassword(body.newPassword),
      sessionEpoch: user.sessionEpoch + 1,
    };
    await this.store.updateUser(user.id, {
      passwordHash: changed.passwordHash,
      sessionEpoch: changed.sessionEpoch,
    });
    this.announce({ t: 'user-changed', userId: user.id, change: 'password' });
    this.o.log.info({ user: user.id }, 'password changed; other sessions ended');
    return this.sign(changed);
  }

  /** `GET /api/v1/users` (admin). */
  async listUsers(): Promise<UserView[]> {
    return (await this.store.listUsers()).map(userView);
  }

  /**
   * Disables (every session ends, sign-in refused) or enables an account. Its sockets, agents
   * and unfinished work are cut off by the listeners of the `user-changed` event.
   */
  async setDisabled(by: Principal, id: string, disabled: boolean): Promise<UserView> {
    const user = await this.otherUser(by, id, disabled ? 'disable' : 'enable');
    if (disabled === (user.disabledAt !== null)) return userView(user);
    const patch = disabled
      ? { disabledAt: Date.now(), sessionEpoch: user.sessionEpoch + 1 }
      : { disabledAt: null };
    await this.store.updateUser(id, patch);
    this.announce({ t: 'user-changed', userId: id, change: disabled ? 'disabled' : 'enabled' });
    this.o.log.info({ user: id, login: user.login, disabled }, 'account disabled or enabled');
    return userView({ ...user, ...patch });
  }

  /** Deletes an account (its expressions stay); cut off as when disabled. */
  async deleteUser(by: Principal, id: string): Promise<void> {
    const user = await this.otherUser(by, id, 'delete');
    await this.store.deleteUser(id);
    this.announce({ t: 'user-changed', userId: id, change: 'deleted' });
    this.o.log.info({ user: id, login: user.login }, 'account deleted');
  }

  /** Forgets sign-outs whose tokens have expired anyway. */
  async pruneRevokedTokens(): Promise<number> {
    return this.store.pruneRevokedTokens(Date.now());
  }

  /** Called for every account event: `here` when this instance made it, else told by another. */
  onAccountEvent(listener: (event: AccountEvent, here: boolean) => void): void {
    this.accountListeners.push(listener);
  }

  /** Several orchestrators: another instance changed an account; forget what we cached of it. */
  accountEventElsewhere(event: AccountEvent): void {
    this.forget(event);
    for (const listener of this.accountListeners) listener(event, false);
  }

  private announce(event: AccountEvent): void {
    this.forget(event);
    for (const listener of this.accountListeners) listener(event, true);
  }

  private forget(event: AccountEvent): void {
    if (event.t === 'signed-out') this.states.forgetToken(event.jti);
    else this.states.forgetUser(event.userId);
  }

  /** The account `by` (an admin) wants to `action`: never their own, and it must exist. */
  private async otherUser(by: Principal, id: string, action: string): Promise<StoredUser> {
    if (by.kind === 'user' && by.id === id) throw ExpressionistError.of('USER_SELF', { action });
    const user = await this.store.getUser(id);
    if (!user) throw ExpressionistError.of('USER_NOT_FOUND', { id });
    return user;
  }

  /** `POST /api/v1/setup`: the first admin, once, with the token from the setup link. */
  async setup(body: SetupBody): Promise<LoginReply> {
    const expected = this.setupToken;
    // Digests of equal length: timingSafeEqual throws on buffers of different lengths, and a token
    // of the right number of characters but not of bytes (non-ASCII) would be a 500.
    if (expected === null || !timingSafeEqual(sha256(body.token), sha256(expected)))
      throw ExpressionistError.of('SETUP_INVALID', {});
    // Taken at once (two concurrent uses create one admin), given back if the account is refused
    // (a weak password must not burn the only link).
    this.setupToken = null;
    let user: StoredUser;
    try {
      user = await this.createUser(body, 'admin');
    } catch (err) {
      this.setupToken = expected;
      throw err;
    }
    this.adminExists = true;
    this.o.log.info({ login: user.login }, 'admin account created from the setup link');
    return this.signIn(user);
  }

  /** Who a bearer token belongs to; anonymous without one. An invalid token is UNAUTHENTICATED. */
  async principalOf(token: string | undefined): Promise<Principal> {
    return (await this.authenticate(token)).principal;
  }

  /**
   * Who a bearer token belongs to and the session it carries. UNAUTHENTICATED when it is forged or
   * expired, or its session has ended; the role and login are the store's, not the token's.
   */
  async authenticate(token: string | undefined): Promise<Authenticated> {
    if (this.o.mode === 'open') return { principal: { kind: 'open' }, session: null };
    if (!token) return { principal: { kind: 'anonymous' }, session: null };
    let session: Session;
    try {
      const { payload } = await jwtVerify(token, this.o.secret, { algorithms: ['HS256'] });
      const claims = SessionClaimsSchema.parse(payload);
      session = {
        jti: claims.jti,
        userId: claims.sub,
        epoch: claims.sv,
        expiresAt: claims.exp * 1000,
      };
    } catch {
      throw ExpressionistError.of('UNAUTHENTICATED', {
        reason: 'the token is invalid or expired; sign in again.',
      });
    }
    const user = await this.userOf(session);
    if (!user) throw sessionEnded();
    return {
      principal: { kind: 'user', id: user.id, login: user.login, role: user.role },
      session,
    };
  }

  /** Whether `session` is still live: in date, not signed out, its user enabled and unchanged. */
  async isSessionLive(session: Session): Promise<boolean> {
    return (await this.userOf(session)) !== null;
  }

  private async userOf(session: Session): Promise<StoredUser | null> {
    if (session.expiresAt <= Date.now()) return null;
    if (await this.states.isRevoked(session.jti)) return null;
    const user = await this.states.user(session.userId);
    if (!user || user.disabledAt !== null || user.sessionEpoch !== session.epoch) return null;
    return user;
  }

  /**
   * Who an agent is: an agent credential (`eat_…`), a signed-in user's JWT (a browser tab), or a
   * guest without a token when guests are allowed. Anything else is UNAUTHENTICATED.
   */
  async agentOf(token: string | undefined): Promise<AgentPrincipal> {
    if (this.o.mode === 'open') return { trust: 'guest' };
    if (!token) {
      if (this.o.guestAgents) return { trust: 'guest' };
      throw ExpressionistError.of('UNAUTHENTICATED', {
        reason: 'agents need a token (GUEST_AGENTS=off): ask an admin for an agent credential.',
      });
    }
    if (token.startsWith(TOKEN_PREFIX)) {
      const credential = this.checkCredential(token);
      return {
        trust: 'credential',
        key: `cred-${credential.id}`,
        credentialId: credential.id,
        name: credential.name,
      };
    }
    const { principal, session } = await this.authenticate(token);
    if (principal.kind !== 'user' || !session)
      throw new Error('unreachable: a verified token names a user');
    return {
      trust: 'user',
      key: `user-${principal.id}`,
      userId: principal.id,
      login: principal.login,
      session,
    };
  }

  /** Whether the credential behind `credentialId` is still valid (not revoked). */
  isLive(credentialId: string): boolean {
    const c = this.credentials.get(credentialId);
    return c !== undefined && c.revokedAt === null;
  }

  async issueCredential(name: string): Promise<{ credential: AgentCredentialView; token: string }> {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const credential: StoredCredential = {
      id,
      name,
      tokenHash: sha256(secret).toString('hex'),
      createdAt: Date.now(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.store.saveCredential(credential);
    this.credentials.set(id, credential);
    this.o.log.info({ credential: id, name }, 'agent credential issued');
    for (const listener of this.changedListeners) listener();
    return { credential: credentialView(credential), token: `${TOKEN_PREFIX}${id}.${secret}` };
  }

  listCredentials(): AgentCredentialView[] {
    return [...this.credentials.values()].map(credentialView);
  }

  /** Revokes a credential; agents holding it are cut off by the `onRevoked` listeners. */
  async revokeCredential(id: string): Promise<AgentCredentialView> {
    const current = this.credentials.get(id);
    if (!current) throw ExpressionistError.of('CREDENTIAL_NOT_FOUND', { id });
    if (current.revokedAt === null) {
      const revoked = { ...current, revokedAt: Date.now() };
      await this.store.updateCredential(id, { revokedAt: revoked.revokedAt });
      this.credentials.set(id, revoked);
      this.o.log.info({ credential: id, name: current.name }, 'agent credential revoked');
      for (const listener of this.revokedListeners) listener(id);
      for (const listener of this.changedListeners) listener();
    }
    return credentialView(this.credentials.get(id)!);
  }

  onRevoked(listener: (credentialId: string) => void): void {
    this.revokedListeners.push(listener);
  }

  /** `GET /api/v1/me`. */
  async me(principal: Principal, exposed: boolean): Promise<MeReply> {
    const user = principal.kind === 'user' ? await this.store.getUser(principal.id) : null;
    return {
      mode: this.o.mode,
      user: user ? userView(user) : null,
      guestAgents: this.o.guestAgents,
      setupPending: this.setupPending,
      exposed,
    };
  }

  private checkCredential(token: string): StoredCredential {
    const [id, secret] = token.slice(TOKEN_PREFIX.length).split('.');
    const c = id ? this.credentials.get(id) : undefined;
    const given = sha256(secret ?? '');
    const ok =
      c !== undefined &&
      c.revokedAt === null &&
      timingSafeEqual(given, Buffer.from(c.tokenHash, 'hex'));
    if (!ok || !c)
      throw ExpressionistError.of('UNAUTHENTICATED', {
        reason: 'the agent token is unknown or revoked.',
      });
    const now = Date.now();
    if (c.lastUsedAt === null || now - c.lastUsedAt > LAST_USED_EVERY_MS) {
      c.lastUsedAt = now;
      this.store.updateCredential(c.id, { lastUsedAt: now }).catch((err: unknown) => {
        this.o.log.warn({ err, credential: c.id }, 'recording credential use failed');
      });
    }
    return c;
  }

  private async createUser(body: CredentialsBody, role: StoredUser['role']): Promise<StoredUser> {
    const login = body.login.toLowerCase();
    const problem = passwordProblem(login, body.password);
    if (problem) throw ExpressionistError.of('ACCOUNT_INVALID', { reason: problem });
    const user: StoredUser = {
      id: `u${randomBytes(5).toString('hex')}`,
      login,
      passwordHash: await hashPassword(body.password),
      role,
      createdAt: Date.now(),
      disabledAt: null,
      sessionEpoch: 0,
    };
    if ((await this.store.createUser(user)) === 'taken')
      throw ExpressionistError.of('LOGIN_TAKEN', { login });
    return user;
  }

  private async signIn(user: StoredUser): Promise<LoginReply> {
    return { token: await this.sign(user), deviceToken: await this.devices.issue(user.login) };
  }

  /**
   * A session token: the user, the session epoch it belongs to, and an id to revoke it by. The
   * login is for display; the role is read from the store on every use, never from the token.
   */
  private sign(user: StoredUser): Promise<string> {
    return new SignJWT({ login: user.login, sv: user.sessionEpoch })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setJti(randomBytes(16).toString('base64url'))
      .setIssuedAt()
      .setExpirationTime(`${this.o.ttlSeconds}s`)
      .sign(this.o.secret);
  }
}
