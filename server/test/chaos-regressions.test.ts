/**
 * Regressions found by the chaos suite (bench/test/chaos.test.ts, `npm run chaos`).
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerHonestly, api, manualAgent, waitFor } from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

let orch: TestOrchestrator;
let client: ReturnType<typeof api>;

beforeAll(async () => {
  orch = await startTestOrchestrator();
  client = api(orch.url);
});
afterAll(async () => orch.close());

describe('the result cache', () => {
  it('points a cached division by zero at the column of the repeat, not of the first spelling', async () => {
    const agent = await manualAgent(orch.url, 'cache-regression-agent', 1);
    answerHonestly(agent);
    try {
      const first = await client.finished(await client.submit('7/(2-2)'));
      expect(first).toMatchObject({
        status: 'error',
        cached: false,
        error: { code: 'EXPR_DIV_ZERO', position: 1 },
      });
      // Same normalized form, other spelling: answered from the cache, at its own '/'.
      const repeat = await client.expression(await client.submit('  7  /  ( 2 - 2 )'));
      expect(repeat).toMatchObject({
        status: 'error',
        cached: true,
        error: { code: 'EXPR_DIV_ZERO', position: 5 },
      });
      expect(repeat.error?.message).toContain('column 6');
      // With several divisions, the same one (the second) is named.
      const slow = await client.finished(await client.submit('1/4/(3-3)'));
      expect(slow.error).toMatchObject({ code: 'EXPR_DIV_ZERO', position: 3 });
      const second = await client.expression(await client.submit('1 / 4 /(3-3)'));
      expect(second).toMatchObject({ cached: true, error: { code: 'EXPR_DIV_ZERO', position: 6 } });
    } finally {
      agent.socket.close();
      await waitFor(
        () => orch.scheduler.views.agentView('cache-regression-agent')?.status !== 'active',
        5000,
        'agent gone',
      );
    }
  });
});

describe('malformed requests are 4xx, never 500', () => {
  it('answers a corrupt gzip or deflate body with 400 BODY_INVALID', async () => {
    for (const encoding of ['gzip', 'deflate']) {
      const res = await fetch(`${orch.url}/api/v1/calculate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body: new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef]),
      });
      expect(res.status, encoding).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BODY_INVALID');
    }
    // A well-formed gzip body is still read.
    const ok = await fetch(`${orch.url}/api/v1/calculate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ expression: '6*7' })),
    });
    expect(ok.status).toBe(201);
  });

  it('answers a path that is not valid percent-encoding with 404 NOT_FOUND', async () => {
    for (const url of ['/api/v1/expressions/%E0%A4%A', '/api/v1/expressions/%ZZ/operations']) {
      const res = await client.call('GET', url);
      expect(res.status, url).toBe(404);
      expect(res.body.error?.code).toBe('NOT_FOUND');
    }
    expect((await client.call('POST', '/api/v1/expressions/%ZZ/cancel')).status).toBe(404);
  });
});
