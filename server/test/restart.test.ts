import { afterAll, describe, expect, it } from 'vitest';
import { compile, evaluatePlan } from '@expressionist/core';
import { MongoStore } from '../src/store/mongo-store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { Store } from '../src/store/store.js';
import {
  api,
  freePort,
  killAll,
  spawnAgent,
  tempDir,
  spawnOrchestrator,
  waitFor,
  type AgentProcess,
  type OrchestratorProcess,
} from '@expressionist/testkit';

const data = tempDir('expr-restart-');
const processes: (AgentProcess | OrchestratorProcess)[] = [];
afterAll(async () => {
  await killAll(processes);
  data.remove();
});

const mongoUri = process.env.MONGODB_URI;
const mongoDb = `exprtest_restart_${process.pid}_${Date.now()}`;
const stores: { name: string; env: Record<string, string>; open: () => Store }[] = [
  // An empty MONGODB_URI means unset, whatever the test runner's environment holds.
  { name: 'embedded store', env: { MONGODB_URI: '' }, open: () => new SqliteStore(data.dir) },
];
if (mongoUri) {
  stores.push({
    name: 'MongoDB store',
    env: { MONGODB_URI: mongoUri, MONGODB_DB: mongoDb },
    open: () => new MongoStore(mongoUri, mongoDb),
  });
} else {
  console.log(
    'MongoDB restart test skipped: set MONGODB_URI (e.g. eval "$(scripts/ferretdb.sh start)") to enable',
  );
}

describe.each(stores)('orchestrator SIGKILL and restart ($name)', ({ env: storeEnv, open }) => {
  it('loses no accepted expression and records each operation once', async () => {
    const port = await freePort();
    const env = {
      ...storeEnv,
      PORT: String(port),
      DATA_DIR: data.dir,
      TIME_ADDITION_MS: '150',
      TIME_MULTIPLICATIONS_MS: '150',
      TIME_SUBTRACTION_MS: '150',
      TIME_DIVISIONS_MS: '150',
    };
    const first = await spawnOrchestrator({ env });
    processes.push(first);
    const client = api(first.url);
    const sources = [
      Array.from({ length: 40 }, (_, i) => String(i + 1)).join('+'),
      '(1.5*2+3)*(4-5)/(6+7)-8*9',
      Array.from({ length: 20 }, (_, i) => `${i + 1}*${i + 2}`).join('-'),
      '2*3*4*5*6*7*8*9*10',
    ];
    const ids = await Promise.all(sources.map((s) => client.submit(s)));
    // The agent keeps running across the restart: it reconnects by itself.
    const agent = spawnAgent(first.url, { concurrency: 2, name: 'survivor' });
    processes.push(agent);
    await waitFor(
      async () => {
        const views = await Promise.all(ids.map((id) => client.expression(id)));
        return views.reduce((sum, v) => sum + v.progress.done, 0) >= 10;
      },
      20_000,
      'some progress',
    );
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await spawnOrchestrator({ env });
    processes.push(second);
    // Logged before it listens; the pipe may deliver it a moment after /readyz answered.
    await waitFor(
      () => second.output().includes('resumed unfinished expressions'),
      5000,
      'the resume log line',
    );
    const client2 = api(second.url);
    for (const [i, id] of ids.entries()) {
      const view = await client2.finished(id, 60_000);
      expect(view.status).toBe('done');
      expect(view.value).toBe(evaluatePlan(compile(sources[i]!).plan));
    }
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const store = open();
    await store.init();
    for (const [i, id] of ids.entries()) {
      const results = await store.getOpResults(id);
      const opCount = compile(sources[i]!).plan.ops.length;
      expect(results).toHaveLength(opCount);
      expect(new Set(results.map((r) => r.opId)).size).toBe(opCount);
    }
    if (store instanceof MongoStore) await store.dropDatabase();
    await store.close();
  });
});
