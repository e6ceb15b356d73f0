/**
 * Session tokens: JWTs (HS256 via `jose`) signed at sign-in, and the check that turns one back
 * into a live session and its user (in date, not signed out, user enabled, same session epoch).
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { z } from 'zod';
import { ExpressionistError, type AuthMode } from '@expressionist/core';
import type { StoredUser } from '../store/store.js';
import type { Principal } from './policy.js';
import type { SessionStates } from './session-states.js';

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

const SessionClaimsSchema = z.object({
  sub: z.string().min(1),
  login: z.string(),
  jti: z.string().min(16),
  sv: z.number().int().nonnegative(),
  exp: z.number(),
});

export const sessionEnded = (): ExpressionistError =>
  ExpressionistError.of('UNAUTHENTICATED', {
    reason: 'this session has ended (signed out, password changed, or account disabled).',
  });

export interface SessionTokenOptions {
  mode: AuthMode;
  secret: Uint8Array;
  ttlSeconds: number;
}

export class SessionTokens {
  constructor(
    private readonly states: SessionStates,
    private readonly o: SessionTokenOptions,
  ) {}

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
   * A session token: the user, the session epoch it belongs to, and an id to revoke it by. The
   * login is for display; the role is read from the store on every use, never from the token.
   */
  sign(user: StoredUser): Promise<string> {
    return new SignJWT({ login: user.login, sv: user.sessionEpoch })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setJti(randomBytes(16).toString('base64url'))
      .setIssuedAt()
      .setExpirationTime(`${this.o.ttlSeconds}s`)
      .sign(this.o.secret);
  }
}
