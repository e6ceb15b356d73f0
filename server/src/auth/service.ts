/**
 * Accounts and agent credentials: registration, sign-in (JWT, HS256 via `jose`) with device
 * tokens, sessions that end (sign-out, password change, an admin disabling or deleting a user),
 * the first admin (from ADMIN_LOGIN/ADMIN_PASSWORD, or a one-time setup link), and admin-issued
 * agent tokens.
 *
 * It turns a bearer token into a `Principal` (users) or an `AgentPrincipal`
 * (agents), reading the user's role and status from the store (cached briefly, see
 * session-states.ts); `policy.ts` decides what they may do. The parts: accounts.ts,
 * session-tokens.ts, agent-credentials.ts, account-events.ts.
 */
import type { Logger } from 'pino';
import { ExpressionistError, type AgentCredentialView, type AuthMode } from '@expressionist/core';
import type { Store } from '../store/store.js';
import { AccountEvents, type AccountEvent } from './account-events.js';
import { Accounts } from './accounts.js';
import { AgentCredentials, TOKEN_PREFIX } from './agent-credentials.js';
import type { LimitStore } from './limits.js';
import type { Principal } from './policy.js';
import { SessionStates } from './session-states.js';
import { SessionTokens, type Authenticated, type Session } from './session-tokens.js';

export type { AccountEvent } from './account-events.js';
export type { Authenticated, Session } from './session-tokens.js';
export { loadJwtSecret } from './jwt-secret.js';

/**
 * Who an agent's token proves it is (the gate turns it into an `Admission`); the `key` is its
 * identity, the one quarantine sticks to.
 */
export type AgentPrincipal =
  | { trust: 'credential'; key: string; credentialId: string; name: string }
  | { trust: 'user'; key: string; userId: string; login: string; session: Session }
  | { trust: 'guest' };

export interface AuthOptions {
  mode: AuthMode;
  secret: Uint8Array;
  ttlSeconds: number;
  guestAgents: boolean;
  /** Failed sign-ins per login and per address before each further one locks them out. */
  loginFreeFailures: number;
  /** The first sign-in lock, in seconds (default 1); each further one is twice as long. */
  loginFirstLockS?: number;
  /** Where sign-in and registration counts live (default: this process; Redis when clustered). */
  limits?: LimitStore;
  log: Logger;
}

export class AuthService {
  /**
   * The accounts themselves: registration, sign-in, sign-out, password changes, the admins' user
   * management, the first admin's setup, and who the caller is (`me`); see accounts.ts.
   */
  readonly accounts: Accounts;
  private readonly tokens: SessionTokens;
  private readonly events: AccountEvents;
  private readonly credentials: AgentCredentials;

  constructor(
    private readonly store: Store,
    private readonly o: AuthOptions,
  ) {
    const states = new SessionStates(store);
    this.tokens = new SessionTokens(states, o);
    this.events = new AccountEvents(states);
    this.accounts = new Accounts(store, this.tokens, this.events, o);
    this.credentials = new AgentCredentials(store, o.log);
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
    return this.accounts.start(admin);
  }

  /**
   * Reads every credential from the store again. Several orchestrators: credentials are issued
   * and revoked on the leader; the other instances reload when told (and each instance on start).
   */
  reloadCredentials(): Promise<void> {
    return this.credentials.reloadCredentials();
  }

  /** Called after a credential was issued or revoked here. */
  onCredentialsChanged(listener: () => void): void {
    this.credentials.onCredentialsChanged(listener);
  }

  /** Forgets sign-outs whose tokens have expired anyway. */
  async pruneRevokedTokens(): Promise<number> {
    return this.store.pruneRevokedTokens(Date.now());
  }

  /** Called for every account event: `here` when this instance made it, else told by another. */
  onAccountEvent(listener: (event: AccountEvent, here: boolean) => void): void {
    this.events.onAccountEvent(listener);
  }

  /** Several orchestrators: another instance changed an account; forget what we cached of it. */
  accountEventElsewhere(event: AccountEvent): void {
    this.events.accountEventElsewhere(event);
  }

  /** Who a bearer token belongs to; anonymous without one. An invalid token is UNAUTHENTICATED. */
  async principalOf(token: string | undefined): Promise<Principal> {
    return (await this.authenticate(token)).principal;
  }

  /**
   * Who a bearer token belongs to and the session it carries. UNAUTHENTICATED when it is forged or
   * expired, or its session has ended; the role and login are the store's, not the token's.
   */
  authenticate(token: string | undefined): Promise<Authenticated> {
    return this.tokens.authenticate(token);
  }

  /** Whether `session` is still live: in date, not signed out, its user enabled and unchanged. */
  isSessionLive(session: Session): Promise<boolean> {
    return this.tokens.isSessionLive(session);
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
      const credential = this.credentials.checkCredential(token);
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
    return this.credentials.isLive(credentialId);
  }

  issueCredential(name: string): Promise<{ credential: AgentCredentialView; token: string }> {
    return this.credentials.issueCredential(name);
  }

  listCredentials(): AgentCredentialView[] {
    return this.credentials.listCredentials();
  }

  /** Revokes a credential; agents holding it are cut off by the `onRevoked` listeners. */
  revokeCredential(id: string): Promise<AgentCredentialView> {
    return this.credentials.revokeCredential(id);
  }

  onRevoked(listener: (credentialId: string) => void): void {
    this.credentials.onRevoked(listener);
  }
}
