/**
 * The edge, as a client can try it: sign-in locks an attacker would use against the owner, and
 * sessions that must end (sign-out, password change, an admin disabling or deleting a user,
 * expiry) — over HTTP and on both Socket.IO namespaces. A real orchestrator on port 0
 * (AUTH_MODE=accounts), real HTTP and real socket.io-clients. `X-Forwarded-For` stands for
 * "another address": the app trusts it from loopback, where the test connects from.
 */
import { SignJWT } from 'jose';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  LoginReplySchema,
  PasswordReplySchema,
  RegisterReplySchema,
  UserReplySchema,
  UsersReplySchema,
  type ServerToUiEvents,
  type UiToServerEvents,
} from '@expressionist/core';
import {
  manualAgent,
  request,
  waitFor,
  type HttpAnswer,
  type ManualAgent,
} from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

const SECRET = 'sessions-test-secret-long-enough-0123456789';
const ADMIN = { login: 'root', password: 'correct horse battery' };
const PASSWORD = 'a good passphrase';
const ErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const codeOf = (a: HttpAnswer): string => ErrorSchema.parse(a.json).error.code;

type UiSocket = Socket<ServerToUiEvents, UiToServerEvents>;
const open: { close(): void }[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

let orch: TestOrchestrator;
let adminDevice: string;
beforeAll(async () => {
  orch = await startTestOrchestrator({
    AUTH_MODE: 'accounts',
    ADMIN_LOGIN: ADMIN.login,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET: SECRET,
    LOGIN_FREE_FAILURES: '2',
    // Locks last long enough to look at them (they never lapse within the suite); how locks
    // lapse and double is sign-in-rules.test.ts's, with a fake clock.
    LOGIN_FIRST_LOCK_S: '60',
  });
  // The admin's laptop: attackers lock "root" below, and its owner keeps signing in from here.
  adminDevice = (await signIn(ADMIN)).deviceToken;
});
afterAll(async () => orch.close());

let addresses = 0;
/** A fresh address per call (registrations and failures are limited per address). */
const nextAddress = (): string => `198.51.100.${(addresses += 1)}`;

/** `POST /api/v1/login` from `address`, with a device token when given (raw fetch: headers). */
function login(
  body: { login: string; password: string; deviceToken?: string },
  address = nextAddress(),
): Promise<Response> {
  return fetch(`${orch.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify(body),
  });
}

async function signIn(
  body: { login: string; password: string; deviceToken?: string },
  address?: string,
): Promise<z.infer<typeof LoginReplySchema>> {
  const res = await login(body, address);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return LoginReplySchema.parse(JSON.parse(text));
}

async function register(name: string): Promise<{ id: string; token: string }> {
  const reg = await request(orch.url, 'POST', '/api/v1/register', {
    json: { login: name, password: PASSWORD },
    headers: { 'x-forwarded-for': nextAddress() },
  });
  expect(reg.status, reg.text).toBe(200);
  const id = RegisterReplySchema.parse(reg.json).user.id;
  return { id, token: (await signIn({ login: name, password: PASSWORD })).token };
}

function call(method: string, url: string, token?: string, json?: unknown): Promise<HttpAnswer> {
  return request(orch.url, method, url, {
    json,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

/** A connected dashboard socket (rejects when the handshake is refused). */
async function dashboard(token: string): Promise<UiSocket> {
  const socket: UiSocket = io(`${orch.url}/ui`, {
    auth: { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  open.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** A browser-tab agent signed in with a user's token, registered with the scheduler. */
async function tabAgent(id: string, token: string): Promise<ManualAgent> {
  const agent = await manualAgent(orch.url, id, 1, token);
  open.push(agent.socket);
  await waitFor(
    () => orch.scheduler.views.agentView(id)?.status === 'active',
    5000,
    `${id} joined`,
  );
  return agent;
}

/** Resolves when the server disconnects `socket` (not when the test closes it). */
function cutOff(socket: { once(event: 'disconnect', fn: (reason: string) => void): unknown }) {
  return new Promise<string>((resolve) => socket.once('disconnect', resolve));
}

/** The admin signs in from their laptop (a known device: never locked by others' guesses). */
function adminSignIn(): Promise<z.infer<typeof LoginReplySchema>> {
  return signIn({ ...ADMIN, deviceToken: adminDevice });
}

async function adminToken(): Promise<string> {
  return (await adminSignIn()).token;
}

/**
 * Guesses wrong passwords for `login` (from a new address each time, with `deviceToken` when
 * given) until the lock answers: the login (or the device token) is then locked for a minute.
 * Returns every status seen.
 */
async function lockOut(login: string, deviceToken?: string): Promise<number[]> {
  const statuses: number[] = [];
  while (statuses.at(-1) !== 429 && statuses.length < 10) {
    const password = `guess number ${statuses.length}`;
    const res = await login_({ login, password, ...(deviceToken ? { deviceToken } : {}) });
    statuses.push(res.status);
  }
  return statuses;
}
const login_ = (body: { login: string; password: string; deviceToken?: string }) =>
  login(body, `203.0.113.${addresses++ % 250}`);

// ---------------------------------------------------------------------------------------------

describe('sign-in the attacker cannot block', () => {
  it('the admin signs in from a known device while an attacker keeps the login locked', async () => {
    // The admin signed in on this laptop before: it holds a device token for "root".
    const { deviceToken } = await signIn(ADMIN, '192.0.2.10');
    // The attacker guesses from addresses of their own until the login is locked: two failures
    // are free (LOGIN_FREE_FAILURES), the third locks it.
    expect(await lockOut('root')).toEqual([401, 401, 401, 429]);
    // Unknown devices stay locked out, even with the right password.
    expect((await login(ADMIN, '192.0.2.11')).status).toBe(429);
    // The owner's laptop is not: during the lockout, from the attacker's own address even.
    const known = await signIn({ ...ADMIN, deviceToken }, '203.0.113.0');
    expect((await call('GET', '/api/v1/me', known.token)).status).toBe(200);
    // Signing in from the known device does not lift the lock the attacker is under.
    expect((await login(ADMIN, '192.0.2.12')).status).toBe(429);
    // Each sign-in hands out a fresh device token that works as well.
    await signIn({ ...ADMIN, deviceToken: known.deviceToken }, '192.0.2.13');
  });

  it('a locked login answers the same 429 for the right and a wrong password', async () => {
    const victim = 'lockvictim';
    await register(victim);
    await register('lockother');
    const someoneElses = (await signIn({ login: 'lockother', password: PASSWORD })).deviceToken;
    await lockOut(victim);
    const answers = await Promise.all(
      [
        { login: victim, password: PASSWORD },
        { login: victim, password: 'definitely wrong' },
        // A device token of another login, or a forged one, is no device token at all.
        { login: victim, password: PASSWORD, deviceToken: someoneElses },
        { login: victim, password: PASSWORD, deviceToken: `${someoneElses.slice(0, -4)}AAAA` },
      ].map(async (body) => {
        const res = await login(body);
        const text = await res.text();
        return { status: res.status, retry: res.headers.get('retry-after') !== null, text };
      }),
    );
    // Identical but for the seconds left, which tick on between the answers.
    const shapes = answers.map((a) => ({ ...a, text: a.text.replace(/\d+/g, 'N') }));
    expect(shapes[0]).toMatchObject({ status: 429, retry: true });
    expect(ErrorSchema.parse(JSON.parse(answers[0]?.text ?? '')).error.code).toBe('RATE_LIMITED');
    for (const shape of shapes) expect(shape).toEqual(shapes[0]);
  });

  it('a device token used for guessing locks itself, and only itself', async () => {
    const owner = 'devowner';
    await register(owner);
    const laptop = (await signIn({ login: owner, password: PASSWORD })).deviceToken;
    const phone = (await signIn({ login: owner, password: PASSWORD })).deviceToken;
    expect(await lockOut(owner, laptop)).toContain(429);
    expect((await login({ login: owner, password: PASSWORD, deviceToken: laptop })).status).toBe(
      429,
    );
    // The other device, and unknown devices, were never charged for it.
    await signIn({ login: owner, password: PASSWORD, deviceToken: phone });
    await signIn({ login: owner, password: PASSWORD });
  });

  it('a device token is no session token, and a session token no device token', async () => {
    const { token, deviceToken } = await adminSignIn();
    expect((await call('GET', '/api/v1/expressions', deviceToken)).status).toBe(401);
    const guesser = 'devguess';
    await register(guesser);
    await lockOut(guesser);
    expect((await login({ login: guesser, password: PASSWORD, deviceToken: token })).status).toBe(
      429,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('sessions end', () => {
  it('logout revokes that token only: API 401, its dashboard and tab agent cut off', async () => {
    const dora = await register('dora');
    const other = (await signIn({ login: 'dora', password: PASSWORD })).token;
    const ui = await dashboard(dora.token);
    const agent = await tabAgent('dora-tab', dora.token);
    const otherUi = await dashboard(other);
    const uiCut = cutOff(ui);
    const agentCut = cutOff(agent.socket);

    const out = await call('POST', '/api/v1/logout', dora.token);
    expect(out.status, out.text).toBe(200);
    expect(out.json).toEqual({ ok: true });
    expect(await uiCut).toBe('io server disconnect');
    expect(await agentCut).toBe('io server disconnect');
    await waitFor(
      () => orch.scheduler.views.agentView('dora-tab')?.status === 'lost',
      5000,
      'tab lost',
    );
    const after = await call('GET', '/api/v1/expressions', dora.token);
    expect([after.status, codeOf(after)]).toEqual([401, 'UNAUTHENTICATED']);
    expect((await call('POST', '/api/v1/logout', dora.token)).status).toBe(401);
    await expect(dashboard(dora.token)).rejects.toThrow(/session has ended/);
    // The same user's other session goes on.
    expect((await call('GET', '/api/v1/expressions', other)).status).toBe(200);
    expect(otherUi.connected).toBe(true);
    // The sign-out is in the store (every instance, and this one after a restart, reads it).
    expect(await orch.store.isTokenRevoked(tokenId(dora.token))).toBe(true);
  });

  it('a password change ends every other session; this one goes on with a new token', async () => {
    const eve = await register('evelyn');
    const stolen = (await signIn({ login: 'evelyn', password: PASSWORD })).token;
    const thiefUi = await dashboard(stolen);
    const thiefAgent = await tabAgent('thief-tab', stolen);
    const cuts = [cutOff(thiefUi), cutOff(thiefAgent.socket)];

    const wrong = await call('POST', '/api/v1/password', eve.token, {
      currentPassword: 'not it at all',
      newPassword: 'a brand new passphrase',
    });
    expect([wrong.status, codeOf(wrong)]).toEqual([403, 'PASSWORD_WRONG']);
    const weak = await call('POST', '/api/v1/password', eve.token, {
      currentPassword: PASSWORD,
      newPassword: '123456789',
    });
    expect([weak.status, codeOf(weak)]).toEqual([422, 'ACCOUNT_INVALID']);
    expect(thiefUi.connected).toBe(true);

    const changed = await call('POST', '/api/v1/password', eve.token, {
      currentPassword: PASSWORD,
      newPassword: 'a brand new passphrase',
    });
    expect(changed.status, changed.text).toBe(200);
    const fresh = PasswordReplySchema.parse(changed.json).token;
    expect(await Promise.all(cuts)).toEqual(['io server disconnect', 'io server disconnect']);
    expect((await call('GET', '/api/v1/expressions', stolen)).status).toBe(401);
    expect((await call('GET', '/api/v1/expressions', eve.token)).status).toBe(401);
    expect((await call('GET', '/api/v1/expressions', fresh)).status).toBe(200);
    await dashboard(fresh);
    expect((await login({ login: 'evelyn', password: PASSWORD })).status).toBe(401);
    await signIn({ login: 'evelyn', password: 'a brand new passphrase' });
  });

  it('guessing the current password with a stolen session locks the password change', async () => {
    const fay = await register('fayfay');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1)
      statuses.push(
        (
          await call('POST', '/api/v1/password', fay.token, {
            currentPassword: `guess ${i}`,
            newPassword: 'a brand new passphrase',
          })
        ).status,
      );
    expect(statuses.slice(0, 2)).toEqual([403, 403]);
    expect(statuses).toContain(429);
  });

  it('an admin disables a user: sessions, sockets, agents and unfinished work end at once', async () => {
    const admin = await adminToken();
    const gus = await register('gustav');
    const ui = await dashboard(gus.token);
    const agent = await tabAgent('gus-tab', gus.token);
    const cuts = [cutOff(ui), cutOff(agent.socket)];
    // Unfinished work: an expression nobody computes (the tab agent never answers).
    const submitted = await call('POST', '/api/v1/calculate', gus.token, { expression: '1+2+3' });
    expect(submitted.status, submitted.text).toBe(201);
    const exprId = z.object({ id: z.string() }).parse(submitted.json).id;

    const disabled = await call('POST', `/api/v1/users/${gus.id}/disable`, admin);
    expect(disabled.status, disabled.text).toBe(200);
    expect(UserReplySchema.parse(disabled.json).user).toMatchObject({ disabled: true });
    expect(await Promise.all(cuts)).toEqual(['io server disconnect', 'io server disconnect']);
    expect(orch.scheduler.views.agentView('gus-tab')?.status).toBe('lost');
    const expr = await call('GET', `/api/v1/expressions/${exprId}`, admin);
    expect(z.object({ expression: z.object({ status: z.string() }) }).parse(expr.json)).toEqual({
      expression: expect.objectContaining({ status: 'canceled' }),
    });
    expect((await call('GET', '/api/v1/expressions', gus.token)).status).toBe(401);
    // Disabled: the right password learns so, a wrong one learns nothing.
    const right = await login({ login: 'gustav', password: PASSWORD });
    expect(right.status).toBe(403);
    expect(ErrorSchema.parse(await right.json()).error.code).toBe('ACCOUNT_DISABLED');
    expect((await login({ login: 'gustav', password: 'wrong password!' })).status).toBe(401);
    const listed = UsersReplySchema.parse((await call('GET', '/api/v1/users', admin)).json).users;
    expect(listed.find((u) => u.id === gus.id)).toMatchObject({ login: 'gustav', disabled: true });

    const enabled = await call('POST', `/api/v1/users/${gus.id}/enable`, admin);
    expect(UserReplySchema.parse(enabled.json).user.disabled).toBe(false);
    // Enabling does not bring the old sessions back; signing in again works.
    expect((await call('GET', '/api/v1/expressions', gus.token)).status).toBe(401);
    const again = await signIn({ login: 'gustav', password: PASSWORD });
    expect((await call('GET', '/api/v1/expressions', again.token)).status).toBe(200);
  });

  it('an admin deletes a user: cut off at once; the login is free, the old token stays dead', async () => {
    const admin = await adminToken();
    const hal = await register('halvard');
    const ui = await dashboard(hal.token);
    const cut = cutOff(ui);
    const deleted = await call('DELETE', `/api/v1/users/${hal.id}`, admin);
    expect([deleted.status, deleted.json]).toEqual([200, { deleted: hal.id }]);
    expect(await cut).toBe('io server disconnect');
    expect((await call('GET', '/api/v1/expressions', hal.token)).status).toBe(401);
    expect((await login({ login: 'halvard', password: PASSWORD })).status).toBe(401);
    expect((await call('DELETE', `/api/v1/users/${hal.id}`, admin)).status).toBe(404);
    // Someone registers the login again: a new account, which the old token does not reach.
    const reborn = await register('halvard');
    expect(reborn.id).not.toBe(hal.id);
    expect((await call('GET', '/api/v1/expressions', hal.token)).status).toBe(401);
  });

  it('users admin: only admins, never on oneself, 404 for unknown ids', async () => {
    const admin = await adminToken();
    const ivy = await register('ivyivy');
    for (const [method, url] of [
      ['GET', '/api/v1/users'],
      ['POST', `/api/v1/users/${ivy.id}/disable`],
      ['POST', `/api/v1/users/${ivy.id}/enable`],
      ['DELETE', `/api/v1/users/${ivy.id}`],
    ] as const) {
      const res = await call(method, url, ivy.token);
      expect([res.status, codeOf(res)], `${method} ${url}`).toEqual([403, 'FORBIDDEN']);
      expect((await call(method, url)).status).toBe(401);
    }
    const rootId = z
      .object({ user: z.object({ id: z.string() }) })
      .parse((await call('GET', '/api/v1/me', admin)).json).user.id;
    for (const [method, url] of [
      ['POST', `/api/v1/users/${rootId}/disable`],
      ['DELETE', `/api/v1/users/${rootId}`],
    ] as const) {
      const res = await call(method, url, admin);
      expect([res.status, codeOf(res)]).toEqual([409, 'USER_SELF']);
    }
    const missing = await call('POST', '/api/v1/users/u-nobody/disable', admin);
    expect([missing.status, codeOf(missing)]).toEqual([404, 'USER_NOT_FOUND']);
  });

  it('the role is read from the store, not from the token', async () => {
    const jo = await register('jojojo');
    const claims = decode(jo.token);
    const promoted = await sign({ ...claims, role: 'admin' }, Math.floor(Date.now() / 1000) + 600);
    expect((await call('GET', '/api/v1/expressions', promoted)).status).toBe(200);
    const res = await call('GET', '/api/v1/users', promoted);
    expect([res.status, codeOf(res)]).toEqual([403, 'FORBIDDEN']);
  });

  it("an expired token's dashboard and tab agent are cut off when it expires", async () => {
    const kim = await register('kimkim');
    // The same session, signed to expire in two seconds (JWT_TTL_S is at least a minute).
    const soon = await sign(decode(kim.token), Math.floor(Date.now() / 1000) + 2);
    const ui = await dashboard(soon);
    const agent = await tabAgent('kim-tab', soon);
    const cuts = [cutOff(ui), cutOff(agent.socket)];
    expect(ui.connected && agent.socket.connected).toBe(true);
    expect(await Promise.all(cuts)).toEqual(['io server disconnect', 'io server disconnect']);
    await waitFor(
      () => orch.scheduler.views.agentView('kim-tab')?.status === 'lost',
      5000,
      'tab lost',
    );
    // The unexpired token of the same session still works.
    expect((await call('GET', '/api/v1/expressions', kim.token)).status).toBe(200);
  });

  it('tokens without a session id or epoch are refused', async () => {
    const lee = await register('leelee');
    const bare: Record<string, unknown> = { ...decode(lee.token) };
    delete bare.jti;
    delete bare.sv;
    const exp = Math.floor(Date.now() / 1000) + 600;
    expect((await call('GET', '/api/v1/expressions', await sign(bare, exp))).status).toBe(401);
    const otherEpoch = await sign({ ...decode(lee.token), sv: 1 }, exp);
    expect((await call('GET', '/api/v1/expressions', otherEpoch)).status).toBe(401);
  });
});

// ------------------------------------------------------------------ tokens

const ClaimsSchema = z.looseObject({ sub: z.string(), jti: z.string(), sv: z.number() });

function decode(token: string): z.infer<typeof ClaimsSchema> {
  return ClaimsSchema.parse(
    JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()),
  );
}

function tokenId(token: string): string {
  return decode(token).jti;
}

/** Signs `claims` with the orchestrator's secret, as if it had issued them, expiring at `exp`. */
function sign(claims: Record<string, unknown>, exp: number): Promise<string> {
  const rest = { ...claims };
  delete rest.exp;
  delete rest.iat;
  return new SignJWT(rest)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(SECRET));
}
