/**
 * Bench 2 — dispatch throughput. 0-ms operations on 1 / 4 / 16 agent-node processes × 4 workers:
 * operations per second end to end (first submit → last expression finished, ≥ 50,000 ops) and
 * the orchestrator's CPU time per 1,000 operations (/proc/<pid>/stat of the child process).
 * Side by side, with the same total worker concurrency and worker processes:
 *   (a) BullMQ on the local Redis (trivial jobs; a unique queue, obliterated afterwards),
 *   (b) the bare Socket.IO ceiling: a minimal server pushing trivial tasks to as many clients.
 *
 * Then the same 0-ms run of ours with the orchestrator on MongoDB (MONGODB_URI, e.g. FerretDB from
 * `eval "$(scripts/ferretdb.sh start)"`; a unique database, dropped afterwards) at 1 / 4 × 4,
 * skipped with a notice when MONGODB_URI is unset. `--mongo-only` runs only that part.
 *
 *   node bench/dist/throughput.js [--quick] [--profile] [--mongo-only]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { MongoClient } from 'mongodb';
import { compile, evaluatePlan } from '@expressionist/core';
import { sleep, stopProcess } from '@expressionist/testkit';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { startCluster } from './lib/cluster.js';
import { generate } from './lib/expressions.js';
import { fixed, heading, int, table, verdict } from './lib/format.js';
import { nextMessage, onChild } from './lib/ipc.js';
import { describeMachine } from './lib/machine.js';
import { pool } from './lib/pool.js';
import { cpuMeter } from './lib/proc.js';
import { childScript, spawnChild } from './lib/processes.js';
import { hotSpots, inclusive, newestProfile } from './lib/profile.js';
import { CompletionWatcher } from './lib/ui-watch.js';

const WORKERS = 4;
const TERMS = 256;
const REDIS = { host: '127.0.0.1', port: 6379 };

/** Where the orchestrator's time goes, by entry point (inclusive time in the CPU profile). */
const PHASES = [
  { label: 'socket reads (incl. results handling)', fn: 'socketOnData@ws/lib/websocket.js' },
  { label: 'results handling (verify, queue write)', fn: 'handleResults@scheduler/scheduler.js' },
  { label: 'result writes (SQLite) + release', fn: 'writeBatch@scheduler/result-writer.js' },
  { label: 'dispatch (lease, emit)', fn: 'dispatch@scheduler/dispatcher.js' },
  { label: 'socket writes (writev)', fn: 'writev@' },
  { label: 'dashboard flush', fn: 'flush@realtime/ui-hub.js' },
  { label: 'HTTP submit', fn: 'submit@scheduler/scheduler.js' },
] as const;

interface Measured {
  ops: number;
  seconds: number;
  opsPerSecond: number;
  /** CPU ms of the central process (orchestrator / ceiling server) per 1,000 operations. */
  cpuMsPer1k: number;
  /** CPU ms of all worker processes (agents / BullMQ workers / ceiling clients) per 1,000. */
  workersCpuMsPer1k: number;
}

const rate = (ops: number, ms: number, cpuMs: number, workersCpuMs: number): Measured => ({
  ops,
  seconds: ms / 1000,
  opsPerSecond: ops / (ms / 1000),
  cpuMsPer1k: cpuMs / (ops / 1000),
  workersCpuMsPer1k: workersCpuMs / (ops / 1000),
});

