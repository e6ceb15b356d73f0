/**
 * User accounts: registration, sign-in with device tokens and failure locks, sign-out, password
 * changes, the admins' user management, and the first admin (from ADMIN_LOGIN/ADMIN_PASSWORD, or
 * a one-time setup link).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import {
  ExpressionistError,
  type AuthMode,
  type CredentialsBody,
  type LoginBody,
  type LoginReply,
  type MeReply,
  type PasswordChangeBody,
  type SetupBody,
  type UserView,
} from '@expressionist/core';
import type { Store, StoredUser } from '../store/store.js';
import type { AccountEvents } from './account-events.js';
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
import { sessionEnded, type Session, type SessionTokens } from './session-tokens.js';
import { ON_SUCCESS, countsOf, type SignInCount } from './sign-in-rules.js';

export interface AccountOptions {
  mode: AuthMode;
  secret: Uint8Array;
  guestAgents: boolean;
  /** Failed sign-ins per login and per address before each further one locks them out. */
  loginFreeFailures: number;
  /** The first lock, in seconds (default 1); each further one is twice as long. */
  loginFirstLockS?: number;
  /** Where sign-in and registration counts live (default: this process; Redis when clustered). */
  limits?: LimitStore;
  log: Logger;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

function userView(u: StoredUser): UserView {
  return {
    id: u.id,
    login: u.login,
    role: u.role,
    createdAt: new Date(u.createdAt).toISOString(),
    disabled: u.disabledAt !== null,
  };
}

export class Accounts {
  private setupToken: string | null = null;
  private adminExists = false;
  private readonly registrations: RateWindow;
  /** Sign-in failure counts; which ones an attempt meets is sign-in-rules.ts's to say. */
  private readonly failures: Record<SignInCount, FailureThrottle>;
  /** Wrong current passwords given to a password change, per user. */
  private readonly passwordFailures: FailureThrottle;
  private readonly devices: DeviceTokens;

  constructor(
    private readonly store: Store,
    private readonly tokens: SessionTokens,
    private readonly events: AccountEvents,
    private readonly o: AccountOptions,
  ) {
    const limits = o.limits ?? memoryLimits;
    const throttle = (name: string, free: number): FailureThrottle =>
      new FailureThrottle(limits, name, free, 900, o.loginFirstLockS);
    this.registrations = new RateWindow(limits, 'registrations', 5, 60);
    this.failures = {
      login: throttle('signin-login', o.loginFreeFailures),
      address: throttle('signin-address', o.loginFreeFailures * 4),
      device: throttle('signin-device', o.loginFreeFailures),
    };
    this.passwordFailures = throttle('password-change', o.loginFreeFailures);
    this.devices = new DeviceTokens(o.secret);
  }

  /**
   * Makes sure an admin can exist: creates it from `admin` when given and none exists, else
   * (accounts mode, no admin) returns a one-time setup token for the link.
   */
  async start(admin?: { login: string; password: string }): Promise<string | null> {
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
    this.events.announce({ t: 'signed-out', jti: session.jti });
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
    this.events.announce({ t: 'user-changed', userId: user.id, change: 'password' });
    this.o.log.info({ user: user.id }, 'password changed; other sessions ended');
    return this.tokens.sign(changed);
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
    this.events.announce({
      t: 'user-changed',
      userId: id,
      change: disabled ? 'disabled' : 'enabled',
    });
    this.o.log.info({ user: id, login: user.login, disabled }, 'account disabled or enabled');
    return userView({ ...user, ...patch });
  }

  /** Deletes an account (its expressions stay); cut off as when disabled. */
  async deleteUser(by: Principal, id: string): Promise<void> {
    const user = await this.otherUser(by, id, 'delete');
    await this.store.deleteUser(id);
    this.events.announce({ t: 'user-changed', userId: id, change: 'deleted' });
    this.o.log.info({ user: id, login: user.login }, 'account deleted');
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
    return {
      token: await this.tokens.sign(user),
      deviceToken: await this.devices.issue(user.login),
    };
  }
}
