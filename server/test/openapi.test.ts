import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApp } from '../src/http/app.js';
import { buildOpenApiDocument, type OpenApiDocument } from '../src/http/openapi.js';
import { Metrics } from '../src/metrics.js';
import { loadConfig } from '../src/config.js';
import { answerHonestly, api, manualAgent, request, tempDir } from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

// ------------------------------------------------------------------ the app's real routes

/** What the test reads of an Express 5 router layer (validated: Express does not type it). */
const LayerSchema = z.object({
  rawPath: z.union([z.string(), z.instanceof(RegExp)]).optional(),
  route: z
    .object({
      path: z.union([z.string(), z.instanceof(RegExp)]),
      methods: z.record(z.string(), z.boolean()),
    })
    .optional(),
  handle: z.unknown(),
});

/** A router's layers, or undefined for a handler that is no router (routers are functions). */
function stackOf(handle: unknown): unknown[] | undefined {
  if (typeof handle !== 'function' && (typeof handle !== 'object' || handle === null)) return;
  return 'stack' in handle && Array.isArray(handle.stack) ? handle.stack : undefined;
}

/** `METHOD /path` for every route a router mounts, sub-routers included. */
function mountedRoutes(router: unknown, prefix = ''): string[] {
  const routes: string[] = [];
  for (const raw of stackOf(router) ?? []) {
    const layer = LayerSchema.parse(raw);
    if (layer.route) {
      const { path: routePath } = layer.route;
      for (const method of Object.keys(layer.route.methods)) {
        // The dashboard's client-side routes (a RegExp) all answer with the app shell at `/`.
        const documented = routePath instanceof RegExp ? '/' : prefix + routePath;
        routes.push(`${method.toUpperCase()} ${documented}`);
      }
      continue;
    }
    if (stackOf(layer.handle) && typeof layer.rawPath === 'string') {
      const mount = layer.rawPath === '/' ? '' : layer.rawPath;
      routes.push(...mountedRoutes(layer.handle, prefix + mount));
    }
  }
  return routes;
}

/** `METHOD /path` for every operation of the document, `{id}` written the Express way. */
function documentedRoutes(doc: OpenApiDocument): string[] {
  return Object.entries(doc.paths).flatMap(([template, operations]) =>
    Object.keys(operations).map(
      (method) => `${method.toUpperCase()} ${template.replace(/\{(\w+)\}/g, ':$1')}`,
    ),
  );
}

// ------------------------------------------------------------------ validating real responses

const doc = buildOpenApiDocument();
const ajv = new Ajv2020({
  strict: true,
  allErrors: true,
  // `pattern` already pins the timestamp format; ajv needs to know the name only.
  formats: { 'date-time': true },
});
// The document's own keys are not JSON Schema keywords; only its schemas are compiled.
ajv.addVocabulary(['openapi', 'info', 'tags', 'paths', 'components']);
ajv.addSchema(doc, 'openapi.json');

const pointer = (...parts: string[]): string =>
  parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** Asserts that the document has this response and that `body` matches its schema. */
function conforms(
  method: string,
  template: string,
  status: number,
  body: unknown,
  mediaType = 'application/json',
): void {
  const operation = doc.paths[template]?.[method.toLowerCase()];
  expect(operation, `${method} ${template} is documented`).toBeDefined();
  const responses = z.record(z.string(), z.unknown()).parse(operation?.responses);
  expect(Object.keys(responses), `${method} ${template} documents status ${status}`).toContain(
    String(status),
  );
  const ref = `openapi.json#/${pointer('paths', template, method.toLowerCase(), 'responses', String(status), 'content', mediaType, 'schema')}`;
  const validate = ajv.getSchema(ref);
  expect(validate, `${ref} exists`).toBeDefined();
  if (!validate) return;
  const ok = validate(body);
  expect(
    ok,
    `${method} ${template} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`,
  ).toBe(true);
}

let orch: TestOrchestrator;
let client: ReturnType<typeof api>;

beforeAll(async () => {
  orch = await startTestOrchestrator({ BODY_LIMIT_BYTES: '4096' });
  client = api(orch.url);
});
afterAll(async () => orch.close());