/** Ours: flat sums of 256 terms (255 ops each) until ≥ `minOps`, all submitted at once. */
export async function measureOurs(
  agents: number,
  minOps: number,
  profileDir?: string,
  env?: Record<string, string>,
): Promise<Measured> {
  const cluster = await startCluster({
    agents,
    workersPerAgent: WORKERS,
    opMs: 0,
    ...(env ? { env } : {}),
    ...(profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}),
  });
  const watcher = new CompletionWatcher(cluster.orchestrator.url);
  try {
    await watcher.connected();
    // Warm-up: JIT and connections, not measured.
    const warm = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        cluster.api.submit(generate('sum', TERMS, `warm-${agents}-${i}`)),
      ),
    );
    await watcher.all(warm, 60_000, cluster.api);
    const count = Math.ceil(minOps / (TERMS - 1));
    const expressions = Array.from({ length: count }, (_, i) =>
      generate('sum', TERMS, `tp-${agents}-${i}-${Date.now()}`),
    );
    const expected = expressions.map((e) => evaluatePlan(compile(e).plan));
    const ids: string[] = new Array<string>(count);
    const meter = cpuMeter(cluster.orchestrator.pid);
    const agentsMeter = cpuMeter(cluster.agents.map((a) => a.pid));
    const t0 = Date.now();
    await pool(expressions, 16, async (expression, i) => {
      ids[i] = await cluster.api.submit(expression);
    });
    const views = await watcher.all(ids, 600_000, cluster.api);
    const cpu = meter.stop();
    const agentsCpu = agentsMeter.stop();
    const end = Math.max(...views.map((v) => Date.parse(v.finishedAt!)));
    const wrong = views.filter((v, i) => v.status !== 'done' || v.value !== expected[i]).length;
    if (wrong > 0) throw new Error(`${wrong} expressions finished with a wrong value or status`);
    return rate(count * (TERMS - 1), end - t0, cpu.cpuMs, agentsCpu.cpuMs);
  } finally {
    watcher.close();
    await cluster.stop();
  }
}

