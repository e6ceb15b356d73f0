import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compile, evaluatePlan } from '@expressionist/core';
import {
  api,
  freePort,
  killAll,
  ROOT,
  spawnAgent,
  tempDir,
  waitFor,
  type AgentProcess,
} from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

const enabled = Boolean(process.env.MONGODB_URI);
if (!enabled)
  console.log(
    'MongoDB outage test skipped: set MONGODB_URI (e.g. eval "$(scripts/ferretdb.sh start)") to enable',
  );

const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** A private FerretDB on its own port and data dir, so the test can kill and restart it. */
function startFerret(bin: string, port: number, dataDir: string): ChildProcess {
  return spawn(
    bin,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dataDir}/`,
      `--listen-addr=127.0.0.1:${port}`,
      '--state-dir=-',
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-level=error',
    ],
    { stdio: 'ignore' },
  );
}

describe.runIf(enabled)('MongoDB going away while running', () => {
  const data = tempDir('expr-ferret-');
  const processes: (AgentProcess | { child: ChildProcess })[] = [];
  let orch: TestOrchestrator | undefined;
  afterAll(async () => {
    // The orchestrator first, while its database is still there: closing a MongoDB client whose
    // server is gone waits on its pending operations (in CI this hook timed out after 60 s).
    await orch?.close();
    await killAll(processes);
    data.remove();
  });

  it('refuses submissions with 503, keeps serving reads, reconnects and loses nothing', async () => {
    const bin = execFileSync(path.join(ROOT, 'scripts/ferretdb.sh'), ['bin'], {
      encoding: 'utf8',
    }).trim();
    const port = await freePort();
    processes.push({ child: startFerret(bin, port, data.dir) });
    await waitFor(() => portOpen(port), 30_000, 'ferretdb');
    orch = await startTestOrchestrator({
      MONGODB_URI: `mongodb://127.0.0.1:${port}/`,
      MONGODB_DB: `exprtest_outage_${process.pid}`,
      TIME_ADDITION_MS: '250',
    });
    const client = api(orch.url);
    processes.push(spawnAgent(orch.url, { concurrency: 2 }));
    const source = Array.from({ length: 24 }, (_, i) => String(i + 1)).join('+');
    const id = await client.submit(source);
    await waitFor(async () => (await client.expression(id)).progress.done >= 3, 20_000, 'progress');

    processes[0]!.child.kill('SIGKILL');
    const refused = await client.call('POST', '/api/v1/calculate', { expression: '1+1' });
    expect(refused.status).toBe(503);
    expect(refused.body.error?.code).toBe('STORE_UNAVAILABLE');
    expect((await client.call('GET', '/readyz')).status).toBe(503);
    // A live expression is still readable from memory.
    const live = await client.call('GET', `/api/v1/expressions/${id}`);
    expect(live.status).toBe(200);

    processes.push({ child: startFerret(bin, port, data.dir) });
    await waitFor(() => portOpen(port), 30_000, 'ferretdb back');
    const view = await client.finished(id, 60_000);
    expect(view.value).toBe(evaluatePlan(compile(source).plan));
    await waitFor(
      async () => (await client.call('GET', '/readyz')).status === 200,
      20_000,
      'ready again',
    );
    const accepted = await client.call('POST', '/api/v1/calculate', { expression: '2+2' });
    expect(accepted.status).toBe(201);
    const results = await orch.store.getOpResults(id);
    expect(results).toHaveLength(compile(source).plan.ops.length);
  });
});
