/**
 * Bench 13 — data that stays bounded (issue 22), on the embedded store.
 *
 * (a) Restart time against history: an orchestrator started on a store holding 100,000 finished
 *     expressions (3 operation results each) and 20 unfinished ones, against the same 20 on an
 *     otherwise empty store. Target: ≤ 1.2× — recovery reads only unfinished expressions.
 * (c) The same restart on MongoDB when MONGODB_URI is set (FerretDB here): recovery reads the
 *     unfinished expressions by status and their results by expression id, nothing else.
 * (b) Soak: a steady stream of expressions (two local agents, 0-ms operations) with a retention
 *     of a few seconds; the store's expressions, its file size and the orchestrator's RSS are
 *     sampled every 5 s and must plateau (last third vs the middle third, ≤ 1.2×).
 *
 *   node bench/dist/retention.js [--quick]   (BENCH13_ONLY=mongo: case c alone)
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import {
  MongoStore,
  SqliteStore,
  SQLITE_FILE_NAME,
  type Store,
  type StoredOpResult,
} from '@expressionist/server/store';
import { Api, sleep, spawnOrchestrator, tempDir } from '@expressionist/testkit';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { fixed, heading, int, table, verdict } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { rssMiB } from './lib/proc.js';
import { median } from './lib/stats.js';

const UNFINISHED = 20;
const TARGET = 1.2;
const DAY_MS = 86_400_000;

/** Fills `store` with `finished` done expressions and UNFINISHED pending ones, then closes it. */
async function seed(store: Store, finished: number): Promise<void> {
  await store.init();
  const now = Date.now();
  const base = {
    status: 'done' as const,
    error: null,
    opCount: 3,
    cached: false,
    owner: null,
  };
  let results: StoredOpResult[] = [];
  let inserts: Promise<unknown>[] = [];
  for (let i = 0; i < finished; i += 1) {
    const id = `old-${i}`;
    const expression = `(${i}+1)*(${i}+2)`;
    // A few hundred inserts in flight: a network store is seeded in seconds, not minutes.
    if (inserts.length >= 256) {
      await Promise.all(inserts);
      inserts = [];
    }
    inserts.push(
      store.insertExpression({
        ...base,
        id,
        expression,
        normalized: expression,
        value: String((i + 1) * (i + 2)),
        createdAt: now - DAY_MS + i,
        startedAt: now - DAY_MS + i,
        finishedAt: now - DAY_MS + i + 1,
      }),
    );
    for (let op = 0; op < 3; op += 1)
      results.push({
        expressionId: id,
        opId: op,
        value: '1',
        agentId: 'a',
        attempt: 1,
        finishedAt: now,
      });
    if (results.length >= 9000) {
      await store.saveOpResults(results);
      results = [];
    }
  }
  await Promise.all(inserts);
  await store.saveOpResults(results);
  for (let i = 0; i < UNFINISHED; i += 1) {
    const expression = `(${i}+3)*(${i}+4)`;
    await store.insertExpression({
      ...base,
      status: 'pending',
      id: `live-${i}`,
      expression,
      normalized: expression,
      value: null,
      createdAt: now + i,
      startedAt: null,
      finishedAt: null,
    });
  }
  await store.close();
}

/** Wall time from spawn to ready, `trials` times on the same store (`env` names it). */
async function restartTimes(env: Record<string, string>, trials: number): Promise<number[]> {
  const times: number[] = [];
  for (let t = 0; t < trials; t += 1) {
    const started = performance.now();
    const orch = await spawnOrchestrator({
      logLevel: 'warn',
      readyTimeoutMs: 120_000,
      env: { ...env, RETENTION_DAYS: '0' },
    });
    times.push(performance.now() - started);
    await orch.stop();
  }
  return times;
}

/** Prints restarts without (`a`) and with history (`b`) side by side; true when the ratio is met. */
function reportRestarts(a: number[], b: number[], fullLabel: string): boolean {
  console.log(
    table(
      ['store', 'restarts ms', 'median ms'],
      [
        [`${UNFINISHED} unfinished`, a.map((x) => int(x)).join(', '), int(median(a))],
        [fullLabel, b.map((x) => int(x)).join(', '), int(median(b))],
      ],
    ),
  );
  const ratio = median(b) / median(a);
  const ok = ratio <= TARGET;
  console.log(`target restart with history ≤ ${TARGET}× without: ${fixed(ratio)}× ${verdict(ok)}`);
  return ok;
}

async function restartCase(quick: boolean): Promise<boolean> {
  const history = quick ? 20_000 : 100_000;
  const trials = quick ? 2 : 3;
  heading('Bench 13a: restart time against history (embedded store)');
  console.log(
    `${int(history)} finished expressions × 3 op results + ${UNFINISHED} unfinished, vs the ${UNFINISHED} alone; ${trials} restarts each (spawn → /readyz)`,
  );
  const empty = tempDir('expr-retention-empty-');
  const full = tempDir('expr-retention-full-');
  try {
    await seed(new SqliteStore(empty.dir), 0);
    const seeded = performance.now();
    await seed(new SqliteStore(full.dir), history);
    console.log(`seeded ${int(history)} in ${fixed((performance.now() - seeded) / 1000, 1)} s`);
    const a = await restartTimes({ DATA_DIR: empty.dir }, trials);
    const b = await restartTimes({ DATA_DIR: full.dir }, trials);
    const size = statSync(path.join(full.dir, SQLITE_FILE_NAME)).size / 2 ** 20;
    return reportRestarts(a, b, `+ ${int(history)} finished (${fixed(size, 0)} MiB)`);
  } finally {
    empty.remove();
    full.remove();
  }
}