/** BullMQ: `processes` worker processes × 4 concurrency, `jobs` trivial jobs added in bulk. */
export async function measureBullmq(processes: number, jobs: number): Promise<Measured | string> {
  const queueName = `expressionist-bench-${process.pid}-${Date.now()}`;
  const queue = new Queue(queueName, {
    connection: { ...REDIS, maxRetriesPerRequest: 1, retryStrategy: () => null },
  });
  queue.on('error', () => undefined);
  try {
    await Promise.race([
      queue.waitUntilReady(),
      sleep(3000).then(() => Promise.reject(new Error('timeout'))),
    ]);
    await queue.getJobCounts();
  } catch {
    await queue.close().catch(() => undefined);
    return `skipped: no Redis at ${REDIS.host}:${REDIS.port}`;
  }
  const workers = Array.from({ length: processes }, () =>
    spawnChild(childScript('bullmq-worker'), [
      queueName,
      String(WORKERS),
      REDIS.host,
      String(REDIS.port),
    ]),
  );
  try {
    await Promise.all(
      workers.map((w) =>
        nextMessage(
          w.child,
          (m) => (m.type === 'ready' ? true : undefined),
          30_000,
          'a BullMQ worker',
        ),
      ),
    );
    const counts = new Map<number, { count: number; lastAt: number }>();
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    for (const [i, w] of workers.entries()) {
      onChild(w.child, (m) => {
        if (m.type !== 'progress') return;
        counts.set(i, { count: m.count, lastAt: m.lastAt });
        let sum = 0;
        for (const c of counts.values()) sum += c.count;
        if (sum >= jobs) resolveDone();
      });
    }
    const workersMeter = cpuMeter(workers.map((w) => w.child.pid!));
    const t0 = Date.now();
    for (let start = 0; start < jobs; start += 1000) {
      const n = Math.min(1000, jobs - start);
      await queue.addBulk(
        Array.from({ length: n }, (_, k) => ({
          name: 'add',
          data: { a: start + k, b: 1 },
          opts: { removeOnComplete: true, removeOnFail: true },
        })),
      );
    }
    await done;
    const workersCpu = workersMeter.stop();
    const end = Math.max(...[...counts.values()].map((c) => c.lastAt));
    // Redis does the central work here; its CPU is not measured (it is not our child process).
    return rate(jobs, end - t0, NaN, workersCpu.cpuMs);
  } finally {
    for (const w of workers) w.child.send?.({ type: 'close' });
    await Promise.all(workers.map((w) => stopProcess(w, 'SIGTERM', 5000)));
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

/** Bare Socket.IO: one server process, `clients` client processes, 4 tasks in flight each. */
export async function measureCeiling(clients: number, tasks: number): Promise<Measured> {
  const server = spawnChild(childScript('sio-server'), [String(WORKERS)]);
  const children = [server];
  try {
    const port = await nextMessage(
      server.child,
      (m) => (m.type === 'listening' ? m.port : undefined),
      30_000,
      'the ceiling server',
    );
    const connected = nextMessage(
      server.child,
      (m) => (m.type === 'connected' && m.count === clients ? true : undefined),
      60_000,
      'ceiling clients',
    );
    for (let i = 0; i < clients; i += 1)
      children.push(spawnChild(childScript('sio-client'), [`http://127.0.0.1:${port}`]));
    await connected;
    const finished = nextMessage(
      server.child,
      (m) => (m.type === 'done' ? m : undefined),
      600_000,
      'the ceiling run',
    );
    const meter = cpuMeter(server.child.pid!);
    const clientsMeter = cpuMeter(children.slice(1).map((c) => c.child.pid!));
    server.child.send({ type: 'start', total: tasks });
    const done = await finished;
    const cpu = meter.stop();
    const clientsCpu = clientsMeter.stop();
    return rate(done.count, done.finishedAt - done.startedAt, cpu.cpuMs, clientsCpu.cpuMs);
  } finally {
    server.child.send?.({ type: 'close' });
    await Promise.all(children.map((c) => stopProcess(c, 'SIGTERM', 3000)));
  }
}

/** Ours with the orchestrator on MongoDB at 1 and 4 agents × 4 workers, in a unique database. */
async function mongoSection(minOps: number): Promise<void> {
  heading('Bench 2b: dispatch throughput on MongoDB (0-ms operations)');
  const uri = process.env.MONGODB_URI;
  if (!uri) {
    console.log(
      'skipped: MONGODB_URI is unset (eval "$(scripts/ferretdb.sh start)" provisions FerretDB).',
    );
    return;
  }
  const ops = Math.ceil(minOps / (TERMS - 1)) * (TERMS - 1);
  console.log(
    `ours, orchestrator on MongoDB at ${uri.replace(/\/\/[^@/]*@/, '//***@')}: ${ops.toLocaleString('en-US')} ops as ${ops / (TERMS - 1)} flat sums of ${TERMS} terms, submitted 16 at a time`,
  );
  const rows: (string | number)[][] = [];
  const checks: string[] = [];
  for (const processes of [1, 4]) {
    const db = `bench_tp_${process.pid}_${Date.now().toString(36)}`;
    try {
      const ours = await measureOurs(processes, minOps, undefined, {
        MONGODB_URI: uri,
        MONGODB_DB: db,
      });
      rows.push([
        `${processes} × ${WORKERS}`,
        int(ours.opsPerSecond),
        fixed(ours.cpuMsPer1k, 0),
        fixed(ours.workersCpuMsPer1k, 0),
      ]);
      checks.push(
        `${processes} × ${WORKERS} on MongoDB: ≥ 5,000 ops/s ${verdict(ours.opsPerSecond >= 5000)}`,
      );
    } finally {
      const client = await MongoClient.connect(uri);
      await client
        .db(db)
        .dropDatabase()
        .finally(() => client.close());
    }
    process.stdout.write('.');
  }
  process.stdout.write('\n');
  console.log(
    table(['agents × workers', 'ours ops/s', 'orchestrator CPU ms/1k', 'agents CPU ms/1k'], rows),
  );
  for (const line of checks) console.log(`targets ${line}`);
}

export async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const mongoOnly = argv.includes('--mongo-only');
  const { quick, profile } = benchArgs(argv.filter((a) => a !== '--mongo-only'));
  const minOps = quick ? 10_000 : 50_000;
  if (mongoOnly) {
    await mongoSection(minOps);
    return;
  }
  const ops = Math.ceil(minOps / (TERMS - 1)) * (TERMS - 1);
  heading('Bench 2: dispatch throughput (0-ms operations)');
  console.log(describeMachine());
  console.log(
    `ours: ${ops.toLocaleString('en-US')} ops as ${ops / (TERMS - 1)} flat sums of ${TERMS} terms, submitted 16 at a time; first submit → last finishedAt`,
  );
  console.log(
    `BullMQ ${'5.x'}: ${ops.toLocaleString('en-US')} jobs (a + b, removeOnComplete), added in bulk; Redis ${REDIS.host}:${REDIS.port}`,
  );
  console.log(
    `ceiling: bare Socket.IO server + clients, ${WORKERS} tasks in flight per client${quick ? ' (--quick)' : ''}`,
  );
  const rows: (string | number)[][] = [];
  const cpuRows: (string | number)[][] = [];
  const checks: string[] = [];
  const profiles: { processes: number; dir: string }[] = [];
  for (const processes of [1, 4, 16]) {
    const profileDir = profile ? mkdtempSync(path.join(tmpdir(), 'expr-prof-')) : undefined;
    if (profileDir) profiles.push({ processes, dir: profileDir });
    const ours = await measureOurs(processes, minOps, profileDir);
    const bull = await measureBullmq(processes, ops);
    const ceiling = await measureCeiling(processes, ops);
    const bullRate = typeof bull === 'string' ? NaN : bull.opsPerSecond;
    const label = `${processes} × ${WORKERS}`;
    rows.push([
      label,
      int(ours.opsPerSecond),
      typeof bull === 'string' ? bull : int(bull.opsPerSecond),
      int(ceiling.opsPerSecond),
      Number.isFinite(bullRate) ? `${fixed(ours.opsPerSecond / bullRate)}×` : 'n/a',
      `${fixed(ours.opsPerSecond / ceiling.opsPerSecond)}×`,
    ]);
    cpuRows.push([
      label,
      fixed(ours.cpuMsPer1k, 0),
      fixed(ours.workersCpuMsPer1k, 0),
      typeof bull === 'string' ? 'n/a' : fixed(bull.workersCpuMsPer1k, 0),
      fixed(ceiling.cpuMsPer1k, 0),
      fixed(ceiling.workersCpuMsPer1k, 0),
    ]);
    checks.push(
      `${processes} × ${WORKERS}: ≥ 2.0× BullMQ ${Number.isFinite(bullRate) ? verdict(ours.opsPerSecond >= 2 * bullRate) : 'n/a'}, ` +
        `≥ 0.5× ceiling ${verdict(ours.opsPerSecond >= 0.5 * ceiling.opsPerSecond)}, ≥ 20,000 ops/s ${verdict(ours.opsPerSecond >= 20_000)}`,
    );
    process.stdout.write('.');
  }
  process.stdout.write('\n');
  console.log(
    table(
      [
        'agents × workers',
        'ours ops/s',
        'BullMQ ops/s',
        'ceiling ops/s',
        'ours/BullMQ',
        'ours/ceiling',
      ],
      rows,
    ),
  );
  console.log(
    "\nCPU time per 1,000 operations, ms (Redis, BullMQ's central process, is not measured):",
  );
  console.log(
    table(
      [
        'agents × workers',
        'ours: orchestrator',
        'ours: agents',
        'BullMQ: workers',
        'ceiling: server',
        'ceiling: clients',
      ],
      cpuRows,
    ),
  );
  for (const line of checks) console.log(`targets ${line}`);
  for (const { processes, dir } of profiles) {
    const file = newestProfile(dir);
    if (!file) {
      rmSync(dir, { recursive: true, force: true });
      console.log(`no CPU profile was written for ${processes} × ${WORKERS}`);
      continue;
    }
    const { spots, idlePercent, gcPercent } = hotSpots(file, 15);
    console.log(
      `\norchestrator CPU profile, ${processes} × ${WORKERS} (self time, % of non-idle samples over the process lifetime; idle ${fixed(idlePercent, 0)}%, GC ${fixed(gcPercent, 1)}%):`,
    );
    console.log(
      table(
        ['self %', 'file:function'],
        spots.map((s) => [fixed(s.percent, 1), s.name]),
      ),
    );
    const phases = inclusive(
      file,
      PHASES.map((p) => p.fn),
    );
    console.log(
      `inclusive: ${PHASES.map((p) => `${p.label} ${fixed(phases.get(p.fn) ?? 0, 1)}%`).join(', ')}`,
    );
    console.log(`profile: ${file}`);
  }
  await mongoSection(minOps);
}

if (isMain(import.meta.url)) runMain(main);