/** A call through the JSON client, checked against the document. */
async function call(
  method: string,
  template: string,
  opts: { id?: string; query?: string; body?: unknown; raw?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url =
    template.replace('{id}', encodeURIComponent(opts.id ?? '')) +
    (opts.query ? `?${opts.query}` : '');
  const res = await client.call(method, url, opts.body, opts.raw);
  conforms(method, template, res.status, res.body);
  return res;
}

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 and its schemas compile as JSON Schema 2020-12', () => {
    expect(doc.openapi).toBe('3.1.0');
    for (const name of Object.keys(doc.components.schemas)) {
      expect(ajv.getSchema(`openapi.json#/components/schemas/${name}`), name).toBeDefined();
    }
  });

  it('documents every route the Express app mounts, and no other', () => {
    const web = tempDir('expr-openapi-web-');
    try {
      mkdirSync(web.dir, { recursive: true });
      writeFileSync(path.join(web.dir, 'index.html'), '<!doctype html>');
      const build = (webDir: string | undefined) =>
        createApp({
          scheduler: orch.scheduler,
          store: orch.store,
          metrics: new Metrics(),
          log: pino({ level: 'silent' }),
          auth: orch.auth,
          config: { auth: loadConfig({}).auth, host: '127.0.0.1', trustedProxies: ['loopback'] },
          bodyLimitBytes: 4096,
          courseTaskId: 'auto',
          webDir,
        });
      // Both shapes the app takes: without a built dashboard, and with one.
      const mounted = new Set([
        ...mountedRoutes(build(undefined).router),
        ...mountedRoutes(build(web.dir).router),
      ]);
      expect([...mounted].sort()).toEqual(documentedRoutes(doc).sort());
    } finally {
      web.remove();
    }
  });
});