async function mongoRestartCase(uri: string, quick: boolean): Promise<boolean> {
  const history = quick ? 20_000 : 100_000;
  const trials = quick ? 2 : 3;
  heading('Bench 13c: restart time against history (MongoDB store)');
  console.log(
    `${int(history)} finished expressions × 3 op results (rows, as stored before compaction) + ${UNFINISHED} unfinished, vs the ${UNFINISHED} alone; ${trials} restarts each (spawn → /readyz)`,
  );
  const prefix = `bench13_${process.pid}`;
  const empty = `${prefix}_empty`;
  const full = `${prefix}_full`;
  try {
    await seed(new MongoStore(uri, empty), 0);
    const seeded = performance.now();
    await seed(new MongoStore(uri, full), history);
    console.log(`seeded ${int(history)} in ${fixed((performance.now() - seeded) / 1000, 1)} s`);
    const a = await restartTimes({ MONGODB_URI: uri, MONGODB_DB: empty }, trials);
    const b = await restartTimes({ MONGODB_URI: uri, MONGODB_DB: full }, trials);
    return reportRestarts(a, b, `+ ${int(history)} finished`);
  } finally {
    for (const db of [empty, full]) {
      const store = new MongoStore(uri, db);
      await store.init();
      await store.dropDatabase();
      await store.close();
    }
  }
}

interface Sample {
  at: number;
  rows: number;
  fileMiB: number;
  rssMiB: number;
  submitted: number;
}

async function soakCase(quick: boolean): Promise<boolean> {
  const durationS = quick ? 45 : 180;
  const retentionS = 5;
  const perSecond = 40;
  heading('Bench 13b: soak with a short retention');
  console.log(
    `${perSecond} expressions/s for ${durationS} s, 2 local agents × 4, 0-ms operations, RETENTION_DAYS = ${retentionS} s, swept every second`,
  );
  const data = tempDir('expr-retention-soak-');
  const orch = await spawnOrchestrator({
    logLevel: 'warn',
    env: {
      DATA_DIR: data.dir,
      AGENTS: '2',
      COMPUTING_POWER: '4',
      RETENTION_DAYS: String(retentionS / 86_400),
      RETENTION_SWEEP_MS: '1000',
      TIME_ADDITION_MS: '0',
      TIME_SUBTRACTION_MS: '0',
      TIME_MULTIPLICATIONS_MS: '0',
      TIME_DIVISIONS_MS: '0',
    },
  });
  const api = new Api(orch.url);
  const reader = new SqliteStore(data.dir);
  await reader.init();
  const samples: Sample[] = [];
  let submitted = 0;
  try {
    const start = performance.now();
    let nextSample = 5000;
    while (performance.now() - start < durationS * 1000) {
      const tick = performance.now();
      await Promise.all(
        Array.from({ length: perSecond }, () => {
          submitted += 1;
          return api.submit(`(${submitted}+1)*(${submitted}-1)+${submitted}/7`);
        }),
      );
      const elapsed = performance.now() - start;
      if (elapsed >= nextSample) {
        nextSample += 5000;
        const counts = await reader.countByStatus();
        const rows = Object.values(counts).reduce((sum, n) => sum + n, 0);
        const file = path.join(data.dir, SQLITE_FILE_NAME);
        const wal = statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
        const bytes = statSync(file).size + wal;
        samples.push({
          at: elapsed / 1000,
          rows,
          fileMiB: bytes / 2 ** 20,
          rssMiB: rssMiB(orch.child.pid!),
          submitted,
        });
      }
      await sleep(Math.max(0, 1000 - (performance.now() - tick)));
    }
  } finally {
    await reader.close();
    await orch.stop();
    data.remove();
  }
  console.log(
    table(
      ['t s', 'submitted', 'expressions stored', 'db+wal MiB', 'RSS MiB'],
      samples.map((s) => [
        fixed(s.at, 0),
        int(s.submitted),
        int(s.rows),
        fixed(s.fileMiB, 1),
        fixed(s.rssMiB, 0),
      ]),
    ),
  );
  const third = Math.floor(samples.length / 3);
  const middle = samples.slice(third, 2 * third);
  const last = samples.slice(2 * third);
  const avg = (xs: readonly Sample[], f: (s: Sample) => number): number =>
    xs.reduce((sum, s) => sum + f(s), 0) / Math.max(1, xs.length);
  let ok = true;
  for (const [name, f] of [
    ['expressions stored', (s: Sample) => s.rows],
    ['db+wal size', (s: Sample) => s.fileMiB],
    ['RSS', (s: Sample) => s.rssMiB],
  ] as const) {
    const growth = avg(last, f) / avg(middle, f);
    const met = growth <= TARGET;
    ok &&= met;
    console.log(
      `target ${name} plateaus (last third ÷ middle third ≤ ${TARGET}): ${fixed(growth)}× ${verdict(met)}`,
    );
  }
  return ok;
}

async function main(): Promise<void> {
  const { quick } = benchArgs();
  heading('Bench 13: data that stays bounded (issue 22)');
  console.log(describeMachine());
  const uri = process.env['MONGODB_URI'];
  const only = process.env['BENCH13_ONLY'] === 'mongo';
  const restart = only ? true : await restartCase(quick);
  const mongo = uri ? await mongoRestartCase(uri, quick) : true;
  if (!uri) console.log('Bench 13c skipped: set MONGODB_URI (eval "$(scripts/ferretdb.sh start)")');
  const soak = only ? true : await soakCase(quick);
  const all = restart && mongo && soak;
  console.log(`bench 13: ${all ? 'every target met' : 'a target MISSED (see above)'}`);
}

if (isMain(import.meta.url)) runMain(main);
