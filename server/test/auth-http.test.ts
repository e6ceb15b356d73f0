/**
 * Accounts over HTTP, attacked the way a stranger on the network would: no token, a user's token
 * on admin routes, forged/expired/foreign JWTs, other users' expression ids, brute force in
 * series and in parallel, weak registrations, a replayed setup link. A real orchestrator on
 * port 0 (AUTH_MODE=accounts); requests are real HTTP. `X-Forwarded-For` stands for "another
 * address": the app trusts it only from loopback, which is where the test connects from.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CreateCredentialReplySchema,
  CredentialsReplySchema,
  LoginReplySchema,
  MeReplySchema,
  RegisterReplySchema,
} from '@expressionist/core';
import { manualAgent, request, tempDir, waitFor, type HttpAnswer } from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

const SECRET = 'test-secret-that-is-long-enough-0123456789';
const ADMIN = { login: 'root', password: 'correct horse battery' };
const ErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const IdSchema = z.object({ id: z.string() });

const codeOf = (a: HttpAnswer): string => ErrorSchema.parse(a.json).error.code;

let orch: TestOrchestrator;
let web: ReturnType<typeof tempDir>;
const SHELL_SCRIPT = "document.documentElement.dataset.theme = 'dark';";

function call(
  method: string,
  url: string,
  token?: string,
  json?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return request(orch.url, method, url, {
    json,
    headers: token ? { authorization: `Bearer ${token}`, ...headers } : headers,
  });
}

/** Registers `login` (from its own address, so the per-address limit is not in the way). */
async function register(
  base: string,
  login: string,
  password = 'a good passphrase',
): Promise<string> {
  const reg = await request(base, 'POST', '/api/v1/register', {
    json: { login, password },
    headers: { 'x-forwarded-for': `198.51.100.${login.length}` },
  });
  expect(reg.status, reg.text).toBe(200);
  expect(RegisterReplySchema.parse(reg.json).user.role).toBe('user');
  const signed = await request(base, 'POST', '/api/v1/login', { json: { login, password } });
  expect(signed.status, signed.text).toBe(200);
  return LoginReplySchema.parse(signed.json).token;
}

async function adminToken(): Promise<string> {
  const res = await call('POST', '/api/v1/login', undefined, ADMIN);
  return LoginReplySchema.parse(res.json).token;
}

let alice: string;
let bob: string;
let admin: string;

beforeAll(async () => {
  web = tempDir('expr-auth-web-');
  mkdirSync(web.dir, { recursive: true });
  writeFileSync(
    path.join(web.dir, 'index.html'),
    `<!doctype html><html><head><script>${SHELL_SCRIPT}</script><script src="/x.js"></script></head><body></body></html>`,
  );
  orch = await startTestOrchestrator({
    AUTH_MODE: 'accounts',
    ADMIN_LOGIN: ADMIN.login,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET: SECRET,
    CORS_ORIGINS: 'https://allowed.example',
    SUBMISSIONS_PER_MINUTE: '12',
    MAX_UNFINISHED_PER_USER: '8',
    WEB_DIR: web.dir,
  });
  alice = await register(orch.url, 'alice');
  bob = await register(orch.url, 'bobby');
  admin = await adminToken();
});
afterAll(async () => {
  await orch.close();
  web.remove();
});

/** Every guarded route, with a body where it needs one. */
const USER_ROUTES: [string, string, unknown?][] = [
  ['POST', '/api/v1/calculate', { expression: '1+1' }],
  ['GET', '/api/v1/expressions'],
  ['GET', '/api/v1/expressions/x'],
  ['GET', '/api/v1/expressions/x/operations'],
  ['POST', '/api/v1/expressions/x/cancel'],
  ['GET', '/api/v1/settings'],
  ['GET', '/api/v1/agents'],
];
const ADMIN_ROUTES: [string, string, unknown?][] = [
  ['PUT', '/api/v1/settings', { additionMs: 5 }],
  ['POST', '/api/v1/agents/x/release'],
  ['POST', '/api/v1/agents/x/kick'],
  ['GET', '/api/v1/agent-credentials'],
  ['POST', '/api/v1/agent-credentials', { name: 'evil' }],
  ['POST', '/api/v1/agent-credentials/x/revoke'],
];

