/**
 * Accounts and agent credentials: registration, sign-in (JWT, HS256 via `jose`), the first admin
 * (from ADMIN_LOGIN/ADMIN_PASSWORD, or a one-time setup link), and admin-issued agent tokens. It
 * turns a bearer token into a `Principal` (users) or an `AgentIdentity` (agents); `policy.ts`
 * decides what they may do.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, jwtVerify } from 'jose';
import type { Logger } from 'pino';
import {
  ExpressionistError,
  RoleSchema,
  type AgentCredentialView,
  type AuthMode,
  type CredentialsBody,
  type MeReply,
  type SetupBody,
  type UserView,
} from '@expressionist/core';
import type { Store, StoredCredential, StoredUser } from '../store/store.js';
import { FailureThrottle, RateLimitedError, RateWindow } from './limits.js';
import { DUMMY_HASH, hashPassword, passwordProblem, verifyPassword } from './passwords.js';
import type { Principal } from './policy.js';

/** How an agent proves who it is; the `key` is the identity quarantine sticks to. */
export type AgentIdentity =
  | { trust: 'credential'; key: string; credentialId: string; name: string }
  | { trust: 'user'; key: string; userId: string; login: string }
  | { trust: 'guest' };

export interface AuthOptions {
  mode: AuthMode;
  secret: Uint8Array;
  ttlSeconds: number;
  guestAgents: boolean;
  /** Failed sign-ins per login and per address before each further one locks them out. */
  loginFreeFailures: number;
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
  return { id: u.id, login: u.login, role: u.role, createdAt: new Date(u.createdAt).toISOString() };
}

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
  private readonly registrations = new RateWindow(5, 60_000);
  private readonly failuresByLogin: FailureThrottle;
  private readonly failuresByAddress: FailureThrottle;

  constructor(
    private readonly store: Store,
    private readonly o: AuthOptions,
  ) {
    this.failuresByLogin = new FailureThrottle(o.loginFreeFailures, 15 * 60_000);
    this.failuresByAddress = new FailureThrottle(o.loginFreeFailures * 4, 15 * 60_000);
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
    const wait = this.registrations.hit(address);
    if (wait > 0) throw new RateLimitedError('registrations', wait);
    return userView(await this.createUser(body, 'user'));
  }

  /** `POST /api/v1/login`: a JWT, after a constant-time check; throttled per login and address. */
  async login(body: CredentialsBody, address: string): Promise<string> {
    const login = body.login.toLowerCase();
    const byLogin = `login:${login}`;
    const byAddress = `addr:${address}`;
    const wait = Math.max(
      this.failuresByLogin.lockedFor(byLogin),
      this.failuresByAddress.lockedFor(byAddress),
    );
    if (wait > 0) throw new RateLimitedError('failed sign-ins', wait);
    // Counted as a failure before the (slow) check and cleared on success: otherwise a burst of
    // parallel guesses all pass the lock check while the first ones are still hashing.
    this.failuresByLogin.fail(byLogin);
    this.failuresByAddress.fail(byAddress);
    const user = await this.store.getUserByLogin(login);
    const ok = await verifyPassword(body.password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) throw ExpressionistError.of('LOGIN_FAILED', {});
    // The login's count is cleared; the address only gets this attempt back: clearing it would
    // let an attacker reset it by signing in to an account of their own between guesses.
    this.failuresByLogin.succeed(byLogin);
    this.failuresByAddress.forgive(byAddress);
    return this.sign(user);
  }

  /** `POST /api/v1/setup`: the first admin, once, with the token from the setup link. */
  async setup(body: SetupBody): Promise<string> {
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
    return this.sign(user);
  }

  /** Who a bearer token belongs to; anonymous without one. An invalid token is UNAUTHENTICATED. */
  async principalOf(token: string | undefined): Promise<Principal> {
    if (this.o.mode === 'open') return { kind: 'open' };
    if (!token) return { kind: 'anonymous' };
    try {
      const { payload } = await jwtVerify(token, this.o.secret, { algorithms: ['HS256'] });
      const role = RoleSchema.safeParse(payload['role']);
      const login = payload['login'];
      if (!payload.sub || !role.success || typeof login !== 'string') throw new Error('claims');
      return { kind: 'user', id: payload.sub, login, role: role.data };
    } catch {
      throw ExpressionistError.of('UNAUTHENTICATED', {
        reason: 'the token is invalid or expired; sign in again.',
      });
    }
  }

  /**
   * Who an agent is: an agent credential (`eat_…`), a signed-in user's JWT (a browser tab), or a
   * guest without a token when guests are allowed. Anything else is UNAUTHENTICATED.
   */
  async agentOf(token: string | undefined): Promise<AgentIdentity> {
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
    const principal = await this.principalOf(token);
    if (principal.kind !== 'user') throw new Error('unreachable: a verified token names a user');
    return {
      trust: 'user',
      key: `user-${principal.id}`,
      userId: principal.id,
      login: principal.login,
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
    };
    if ((await this.store.createUser(user)) === 'taken')
      throw ExpressionistError.of('LOGIN_TAKEN', { login });
    return user;
  }

  private sign(user: StoredUser): Promise<string> {
    return new SignJWT({ login: user.login, role: user.role })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime(`${this.o.ttlSeconds}s`)
      .sign(this.o.secret);
  }
}
