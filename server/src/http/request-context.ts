/**
 * What the HTTP layer knows about the caller of a request: the principal and session the auth
 * middleware found, the bearer token, the client's address, and what the caller may see.
 */
import type { Request, RequestHandler } from 'express';
import { ExpressionistError } from '@expressionist/core';
import type { AuthService, Session } from '../auth/service.js';
import { canSee, type Principal } from '../auth/policy.js';

/** Who is calling, as the auth middleware found it. */
const principals = new WeakMap<Request, Principal>();
export function principalOf(req: Request): Principal {
  return principals.get(req) ?? { kind: 'anonymous' };
}
/** The caller's session (accounts mode, signed in). */
const sessions = new WeakMap<Request, Session>();
export function sessionOf(req: Request): Session {
  const session = sessions.get(req);
  if (!session)
    throw ExpressionistError.of('UNAUTHENTICATED', {
      reason: 'this needs a signed-in session (AUTH_MODE=accounts).',
    });
  return session;
}

/** The token of `Authorization: Bearer <token>`, if any. */
export function bearer(req: Request): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  return match?.[1];
}

/** Who is calling (an invalid, expired or forged token is 401, not anonymous). */
export function identify(auth: AuthService): RequestHandler {
  return async (req, _res, next) => {
    const { principal, session } = await auth.authenticate(bearer(req));
    principals.set(req, principal);
    if (session) sessions.set(req, session);
    next();
  };
}

/** `visible(owner)` for the scheduler's views: the caller's own, or all for admins. */
export const visibleTo = (req: Request) => {
  const p = principalOf(req);
  return (owner: string | null) => canSee(p, owner);
};
