/**
 * Bench 6 — store throughput, embedded (SQLite) vs MongoDB.
 *
 *  (a) expressions accepted per second: `POST /api/v1/calculate` with 32 requests in flight
 *      against an orchestrator child process (no agents, so nothing else competes);
 *  (b) operation results stored per second: `store.saveOpResults` called directly in batches
 *      of 100 and 1,000 rows.
 * The MongoDB column needs MONGODB_URI (e.g. `eval "$(scripts/ferretdb.sh start)"`: FerretDB
 * 1.24 on SQLite, not a real mongod); it is skipped with a notice when unset. A unique database
 * is used and dropped afterwards.
 *
 *   node bench/dist/store-throughput.js [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import {
  MongoStore,
  SqliteStore,
  type Store,
  type StoredOpResult,
} from '@expressionist/server/store';
import { Api, spawnOrchestrator } from '@expressionist/testkit';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { fixed, heading, int, table } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { cpuMeter } from './lib/proc.js';

const IN_FLIGHT = 32;

interface Backend {
  label: string;
  /** Orchestrator env selecting the store. */
  env: Record<string, string>;
  /** A fresh store for direct writes, and how to clean it up. */
  open(): { store: Store; cleanup: () => Promise<void> };
}

/** Expressions accepted per second over HTTP (a unique expression per request: no cache hits). */
async function measureAccept(
  backend: Backend,
  count: number,
): Promise<{ perSecond: number; cpuMsPerExpr: number }> {
  const orchestrator = await spawnOrchestrator({ env: backend.env, logLevel: 'warn' });
  try {
    const api = new Api(orchestrator.url);
    const run = Date.now().toString(36);
    const expression = (i: number): string => `${i} + ${run.length} * (${i % 97} - 0.5) / 3`;
    for (let i = 0; i < 50; i += 1) await api.submit(`${expression(-i - 1)} + 0`); // warm-up
    let next = 0;
    const meter = cpuMeter(orchestrator.pid);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < count) await api.submit(expression(next++));
      }),
    );
    const ms = performance.now() - started;
    const cpu = meter.stop();
    return { perSecond: count / (ms / 1000), cpuMsPerExpr: cpu.cpuMs / count };
  } finally {
    await orchestrator.stop();
  }
}

/** Operation results stored per second with `saveOpResults` batches of `batch` rows. */
async function measureSave(
  backend: Backend,
  batch: number,
  maxRows: number,
  maxMs: number,
): Promise<{ rows: number; perSecond: number }> {
  const { store, cleanup } = backend.open();
  try {
    await store.init();
    const now = Date.now();
    const rows = (b: number): StoredOpResult[] =>
      Array.from({ length: batch }, (_, k) => ({
        expressionId: `bench-${batch}-${Math.floor((b * batch + k) / 1000)}`,
        opId: (b * batch + k) % 1000,
        value: String(b * batch + k),
        agentId: 'bench-agent',
        attempt: 1,
        finishedAt: now,
      }));
    await store.saveOpResults(rows(0)); // warm-up (prepared statements, connection)
    let written = 0;
    const started = performance.now();
    for (let b = 1; written < maxRows && performance.now() - started < maxMs; b += 1) {
      const added = await store.saveOpResults(rows(b));
      if (added !== batch) throw new Error(`saveOpResults stored ${added} of ${batch} new rows`);
      written += batch;
    }
    return { rows: written, perSecond: written / ((performance.now() - started) / 1000) };
  } finally {
    await store.close();
    await cleanup();
  }
}

function backends(): { list: Backend[]; notice: string | undefined } {
  const sqlite: Backend = {
    label: 'embedded (SQLite, WAL)',
    env: {},
    open() {
      const dir = mkdtempSync(path.join(tmpdir(), 'expr-bench-store-'));
      return {
        store: new SqliteStore(dir),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
  const uri = process.env.MONGODB_URI;
  if (!uri)
    return {
      list: [sqlite],
      notice:
        'MongoDB column skipped: MONGODB_URI is unset (eval "$(scripts/ferretdb.sh start)" provisions FerretDB).',
    };
  let n = 0;
  const mongo: Backend = {
    label: 'MongoDB (FerretDB 1.24 on SQLite)',
    env: { MONGODB_URI: uri, MONGODB_DB: `bench_accept_${process.pid}_${Date.now().toString(36)}` },
    open() {
      const db = `bench_store_${process.pid}_${Date.now().toString(36)}_${n++}`;
      return {
        store: new MongoStore(uri, db),
        cleanup: async () => {
          const client = await MongoClient.connect(uri);
          await client
            .db(db)
            .dropDatabase()
            .finally(() => client.close());
        },
      };
    },
  };
  return { list: [sqlite, mongo], notice: undefined };
}

async function dropDatabase(uri: string, db: string): Promise<void> {
  const client = await MongoClient.connect(uri);
  try {
    await client.db(db).dropDatabase();
  } finally {
    await client.close();
  }
}

export async function main(): Promise<void> {
  const { quick } = benchArgs();
  const accepts = quick ? 1000 : 5000;
  const maxRows = quick ? 20_000 : 100_000;
  const maxMs = quick ? 2000 : 5000;
  heading('Bench 6: store throughput');
  console.log(describeMachine());
  const { list, notice } = backends();
  if (notice) console.log(notice);
  console.log(
    `(a) ${int(accepts)} POST /api/v1/calculate, ${IN_FLIGHT} in flight, orchestrator child process, no agents`,
  );
  console.log(
    `(b) saveOpResults in this process: up to ${int(maxRows)} rows or ${maxMs / 1000} s per cell${quick ? ' (--quick)' : ''}`,
  );
  const rows: (string | number)[][] = [];
  for (const backend of list) {
    try {
      const accepted = await measureAccept(backend, accepts);
      const save100 = await measureSave(backend, 100, maxRows, maxMs);
      const save1000 = await measureSave(backend, 1000, maxRows, maxMs);
      rows.push([
        backend.label,
        int(accepted.perSecond),
        fixed(accepted.cpuMsPerExpr, 2),
        int(save100.perSecond),
        int(save1000.perSecond),
      ]);
    } finally {
      if (backend.env.MONGODB_URI && backend.env.MONGODB_DB)
        await dropDatabase(backend.env.MONGODB_URI, backend.env.MONGODB_DB);
    }
  }
  console.log(
    table(
      [
        'store',
        'expressions accepted/s',
        'orch. CPU ms/expr',
        'results stored/s (batch 100)',
        'results stored/s (batch 1000)',
      ],
      rows,
    ),
  );
}

if (isMain(import.meta.url)) runMain(main);
