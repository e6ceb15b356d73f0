import { describe, expect, it } from 'vitest';
import type { MeReply } from '@expressionist/core';
import {
  agentCommand,
  guardRedirect,
  isExpired,
  isPublicPath,
  loginHref,
  retryAfterSeconds,
  safeNext,
  tokenExpiresAt,
} from '../src/lib/auth';

const base: MeReply = {
  mode: 'accounts',
  user: null,
  guestAgents: true,
  setupPending: false,
  exposed: false,
};
const alice: MeReply = {
  ...base,
  user: {
    id: 'u1',
    login: 'alice',
    role: 'user',
    createdAt: '2026-12-01T00:00:00.000Z',
    disabled: false,
  },
};
const open: MeReply = { ...base, mode: 'open' };

/** A JWT-shaped token with the given payload (the signature is never checked client-side). */
function jwt(payload: object): string {
  const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}.signature`;
}

describe('safeNext', () => {
  it('keeps same-origin paths with their query and hash', () => {
    expect(safeNext('/expressions/abc?x=1#op-3')).toBe('/expressions/abc?x=1#op-3');
    expect(safeNext('/settings')).toBe('/settings');
  });

  it('refuses anything that could leave the dashboard', () => {
    for (const next of [
      '//evil.example/x',
      '/\\evil.example',
      'https://evil.example/',
      'javascript:alert(1)',
      'settings',
      '',
      null,
      undefined,
    ]) {
      expect(safeNext(next), String(next)).toBe('/');
    }
  });

  it('does not send a signed-in user back to a sign-in page', () => {
    expect(safeNext('/login?next=/settings')).toBe('/');
    expect(safeNext('/register')).toBe('/');
    expect(safeNext('/setup#token')).toBe('/');
  });
});

describe('loginHref and isPublicPath', () => {
  it('remembers where the visitor was', () => {
    expect(loginHref('/settings')).toBe('/login?next=%2Fsettings');
    expect(loginHref('/expressions/e1?tab=graph')).toBe(
      '/login?next=%2Fexpressions%2Fe1%3Ftab%3Dgraph',
    );
    expect(loginHref('/')).toBe('/login');
  });

  it('knows the sign-in pages', () => {
    expect(isPublicPath('/login')).toBe(true);
    expect(isPublicPath('/register/')).toBe(true);
    expect(isPublicPath('/setup')).toBe(true);
    expect(isPublicPath('/loginx')).toBe(false);
    expect(isPublicPath('/')).toBe(false);
    expect(isPublicPath('/agents/credentials')).toBe(false);
  });
});

describe('guardRedirect', () => {
  const at = (pathname: string, search = ''): { pathname: string; search: string } => ({
    pathname,
    search,
  });

  it('sends a signed-out visitor of any dashboard page to the login page (accounts mode)', () => {
    expect(guardRedirect(base, at('/'))).toBe('/login');
    expect(guardRedirect(base, at('/settings'))).toBe('/login?next=%2Fsettings');
    expect(guardRedirect(base, at('/agents'))).toBe('/login?next=%2Fagents');
    expect(guardRedirect(base, at('/expressions/e1'))).toBe('/login?next=%2Fexpressions%2Fe1');
  });

  it('lets a signed-out visitor use the sign-in pages', () => {
    expect(guardRedirect(base, at('/login', '?next=%2Fsettings'))).toBeNull();
    expect(guardRedirect(base, at('/register'))).toBeNull();
    expect(guardRedirect(base, at('/setup'))).toBeNull();
  });

  it('moves a signed-in user from /login on to `next`, and leaves other pages alone', () => {
    expect(guardRedirect(alice, at('/login', '?next=%2Fsettings'))).toBe('/settings');
    expect(guardRedirect(alice, at('/login', '?next=https%3A%2F%2Fevil.example'))).toBe('/');
    expect(guardRedirect(alice, at('/register'))).toBe('/');
    expect(guardRedirect(alice, at('/setup'))).toBeNull();
    expect(guardRedirect(alice, at('/settings'))).toBeNull();
  });

  it('changes nothing in open mode but closing the sign-in pages', () => {
    expect(guardRedirect(open, at('/'))).toBeNull();
    expect(guardRedirect(open, at('/settings'))).toBeNull();
    expect(guardRedirect(open, at('/login'))).toBe('/');
  });
});

describe('token expiry', () => {
  it('reads exp (seconds) from a JWT payload', () => {
    expect(tokenExpiresAt(jwt({ sub: 'u1', exp: 1_800_000_000 }))).toBe(1_800_000_000_000);
    expect(tokenExpiresAt(jwt({ sub: 'u1' }))).toBeNull();
    expect(tokenExpiresAt('not-a-jwt')).toBeNull();
    expect(tokenExpiresAt('a.%%%.c')).toBeNull();
    expect(tokenExpiresAt(jwt({ exp: 'soon' }))).toBeNull();
  });

  it('treats an unknown expiry as valid and a past one as expired', () => {
    const token = jwt({ exp: 1_000 });
    expect(isExpired(token, 999_999)).toBe(false);
    expect(isExpired(token, 1_000_000)).toBe(true);
    expect(isExpired('opaque', Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});

describe('retryAfterSeconds', () => {
  it('reads delta-seconds and HTTP dates', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(retryAfterSeconds('42', now)).toBe(42);
    expect(retryAfterSeconds(' 7 ', now)).toBe(7);
    expect(retryAfterSeconds('Tue, 01 Dec 2026 12:00:30 GMT', now)).toBe(30);
    expect(retryAfterSeconds('Tue, 01 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterSeconds('soon', now)).toBeNull();
    expect(retryAfterSeconds(null, now)).toBeNull();
  });
});

describe('agentCommand', () => {
  it('is the command line that starts a Node agent with the token', () => {
    expect(agentCommand('http://10.0.0.5:8080', 'agt_abc')).toBe(
      'npm run agent -- --server http://10.0.0.5:8080 --token agt_abc',
    );
  });
});