describe('who may call what', () => {
  it('every guarded /api/v1 route answers 401 without a token', async () => {
    for (const [method, url, body] of [...USER_ROUTES, ...ADMIN_ROUTES]) {
      const res = await call(method, url, undefined, body);
      expect(res.status, `${method} ${url}`).toBe(401);
      expect(codeOf(res)).toBe('UNAUTHENTICATED');
    }
  });

  it('admin routes answer 403 to a user, and nothing changed', async () => {
    for (const [method, url, body] of ADMIN_ROUTES) {
      const res = await call(method, url, alice, body);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(codeOf(res)).toBe('FORBIDDEN');
    }
    const settings = await call('GET', '/api/v1/settings', alice);
    expect(settings.status).toBe(200);
    expect(JSON.stringify(settings.json)).not.toContain('"additionMs":5');
    const changed = await call('PUT', '/api/v1/settings', admin, { additionMs: 7 });
    expect(changed.status).toBe(200);
    expect((await orch.store.listCredentials()).map((c) => c.name)).not.toContain('evil');
  });

  it('public routes need no token: me, openapi, health, readiness', async () => {
    for (const url of ['/api/v1/me', '/api/v1/openapi.json', '/healthz', '/readyz'])
      expect((await call('GET', url)).status, url).toBe(200);
    const me = MeReplySchema.parse((await call('GET', '/api/v1/me')).json);
    expect(me).toMatchObject({ mode: 'accounts', user: null, setupPending: false, exposed: false });
    const mine = MeReplySchema.parse((await call('GET', '/api/v1/me', alice)).json);
    expect(mine.user?.login).toBe('alice');
  });

  it('/metrics: anyone on this machine, else an admin only', async () => {
    expect((await call('GET', '/metrics')).status).toBe(200);
    const remote = { 'x-forwarded-for': '203.0.113.9' };
    expect((await call('GET', '/metrics', undefined, undefined, remote)).status).toBe(401);
    expect((await call('GET', '/metrics', alice, undefined, remote)).status).toBe(403);
    expect((await call('GET', '/metrics', admin, undefined, remote)).status).toBe(200);
  });
});

