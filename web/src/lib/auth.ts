/**
 * The pure rules of signing in, apart from any state so they can be unit-tested: which pages a
 * signed-out visitor may see, where to send them, which `next` targets are safe to follow, when a
 * JWT runs out, and how long a 429 asks us to wait. `session.svelte.ts` holds the state and
 * applies these rules.
 */
import { z } from 'zod';
import type { MeReply } from '@expressionist/core';

/** Pages that work without a token: signing in, registering, the one-time admin setup. */
export const PUBLIC_PATHS = ['/login', '/register', '/setup'] as const;

/** Whether `pathname` is one of the sign-in pages (which never need a token). */
export function isPublicPath(pathname: string): boolean {
  return PUBLIC_PATHS.some((p) => pathname === p || pathname === `${p}/`);
}

/**
 * A `next` target that is safe to navigate to after signing in: a path on this origin that is not
 * itself a sign-in page. Anything else (`//evil.example`, `https://…`, `javascript:`, garbage)
 * falls back to `/`, so the login page cannot be turned into an open redirect.
 */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  let url: URL;
  try {
    url = new URL(next, 'http://dashboard.invalid');
  } catch {
    return '/';
  }
  if (url.origin !== 'http://dashboard.invalid' || isPublicPath(url.pathname)) return '/';
  return `${url.pathname}${url.search}${url.hash}`;
}

/** `/login?next=<where the visitor was>` (just `/login` when they were on the home page). */
export function loginHref(from: string): '/login' | `/login?next=${string}` {
  const next = safeNext(from);
  return next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`;
}

/**
 * Where the route guard sends a visitor, or null to stay. In accounts mode every page but the
 * sign-in pages needs a user; a signed-in user has no business on /login or /register. Open mode
 * has no accounts: the sign-in pages just lead home.
 */
export function guardRedirect(
  me: MeReply,
  url: { pathname: string; search: string },
): string | null {
  const onPublic = isPublicPath(url.pathname);
  if (me.mode === 'open') return onPublic ? '/' : null;
  if (me.user === null) return onPublic ? null : loginHref(`${url.pathname}${url.search}`);
  if (onPublic && !url.pathname.startsWith('/setup')) {
    return safeNext(new URLSearchParams(url.search).get('next'));
  }
  return null;
}

const JwtPayloadSchema = z.object({ exp: z.number().optional() });

/**
 * The expiry of a JWT in epoch milliseconds, read from its (unverified) payload, or null when the
 * token has none or is not a JWT. Only used to drop a token early: the server decides validity.
 */
export function tokenExpiresAt(token: string): number | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const json: unknown = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '=')));
    const parsed = JwtPayloadSchema.safeParse(json);
    return parsed.success && parsed.data.exp !== undefined ? parsed.data.exp * 1000 : null;
  } catch {
    return null;
  }
}

/** Whether the token is known to have expired at `now` (unknown expiry counts as still valid). */
export function isExpired(token: string, now: number): boolean {
  const exp = tokenExpiresAt(token);
  return exp !== null && exp <= now;
}

/**
 * Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Null when the header is missing or unreadable.
 */
export function retryAfterSeconds(header: string | null, now: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** The command line that starts a Node agent with a freshly issued credential. */
export function agentCommand(origin: string, token: string): string {
  return `npm run agent -- --server ${origin} --token ${token}`;
}