describe('real responses match the document', () => {
  it('the course protocol: lease, answer, errors', async () => {
    // Before any socket agent connects, the HTTP agent gets the work.
    const none = await call('GET', '/internal/task');
    expect(none.status).toBe(404);
    const id = await client.submit('2+3');
    const leased = await call('GET', '/internal/task');
    expect(leased.status).toBe(200);
    const task = z.object({ id: z.number() }).parse(leased.body.task);
    expect((await call('POST', '/internal/task', { body: { id: 'x', result: 5 } })).status).toBe(
      422,
    );
    expect(
      (await call('POST', '/internal/task', { body: { id: task.id, result: 5 } })).status,
    ).toBe(200);
    expect(
      (await call('POST', '/internal/task', { body: { id: task.id, result: 5 } })).status,
    ).toBe(404);
    expect((await client.finished(id)).value).toBe('5');
  });

  it('the REST API, success and error answers', async () => {
    const agent = await manualAgent(orch.url, 'openapi-agent', 4);
    answerHonestly(agent);
    try {
      const created = await call('POST', '/api/v1/calculate', {
        body: { expression: '(1+2)*3-4/2', id: 'openapi-1' },
      });
      expect(created.status).toBe(201);
      expect(
        (
          await call('POST', '/api/v1/calculate', {
            body: { expression: '(1+2)*3-4/2', id: 'openapi-1' },
          })
        ).status,
      ).toBe(200);
      expect(
        (await call('POST', '/api/v1/calculate', { body: { expression: '1', id: 'openapi-1' } }))
          .status,
      ).toBe(409);
      expect(
        (await call('POST', '/api/v1/calculate', { body: { expression: '2 * (3 + )' } })).status,
      ).toBe(422);
      expect((await call('POST', '/api/v1/calculate', { body: { expression: 42 } })).status).toBe(
        400,
      );
      expect((await call('POST', '/api/v1/calculate', { raw: '{"expression": ' })).status).toBe(
        400,
      );
      expect(
        (await call('POST', '/api/v1/calculate', { body: { expression: '1+'.repeat(4000) + '1' } }))
          .status,
      ).toBe(413);
      const divZero = await client.submit('1/(2-2)');

      await client.finished('openapi-1');
      await client.finished(divZero);
      for (const id of ['openapi-1', divZero]) {
        expect((await call('GET', '/api/v1/expressions/{id}', { id })).status).toBe(200);
        expect((await call('GET', '/api/v1/expressions/{id}/operations', { id })).status).toBe(200);
      }
      expect((await call('GET', '/api/v1/expressions/{id}', { id: 'nope' })).status).toBe(404);
      expect(
        (await call('GET', '/api/v1/expressions/{id}/operations', { id: 'nope' })).status,
      ).toBe(404);
      expect(
        (await call('POST', '/api/v1/expressions/{id}/cancel', { id: 'openapi-1' })).status,
      ).toBe(409);
      expect((await call('POST', '/api/v1/expressions/{id}/cancel', { id: 'nope' })).status).toBe(
        404,
      );

      const first = await call('GET', '/api/v1/expressions', { query: 'limit=1' });
      expect(first.status).toBe(200);
      const cursor = z.string().parse(first.body.nextCursor);
      expect((await call('GET', '/api/v1/expressions', { query: `cursor=${cursor}` })).status).toBe(
        200,
      );
      expect((await call('GET', '/api/v1/expressions', { query: 'limit=0' })).status).toBe(400);
      expect((await call('GET', '/api/v1/expressions', { query: 'cursor=bogus' })).status).toBe(
        400,
      );

      expect((await call('GET', '/api/v1/settings')).status).toBe(200);
      expect((await call('PUT', '/api/v1/settings', { body: { additionMs: 0 } })).status).toBe(200);
      expect((await call('PUT', '/api/v1/settings', { body: { additionMs: -1 } })).status).toBe(
        422,
      );
      expect((await call('PUT', '/api/v1/settings', { body: [1] })).status).toBe(400);
      expect((await call('GET', '/api/v1/agents')).status).toBe(200);
      expect((await call('GET', '/api/v1/openapi.json')).status).toBe(200);
    } finally {
      agent.socket.close();
    }
  });

  it('a canceled expression', async () => {
    // No agent is connected here: the expression waits, so it can be canceled.
    const id = await client.submit('1+2+3+4');
    expect((await call('POST', '/api/v1/expressions/{id}/cancel', { id })).status).toBe(200);
    expect((await call('GET', '/api/v1/expressions/{id}', { id })).status).toBe(200);
  });

  it('health, readiness, metrics and the root', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
    for (const [template, mediaType] of [
      ['/metrics', 'text/plain'],
      ['/', 'text/plain'],
    ] as const) {
      const res = await fetch(orch.url + template);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(mediaType);
      conforms('GET', template, res.status, await res.text(), mediaType);
    }
  });
});