describe('forged and stale tokens', () => {
  const sign = (claims: Record<string, unknown>, secret: string, exp: number | string) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u-someone')
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(secret));

  it('tampered, expired, foreign-secret, alg=none and garbage tokens are 401', async () => {
    const [header, payload, signature] = alice.split('.');
    const claims = z
      .record(z.string(), z.unknown())
      .parse(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()));
    const promoted = Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString(
      'base64url',
    );
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${promoted}.`;
    const forged = [
      `${header}.${promoted}.${signature}`,
      none,
      await sign({ login: 'alice', role: 'admin' }, SECRET, Math.floor(Date.now() / 1000) - 60),
      await sign({ login: 'alice', role: 'admin' }, 'another-secret-another-secret-000000', '1h'),
      'not-a-jwt',
    ];
    for (const token of forged) {
      const res = await call('GET', '/api/v1/expressions', token);
      expect(res.status, token).toBe(401);
      expect(codeOf(res)).toBe('UNAUTHENTICATED');
      expect((await call('PUT', '/api/v1/settings', token, { additionMs: 1 })).status).toBe(401);
    }
    // Alice's own claims (her id, session id and epoch), signed with the right secret and in
    // date, are accepted: the refusals above are about the signature and the date, not the shape.
    const fresh = await new SignJWT({ ...claims, exp: undefined, iat: undefined })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    expect((await call('GET', '/api/v1/expressions', fresh)).status).toBe(200);
    // The claims `sign` makes (someone who is no user, no session id) are not.
    const stranger = await sign({ login: 'alice', role: 'user' }, SECRET, '1h');
    expect((await call('GET', '/api/v1/expressions', stranger)).status).toBe(401);
  });
});

describe('each user sees only their own expressions', () => {
  it("A cannot list, read, get operations of, or cancel B's; admins see all", async () => {
    const b = await call('POST', '/api/v1/calculate', bob, { expression: '2*3*4' });
    expect(b.status).toBe(201);
    const bId = IdSchema.parse(b.json).id;
    const a = await call('POST', '/api/v1/calculate', alice, { expression: '1+2' });
    const aId = IdSchema.parse(a.json).id;

    const list = z.object({ expressions: z.array(IdSchema) });
    const aliceSees = list.parse((await call('GET', '/api/v1/expressions', alice)).json);
    expect(aliceSees.expressions.map((e) => e.id)).toContain(aId);
    expect(aliceSees.expressions.map((e) => e.id)).not.toContain(bId);

    const missing = await call('GET', '/api/v1/expressions/no-such-id', alice);
    for (const [method, url] of [
      ['GET', `/api/v1/expressions/${bId}`],
      ['GET', `/api/v1/expressions/${bId}/operations`],
      ['POST', `/api/v1/expressions/${bId}/cancel`],
    ] as const) {
      const res = await call(method, url, alice);
      expect(res.status, url).toBe(404);
      // The same answer as for an id that does not exist: nothing tells that it does.
      expect(res.text.replace(bId, 'ID')).toBe(missing.text.replace('no-such-id', 'ID'));
    }
    const stillThere = await call('GET', `/api/v1/expressions/${bId}`, bob);
    expect(stillThere.status).toBe(200);
    expect(stillThere.text).not.toContain('"canceled"');

    const adminSees = list.parse((await call('GET', '/api/v1/expressions', admin)).json);
    expect(adminSees.expressions.map((e) => e.id)).toEqual(expect.arrayContaining([aId, bId]));
    expect((await call('GET', `/api/v1/expressions/${bId}/operations`, admin)).status).toBe(200);
    expect((await call('POST', `/api/v1/expressions/${bId}/cancel`, admin)).status).toBe(200);
  });

  it('idempotency ids are per user', async () => {
    const a1 = await call('POST', '/api/v1/calculate', alice, { expression: '5+5', id: 'mine-1' });
    const b1 = await call('POST', '/api/v1/calculate', bob, { expression: '6+6', id: 'mine-1' });
    expect([a1.status, b1.status]).toEqual([201, 201]);
    expect(IdSchema.parse(a1.json).id).not.toBe(IdSchema.parse(b1.json).id);
    const again = await call('POST', '/api/v1/calculate', alice, {
      expression: '5+5',
      id: 'mine-1',
    });
    expect(again.status).toBe(200);
    expect(IdSchema.parse(again.json).id).toBe(IdSchema.parse(a1.json).id);
    // Bob cannot read Alice's by guessing her client id either.
    expect(
      (await call('GET', `/api/v1/expressions/${IdSchema.parse(a1.json).id}`, bob)).status,
    ).toBe(404);
  });

  it('submissions are limited per user: unfinished, then per minute, with Retry-After', async () => {
    const carol = await register(orch.url, 'carol-limits');
    const statuses: number[] = [];
    let limited: HttpAnswer | undefined;
    for (let i = 0; i < 15; i += 1) {
      const res = await call('POST', '/api/v1/calculate', carol, { expression: `${i}+1+1` });
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    // No agent runs here: 8 stay unfinished (MAX_UNFINISHED_PER_USER), the rest are refused.
    expect(statuses.filter((s) => s === 201)).toHaveLength(8);
    expect(limited && codeOf(limited)).toBe('RATE_LIMITED');
    const last = await request(orch.url, 'POST', '/api/v1/calculate', {
      json: { expression: '1+1' },
      headers: { authorization: `Bearer ${carol}` },
    });
    expect(last.status).toBe(429);
    const res = await fetch(`${orch.url}/api/v1/calculate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${carol}`, 'content-type': 'application/json' },
      body: JSON.stringify({ expression: '1+1' }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Others are not affected.
    expect((await call('POST', '/api/v1/calculate', alice, { expression: '9*9' })).status).toBe(
      201,
    );
  });
});

describe('registration', () => {
  it('409 for a taken login (any case), 422 for weak or invalid ones', async () => {
    const post = (json: unknown, from: string) =>
      request(orch.url, 'POST', '/api/v1/register', {
        json,
        headers: { 'x-forwarded-for': from },
      });
    const taken = await post({ login: 'ALICE', password: 'another passphrase' }, '192.0.2.1');
    expect([taken.status, codeOf(taken)]).toEqual([409, 'LOGIN_TAKEN']);
    const cases: unknown[] = [
      { login: 'dave', password: 'short' },
      { login: 'dave', password: '1234567890' },
      { login: 'dave', password: 'aaaaaaaaaa' },
      { login: 'dave', password: 'my-dave-password' },
      { login: 'd', password: 'a good passphrase' },
      { login: 'da ve<script>', password: 'a good passphrase' },
      { login: 'dave' },
      'not an object',
    ];
    for (const [i, body] of cases.entries()) {
      const res = await post(body, `192.0.2.${10 + i}`);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(codeOf(res)).toBe('ACCOUNT_INVALID');
    }
    const users = await orch.store.getUserByLogin('alice');
    expect(users?.passwordHash).toMatch(/^scrypt\$/);
    expect(users?.passwordHash).not.toContain('a good passphrase');
  });

  it('is limited per address (429 + Retry-After)', async () => {
    const answers: Response[] = [];
    for (let i = 0; i < 7; i += 1)
      answers.push(
        await fetch(`${orch.url}/api/v1/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.200' },
          body: JSON.stringify({ login: `spam${i}`, password: 'a good passphrase' }),
        }),
      );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(Number(answers[5]?.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('agent credentials', () => {
  it('issue (token shown once, stored hashed), list, revoke', async () => {
    const issued = await call('POST', '/api/v1/agent-credentials', admin, { name: 'rack 1' });
    expect(issued.status).toBe(201);
    const { credential, token } = CreateCredentialReplySchema.parse(issued.json);
    expect(token).toMatch(/^eat_/);
    const secret = token.split('.')[1] ?? '';
    expect(secret.length).toBeGreaterThan(20);

    const listed = await call('GET', '/api/v1/agent-credentials', admin);
    expect(listed.text).not.toContain(secret);
    expect(CredentialsReplySchema.parse(listed.json).credentials.map((c) => c.id)).toContain(
      credential.id,
    );
    const stored = JSON.stringify(await orch.store.listCredentials());
    expect(stored).not.toContain(secret);
    expect(stored).toContain(createHash('sha256').update(secret).digest('hex'));
    expect((await orch.auth.agentOf(token)).trust).toBe('credential');

    const revoked = await call('POST', `/api/v1/agent-credentials/${credential.id}/revoke`, admin);
    expect(revoked.status).toBe(200);
    expect(revoked.text).toContain('"revokedAt":"');
    await expect(orch.auth.agentOf(token)).rejects.toThrow(/revoked/);
    const unknown = await call('POST', '/api/v1/agent-credentials/nope/revoke', admin);
    expect([unknown.status, codeOf(unknown)]).toEqual([404, 'CREDENTIAL_NOT_FOUND']);
    const bad = await call('POST', '/api/v1/agent-credentials', admin, { name: '' });
    expect(bad.status).toBe(400);
  });

  it('kick of an agent that is not connected is 404', async () => {
    const res = await call('POST', '/api/v1/agents/ghost/kick', admin);
    expect([res.status, codeOf(res)]).toEqual([404, 'AGENT_NOT_CONNECTED']);
  });

  it('an admin kicks a connected agent: it is disconnected and listed lost', async () => {
    const { token } = CreateCredentialReplySchema.parse(
      (await call('POST', '/api/v1/agent-credentials', admin, { name: 'kickable' })).json,
    );
    const agent = await manualAgent(orch.url, 'kick-me', 1, token);
    try {
      await waitFor(
        () => orch.scheduler.views.agentView('kick-me')?.status === 'active',
        5000,
        'join',
      );
      const disconnected = new Promise<void>((resolve) =>
        agent.socket.once('disconnect', () => resolve()),
      );
      expect((await call('POST', '/api/v1/agents/kick-me/kick', alice)).status).toBe(403);
      const res = await call('POST', '/api/v1/agents/kick-me/kick', admin);
      expect(res.status, res.text).toBe(200);
      await disconnected;
      expect(orch.scheduler.views.agentView('kick-me')?.status).toBe('lost');
    } finally {
      agent.socket.close();
    }
  });
});

describe('browser hardening', () => {
  it('/ carries the CSP (hash of the shell script), frame-ancestors none, nosniff', async () => {
    const res = await fetch(`${orch.url}/expressions/abc`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    const hash = createHash('sha256').update(SHELL_SCRIPT).digest('base64');
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("connect-src 'self' https://allowed.example");
    expect(csp).toContain("worker-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('CORS: none for other origins, allowed (with Authorization) for CORS_ORIGINS', async () => {
    const preflight = (origin: string) =>
      fetch(`${orch.url}/api/v1/expressions`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const evil = await preflight('https://evil.example');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const good = await preflight('https://allowed.example');
    expect(good.headers.get('access-control-allow-origin')).toBe('https://allowed.example');
    expect(good.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(good.headers.get('access-control-allow-credentials')).toBeNull();
    const get = await fetch(`${orch.url}/api/v1/me`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('brute force', () => {
  let guarded: TestOrchestrator;
  beforeAll(async () => {
    guarded = await startTestOrchestrator({
      AUTH_MODE: 'accounts',
      ADMIN_LOGIN: ADMIN.login,
      ADMIN_PASSWORD: ADMIN.password,
      LOGIN_FREE_FAILURES: '2',
    });
  });
  afterAll(async () => guarded.close());

  const attempt = (login: string, password: string, from: string) =>
    fetch(`${guarded.url}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
      body: JSON.stringify({ login, password }),
    });

  it('per login: after the free failures, 429 with Retry-After, even with the right password', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1)
      statuses.push((await attempt(ADMIN.login, `wrong guess ${i}`, `192.0.2.${i + 1}`)).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const right = await attempt(ADMIN.login, ADMIN.password, '192.0.2.99');
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('parallel guesses do not slip past the lock', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => attempt('victim', `parallel ${i}`, `198.51.100.${i}`)),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(17);
  });

  it("per address: spraying many logins locks the address; own sign-ins don't reset it", async () => {
    await register(guarded.url, 'mallory');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      statuses.push((await attempt(`target${i}`, 'Password123!', '203.0.113.50')).status);
      // The attacker signs in to their own account between guesses.
      await attempt('mallory', 'a good passphrase', '203.0.113.50');
    }
    expect(statuses).toContain(429);
    expect(statuses.indexOf(429)).toBeLessThanOrEqual(9);
    // Another address is not locked.
    expect((await attempt('target0', 'Password123!', '203.0.113.51')).status).toBe(401);
  });
});

describe('the setup link', () => {
  let fresh: TestOrchestrator;
  beforeAll(async () => {
    fresh = await startTestOrchestrator({ AUTH_MODE: 'accounts' });
  });
  afterAll(async () => fresh.close());

  const setup = (json: unknown) => request(fresh.url, 'POST', '/api/v1/setup', { json });

  it('creates the admin once; a wrong token, a replay, or a weak password do not', async () => {
    const token = fresh.setupToken;
    expect(token).toBeTruthy();
    if (!token) return;
    const me = MeReplySchema.parse((await request(fresh.url, 'GET', '/api/v1/me')).json);
    expect(me.setupPending).toBe(true);

    const wrong = await setup({ token: 'x'.repeat(token.length), ...ADMIN });
    expect([wrong.status, codeOf(wrong)]).toEqual([403, 'SETUP_INVALID']);
    const weak = await setup({ token, login: 'boss', password: '12345678' });
    expect(weak.status).toBe(422);
    // The refused account did not use up the link.
    const ok = await setup({ token, ...ADMIN });
    expect(ok.status, ok.text).toBe(200);
    const adminJwt = LoginReplySchema.parse(ok.json).token;
    const again = await setup({ token, login: 'second', password: 'another passphrase' });
    expect([again.status, codeOf(again)]).toEqual([403, 'SETUP_INVALID']);

    const after = MeReplySchema.parse(
      (
        await request(fresh.url, 'GET', '/api/v1/me', {
          headers: { authorization: `Bearer ${adminJwt}` },
        })
      ).json,
    );
    expect(after).toMatchObject({ setupPending: false, user: { login: 'root', role: 'admin' } });
    expect(await fresh.store.getUserByLogin('second')).toBeNull();
  });
});

describe('AUTH_MODE=open', () => {
  it('needs no token; admin routes are open', async () => {
    const open = await startTestOrchestrator({});
    try {
      const me = MeReplySchema.parse((await request(open.url, 'GET', '/api/v1/me')).json);
      expect(me.mode).toBe('open');
      const res = await request(open.url, 'PUT', '/api/v1/settings', { json: { additionMs: 3 } });
      expect(res.status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