describe('accounts: real responses match the document', () => {
  let accounts: TestOrchestrator;
  beforeAll(async () => {
    accounts = await startTestOrchestrator({
      AUTH_MODE: 'accounts',
      ADMIN_LOGIN: 'root',
      ADMIN_PASSWORD: 'correct horse battery',
      LOGIN_FREE_FAILURES: '1',
    });
  });
  afterAll(async () => accounts.close());

  async function as(
    token: string | undefined,
    method: string,
    template: string,
    opts: { id?: string; body?: unknown } = {},
  ): Promise<{ status: number; json: unknown }> {
    const url = template.replace('{id}', encodeURIComponent(opts.id ?? ''));
    const res = await request(accounts.url, method, url, {
      json: opts.body,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    conforms(method, template, res.status, res.json);
    return res;
  }
  const tokenOf = (json: unknown): string => z.object({ token: z.string() }).parse(json).token;

  it('register, login, me, setup, credentials, kick, 401/403/429', async () => {
    const body = { login: 'docuser', password: 'a good passphrase' };
    expect((await as(undefined, 'POST', '/api/v1/register', { body })).status).toBe(200);
    expect((await as(undefined, 'POST', '/api/v1/register', { body })).status).toBe(409);
    const weak = { login: 'other', password: '123456789' };
    expect((await as(undefined, 'POST', '/api/v1/register', { body: weak })).status).toBe(422);
    const user = tokenOf((await as(undefined, 'POST', '/api/v1/login', { body })).json);
    const adminBody = { login: 'root', password: 'correct horse battery' };
    const admin = tokenOf((await as(undefined, 'POST', '/api/v1/login', { body: adminBody })).json);
    expect((await as(undefined, 'GET', '/api/v1/me')).status).toBe(200);
    expect((await as(user, 'GET', '/api/v1/me')).status).toBe(200);
    expect((await as('forged', 'GET', '/api/v1/me')).status).toBe(401);
    const setup = { ...body, token: 'x'.repeat(32) };
    expect((await as(undefined, 'POST', '/api/v1/setup', { body: setup })).status).toBe(403);

    expect((await as(undefined, 'GET', '/api/v1/expressions')).status).toBe(401);
    expect((await as(user, 'GET', '/api/v1/expressions')).status).toBe(200);
    expect((await as(user, 'PUT', '/api/v1/settings', { body: { additionMs: 1 } })).status).toBe(
      403,
    );
    expect((await as(user, 'GET', '/api/v1/agent-credentials')).status).toBe(403);
    const issued = await as(admin, 'POST', '/api/v1/agent-credentials', { body: { name: 'doc' } });
    expect(issued.status).toBe(201);
    const id = z.object({ credential: z.object({ id: z.string() }) }).parse(issued.json)
      .credential.id;
    expect((await as(admin, 'POST', '/api/v1/agent-credentials', { body: {} })).status).toBe(400);
    expect((await as(admin, 'GET', '/api/v1/agent-credentials')).status).toBe(200);
    expect((await as(admin, 'POST', '/api/v1/agent-credentials/{id}/revoke', { id })).status).toBe(
      200,
    );
    expect(
      (await as(admin, 'POST', '/api/v1/agent-credentials/{id}/revoke', { id: 'nope' })).status,
    ).toBe(404);
    expect((await as(admin, 'POST', '/api/v1/agents/{id}/kick', { id: 'ghost' })).status).toBe(404);
    expect((await as(user, 'POST', '/api/v1/agents/{id}/kick', { id: 'ghost' })).status).toBe(403);

    // Sessions and the users admin.
    const users = await as(admin, 'GET', '/api/v1/users');
    expect(users.status).toBe(200);
    const docId = z
      .object({ users: z.array(z.object({ id: z.string(), login: z.string() })) })
      .parse(users.json)
      .users.find((u) => u.login === 'docuser')?.id;
    expect(docId).toBeDefined();
    expect((await as(user, 'GET', '/api/v1/users')).status).toBe(403);
    expect((await as(admin, 'POST', '/api/v1/users/{id}/disable', { id: 'nope' })).status).toBe(
      404,
    );
    const pw = { currentPassword: body.password, newPassword: 'another good passphrase' };
    expect(
      (await as(user, 'POST', '/api/v1/password', { body: { ...pw, currentPassword: 'nope' } }))
        .status,
    ).toBe(403);
    expect(
      (await as(user, 'POST', '/api/v1/password', { body: { ...pw, newPassword: '123456789' } }))
        .status,
    ).toBe(422);
    const changed = await as(user, 'POST', '/api/v1/password', { body: pw });
    expect(changed.status).toBe(200);
    const second = tokenOf(changed.json);
    expect((await as(second, 'POST', '/api/v1/logout')).status).toBe(200);
    expect((await as(second, 'POST', '/api/v1/logout')).status).toBe(401);
    expect((await as(admin, 'POST', '/api/v1/users/{id}/disable', { id: docId })).status).toBe(200);
    expect((await as(admin, 'POST', '/api/v1/users/{id}/enable', { id: docId })).status).toBe(200);
    expect((await as(admin, 'DELETE', '/api/v1/users/{id}', { id: docId })).status).toBe(200);
    expect((await as(admin, 'DELETE', '/api/v1/users/{id}', { id: docId })).status).toBe(404);

    const wrong = { login: 'docuser', password: 'not the passphrase' };
    expect((await as(undefined, 'POST', '/api/v1/login', { body: wrong })).status).toBe(401);
    expect((await as(undefined, 'POST', '/api/v1/login', { body: wrong })).status).toBe(401);
    expect((await as(undefined, 'POST', '/api/v1/login', { body: wrong })).status).toBe(429);
  });
});
