/**
 * Bench 10 — several orchestrators (REDIS_URL). Real processes on loopback: a private
 * redis-server on a free port, orchestrators sharing one MongoDB (FerretDB) database and that
 * Redis, real agent-node processes given every instance's URL.
 *
 *  (a) Takeover: 3 instances, 3 agent-node × 2, a steady stream of small expressions through
 *      random instances; SIGKILL the leader. Measured on the bench's clock from the SIGKILL:
 *      the first survivor whose /readyz says role=leader (polled every 20 ms), the new leader's
 *      'won the leader lease' and 'leading' log lines (pino `time`), and the first operation
 *      result the new leader accepted (its `finishedAt`, stamped by the leader when it accepts a
 *      result, in MongoDB's op_results rows or a finished expression's compact record: an upper
 *      bound on its first dispatch, which it follows by one operation time plus a round trip). The killed instance is restarted between runs.
 *  (b) Throughput, 0-ms operations, 4 agent-node × 4 workers, flat sums of 256 terms: one
 *      instance (REDIS_URL unset) vs three (agents and submissions spread over the instances),
 *      both on MongoDB; orchestrator CPU per 1,000 ops summed over the instances.
 *  (c) Idle agents spread over 3 instances (socket.io-clients in helper processes, one helper
 *      per instance): connected and active as the leader lists them, RSS per instance, and
 *      whether they all stay active over a 20 s idle window.
 *
 * Skipped with a notice without MONGODB_URI or redis-server.
 *
 *   node bench/dist/cluster.js [--quick] [--profile] [--only=a,b,c] [--idle=<connections per instance>]
 *
 * --profile: (b) runs every instance under `node --cpu-prof` and prints each one's hot spots.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { compile, evaluatePlan } from '@expressionist/core';
import { decodeCompact, expandResults } from '@expressionist/server/store';
import {
  Api,
  killAll,
  request,
  sleep,
  spawnAgent,
  stopProcess,
  waitFor,
  type AgentProcess,
  type ChildHandle,
  clusterUnavailable,
  startRedis,
  type PrivateRedis,
} from '@expressionist/testkit';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { generate } from './lib/expressions.js';
import { fixed, heading, int, table, verdict } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { pool } from './lib/pool.js';
import { hotSpots, newestProfile } from './lib/profile.js';
import { diagnose, OrchestratorSet, readyz } from './lib/orchestrators.js';
import { cpuMeter, rssMiB } from './lib/proc.js';
import { helperReceipts, spawnConnectedHelpers } from './lib/processes.js';
import { max, median } from './lib/stats.js';
import { CompletionWatcher } from './lib/ui-watch.js';

const JWT_SECRET = 'bench-cluster-secret-0123456789abcdef';
const INSTANCES = 3;
/** The orchestrator's default LEADER_LEASE_MS: the bench measures what a deployment gets. */
const LEASE_MS = 3000;
const TAKEOVER_TARGET_MS = 5000;

const dbName = (part: string): string =>
  `bench_cl_${part}_${process.pid}_${Date.now().toString(36)}`;

/**
 * The earliest `finishedAt` after `after` among the stored op results: the rows of op_results,
 * and the compact records (`results`) of the expressions finished since, whose rows are gone.
 */
async function firstResultAfter(db: Db, after: number): Promise<number | null> {
  const [row] = await db
    .collection<{ finishedAt: number }>('op_results')
    .find({ finishedAt: { $gt: after } })
    .sort({ finishedAt: 1 })
    .limit(1)
    .toArray();
  let first = row?.finishedAt ?? Infinity;
  const compacted = await db
    .collection<{ _id: string; results?: string }>('expressions')
    .find({ finishedAt: { $gt: after }, results: { $exists: true } })
    .project<{ _id: string; results?: string }>({ results: 1 })
    .toArray();
  for (const { _id, results } of compacted)
    if (results !== undefined)
      for (const r of expandResults(_id, decodeCompact(results)))
        if (r.finishedAt > after) first = Math.min(first, r.finishedAt);
  return Number.isFinite(first) ? first : null;
}

async function dropDb(uri: string, db: string): Promise<void> {
  const client = await MongoClient.connect(uri);
  try {
    await client.db(db).dropDatabase();
  } finally {
    await client.close();
  }
}

/** One submission through a random live instance, retried through a takeover (503, refused). */
async function submitAnywhere(set: OrchestratorSet, expression: string): Promise<string> {
  let last = '';
  for (let attempt = 0; attempt < 600; attempt += 1) {
    const live = set.alive();
    const slot = live[Math.floor(Math.random() * live.length)];
    if (slot) {
      try {
        const res = await request(slot.url, 'POST', '/api/v1/calculate', {
          json: { expression },
          timeoutMs: 5000,
        });
        const id = (res.json as { id?: unknown } | null)?.id;
        if (res.status === 201 && typeof id === 'string') return id;
        if (res.status !== 503 && res.status !== 502)
          throw new Error(`submit answered ${res.status} ${res.text.slice(0, 200)}`);
        last = `${res.status}`;
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('submit answered')) throw err;
        last = String(err);
      }
    }
    await sleep(50);
  }
  throw new Error(`a submission kept failing: ${last}`);
}

/** Active agents as the instance at `url` lists them (forwarded to the leader by a gateway). */
async function activeAgents(url: string): Promise<number> {
  const list = await new Api(url).agents();
  return list.filter((a) => a.status === 'active').length;
}

function agentsFor(set: OrchestratorSet, count: number, workers: number, tag: string) {
  return Array.from({ length: count }, (_, k) =>
    spawnAgent(set.agentUrls(k % set.slots.length), {
      concurrency: workers,
      id: `${tag}-${k + 1}`,
      logLevel: 'warn',
    }),
  );
}

// ------------------------------------------------------------------------------------ (a)

interface LogLine {
  msg?: string;
  time?: number;
  ms?: number;
  epoch?: number;
  /** 'resumed unfinished expressions': how many, store reads and the whole recovery. */
  resumed?: number;
  readMs?: number;
  totalMs?: number;
  /** 'takeover: state loaded': accounts + settings, then the scheduler's start. */
  accountsMs?: number;
  recoveryMs?: number;
}

/** The first JSON log line of `output` with this `msg` at or after `since` (epoch ms). */
function logLine(output: string, msg: string, since: number): LogLine | null {
  for (const line of output.split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    try {
      const parsed = JSON.parse(line) as LogLine;
      if ((parsed.time ?? 0) >= since) return parsed;
    } catch {
      // not a JSON line
    }
  }
  return null;
}

interface TakeoverRun {
  /** SIGKILL → a survivor's /readyz says role=leader. */
  readyMs: number;
  /** The takeover's phases as the new leader logged them. */
  breakdown: string;
  /** SIGKILL → the new leader logged 'won the leader lease; taking over'. */
  wonMs: number;
  /** SIGKILL → the new leader logged 'leading'. */
  leadingMs: number;
  /** The takeover itself (recovery, announce), as the new leader logs it. */
  takeoverMs: number;
  /** SIGKILL → the first operation result the new leader accepted. */
  firstResultMs: number;
  /** Survivors that won the lease and then lost it (exit 75) before the run settled. */
  stepDowns: number;
}

async function takeoverSection(uri: string, runs: number): Promise<void> {
  heading(`Bench 10a: leader takeover (${runs} SIGKILLs of the leader)`);
  const OP_MS = 20;
  const AGENTS = 3;
  console.log(
    `${INSTANCES} instances (LEADER_LEASE_MS ${LEASE_MS}, default), ${AGENTS} agent-node × 2 with every URL, ${OP_MS}-ms operations, a flat sum of 8 terms submitted every 100 ms through a random live instance`,
  );
  const db = dbName('takeover');
  const redis = await startRedis();
  let set: OrchestratorSet | null = null;
  let agents: AgentProcess[] = [];
  const mongo = await MongoClient.connect(uri);
  const results: TakeoverRun[] = [];
  const ids: string[] = [];
  const expected = new Map<string, string>();
  let streaming = true;
  let streamError: unknown = null;
  try {
    set = await OrchestratorSet.start({
      count: INSTANCES,
      logLevel: 'info',
      env: {
        MONGODB_URI: uri,
        MONGODB_DB: db,
        REDIS_URL: redis.url,
        JWT_SECRET,
        LEADER_LEASE_MS: String(LEASE_MS),
        TIME_ADDITION_MS: String(OP_MS),
        TIME_SUBTRACTION_MS: String(OP_MS),
        TIME_MULTIPLICATIONS_MS: String(OP_MS),
        TIME_DIVISIONS_MS: String(OP_MS),
      },
    });
    const cluster = set;
    cluster.supervise(500);
    agents = agentsFor(cluster, AGENTS, 2, 'takeover');
    await waitFor(
      async () => (await activeAgents((await cluster.leader()).url)) === AGENTS,
      30_000,
      'the agents',
      200,
    );
    // The steady stream; a submission in flight across a takeover is retried until accepted.
    let n = 0;
    const stream = (async () => {
      const inFlight = new Set<Promise<void>>();
      while (streaming) {
        const source = generate('sum', 8, `takeover-${n++}-${Date.now()}`);
        const p: Promise<void> = submitAnywhere(cluster, source).then(
          (id) => {
            ids.push(id);
            expected.set(id, evaluatePlan(compile(source).plan));
          },
          (err: unknown) => {
            streamError = err;
          },
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        await sleep(100);
      }
      await Promise.all(inFlight);
    })();
    for (let run = 0; run < runs; run += 1) {
      // Steady state: three instances, every agent registered, results flowing.
      let old = await cluster.leader();
      await waitFor(
        async () => {
          if (cluster.alive().length !== INSTANCES) return false;
          old = await cluster.leader();
          return (await activeAgents(old.url)) === AGENTS;
        },
        60_000,
        'three instances and every agent registered with the leader',
        200,
      );
      await sleep(1500);
      const killAt = Date.now();
      await cluster.kill(old);
      const goneAt = Date.now();
      const exitsBefore = cluster.exits.length;
      const next = await cluster.leader(60_000, 20).catch(async (err: unknown) => {
        throw new Error(
          `run ${run + 1}: no new leader 60 s after the SIGKILL of instance ${old.index + 1} (pid ${old.proc?.pid}) at ${killAt}: ${String(err)}\n${await diagnose(cluster)}`,
        );
      });
      const readyMs = Date.now() - killAt;
      const output = (): string => next.proc?.output() ?? '';
      const leading = await waitFor(
        () => logLine(output(), 'leading', killAt),
        10_000,
        "the new leader's 'leading' line",
      );
      const won = logLine(output(), 'won the leader lease; taking over', killAt);
      const loaded = logLine(output(), 'takeover: state loaded', killAt);
      const resumed = logLine(output(), 'resumed unfinished expressions', killAt);
      const firstAt = await waitFor(
        () => firstResultAfter(mongo.db(db), goneAt),
        60_000,
        'a result accepted by the new leader',
        50,
      );
      results.push({
        readyMs,
        wonMs: (won?.time ?? NaN) - killAt,
        leadingMs: (leading.time ?? NaN) - killAt,
        takeoverMs: leading.ms ?? NaN,
        firstResultMs: firstAt - killAt,
        stepDowns: 0,
        // The recovery line is logged only when there was something to resume.
        breakdown: `accounts+settings ${int(loaded?.accountsMs ?? NaN)} ms, scheduler start ${int(loaded?.recoveryMs ?? NaN)} ms (${resumed ? `recovery of ${int(resumed.resumed ?? 0)} unfinished: store reads ${int(resumed.readMs ?? NaN)} ms of ${int(resumed.totalMs ?? NaN)} ms` : 'nothing unfinished to recover'})`,
      });
      // Settled: a new leader that keeps its lease for 3 s more; step-downs meanwhile count.
      await sleep(3000);
      await cluster.leader(60_000);
      results[results.length - 1]!.stepDowns = cluster.exits
        .slice(exitsBefore)
        .filter((e) => e.code === 75).length;
      process.stdout.write('.');
      // Three instances again before the next run.
      await cluster.restart(old);
    }
    process.stdout.write('\n');
    streaming = false;
    await stream;
    if (streamError) throw streamError;
    // Every expression of the stream, through every takeover: finished with its exact value.
    const leaderApi = new Api((await cluster.leader()).url);
    let wrong = 0;
    for (const id of ids) {
      const view = await leaderApi.finished(id, 120_000, 100);
      if (view.status !== 'done' || view.value !== expected.get(id)) wrong += 1;
    }
    const rows = results.map((r, i) => [
      i + 1,
      int(r.readyMs),
      int(r.wonMs),
      int(r.leadingMs),
      int(r.takeoverMs),
      int(r.firstResultMs),
      r.stepDowns,
    ]);
    const col = (f: (r: TakeoverRun) => number): number[] => results.map(f);
    const summary = (label: string, agg: (v: number[]) => number): (string | number)[] => [
      label,
      int(agg(col((r) => r.readyMs))),
      int(agg(col((r) => r.wonMs))),
      int(agg(col((r) => r.leadingMs))),
      int(agg(col((r) => r.takeoverMs))),
      int(agg(col((r) => r.firstResultMs))),
      agg(col((r) => r.stepDowns)),
    ];
    console.log(
      table(
        [
          'run',
          'kill → /readyz leader ms',
          "kill → 'won the lease' ms",
          "kill → 'leading' ms",
          'takeover (logged) ms',
          'kill → first result by new leader ms',
          'step-downs (exit 75)',
        ],
        [...rows, summary('median', median), summary('max', max)],
      ),
    );
    console.log("where each takeover went (the new leader's own log):");
    results.forEach((r, i) => console.log(`  run ${i + 1}: ${r.breakdown}`));
    console.log(
      `stream: ${int(ids.length)} expressions submitted through the runs; ${wrong === 0 ? 'all finished with their exact value' : `${wrong} NOT finished exactly`}`,
    );
    const exits = cluster.exits.filter((e) => e.code !== 75);
    if (exits.length > 0)
      console.log(
        `other exits: ${exits.map((e) => `instance ${e.slot + 1} ${e.code}`).join(', ')}`,
      );
    const stepDowns = cluster.exits.filter((e) => e.code === 75).length;
    if (stepDowns > 0)
      console.log(
        `${stepDowns} new leader(s) lost the lease during or just after their takeover and exited 75; the bench restarted them after 500 ms, as a supervisor would (the times above are to the first result of whichever leader stayed)`,
      );
    const worst = max(col((r) => r.firstResultMs));
    console.log(
      `target kill → first dispatch by the new leader ≤ ${TAKEOVER_TARGET_MS} ms (max over ${runs} runs, measured as the first result it accepted): ${verdict(worst <= TAKEOVER_TARGET_MS)} (${int(worst)} ms)`,
    );
  } finally {
    streaming = false;
    await killAll(agents);
    await set?.stop();
    await mongo
      .db(db)
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
    await redis.stop();
  }
}

// ------------------------------------------------------------------------------------ (b)

const TP_AGENTS = 4;
const TP_WORKERS = 4;
const TERMS = 256;

interface Throughput {
  opsPerSecond: number;
  cpuMsPer1k: number;
  cpuPerInstance: number[];
}

async function measureThroughput(
  uri: string,
  instances: 1 | 3,
  minOps: number,
  redis: PrivateRedis,
  profileDir?: string,
): Promise<Throughput> {
  const db = dbName(`tp${instances}`);
  let set: OrchestratorSet | null = null;
  let agents: AgentProcess[] = [];
  let watcher: CompletionWatcher | null = null;
  try {
    set = await OrchestratorSet.start({
      count: instances,
      env: {
        MONGODB_URI: uri,
        MONGODB_DB: db,
        // One instance: no Redis client, no adapter (an empty REDIS_URL is unset).
        REDIS_URL: instances === 1 ? '' : redis.url,
        JWT_SECRET,
        TIME_ADDITION_MS: '0',
        TIME_SUBTRACTION_MS: '0',
        TIME_MULTIPLICATIONS_MS: '0',
        TIME_DIVISIONS_MS: '0',
      },
      ...(profileDir
        ? {
            nodeArgs: (slot) => ['--cpu-prof', `--cpu-prof-dir=${profileDir}/${instances}-${slot}`],
          }
        : {}),
    });
    const cluster = set;
    const leader = instances === 1 ? cluster.slots[0]! : await cluster.leader();
    const leaderApi = new Api(leader.url);
    agents = agentsFor(cluster, TP_AGENTS, TP_WORKERS, `tp${instances}`);
    await leaderApi.waitForAgents(TP_AGENTS, TP_AGENTS * TP_WORKERS, 60_000);
    watcher = new CompletionWatcher(leader.url);
    await watcher.connected();
    const apis = cluster.slots.map((s) => new Api(s.url));
    const warm = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        apis[i % apis.length]!.submit(generate('sum', TERMS, `warm-cl${instances}-${i}`)),
      ),
    );
    await watcher.all(warm, 120_000, leaderApi);
    const count = Math.ceil(minOps / (TERMS - 1));
    const expressions = Array.from({ length: count }, (_, i) =>
      generate('sum', TERMS, `tpcl-${instances}-${i}-${Date.now()}`),
    );
    const expected = expressions.map((e) => evaluatePlan(compile(e).plan));
    const ids = new Array<string>(count);
    const pids = cluster.pids();
    const meters = pids.map((pid) => cpuMeter(pid));
    const t0 = Date.now();
    // Submissions spread over the instances too: a gateway forwards them to the leader.
    await pool(expressions, 16, async (expression, i) => {
      ids[i] = await apis[i % apis.length]!.submit(expression);
    });
    const views = await watcher.all(ids, 900_000, leaderApi);
    const cpu = meters.map((m) => m.stop().cpuMs);
    const end = Math.max(...views.map((v) => Date.parse(v.finishedAt!)));
    const wrong = views.filter((v, i) => v.status !== 'done' || v.value !== expected[i]).length;
    if (wrong > 0) throw new Error(`${wrong} expressions finished with a wrong value or status`);
    const ops = count * (TERMS - 1);
    const total = cpu.reduce((a, b) => a + b, 0);
    return {
      opsPerSecond: ops / ((end - t0) / 1000),
      cpuMsPer1k: total / (ops / 1000),
      cpuPerInstance: cpu.map((c) => c / (ops / 1000)),
    };
  } finally {
    watcher?.close();
    await killAll(agents);
    await set?.stop();
    await dropDb(uri, db).catch(() => undefined);
  }
}

/** Each instance's hot spots (self time) from the CPU profiles of a `--profile` run. */
function printProfiles(dir: string, instances: number): void {
  for (let slot = 0; slot < instances; slot += 1) {
    const file = newestProfile(path.join(dir, `${instances}-${slot}`));
    if (!file) {
      console.log(`no CPU profile was written for instance ${slot + 1} of ${instances}`);
      continue;
    }
    const { spots, idlePercent, gcPercent } = hotSpots(file, 12);
    console.log(
      `\n${instances} instance(s), instance ${slot + 1} (self time, % of non-idle samples; idle ${fixed(idlePercent, 0)}%, GC ${fixed(gcPercent, 1)}%):`,
    );
    for (const s of spots) console.log(`  ${fixed(s.percent, 1).padStart(5)}%  ${s.name}`);
  }
}

async function throughputSection(uri: string, minOps: number, profile: boolean): Promise<void> {
  heading('Bench 10b: dispatch throughput, 1 vs 3 instances (0-ms operations, MongoDB)');
  const ops = Math.ceil(minOps / (TERMS - 1)) * (TERMS - 1);
  console.log(
    `${TP_AGENTS} agent-node × ${TP_WORKERS} workers, ${int(ops)} ops as ${ops / (TERMS - 1)} flat sums of ${TERMS} terms, submitted 16 at a time (3 instances: round-robin over the instances, agents starting on instance k mod 3, the dashboard watcher on the leader); first submit → last finishedAt`,
  );
  const redis = await startRedis();
  try {
    const profileDir = profile ? mkdtempSync(path.join(tmpdir(), 'expr-prof-cl-')) : undefined;
    const one = await measureThroughput(uri, 1, minOps, redis, profileDir);
    process.stdout.write('.');
    const three = await measureThroughput(uri, 3, minOps, redis, profileDir);
    process.stdout.write('\n');
    console.log(
      table(
        ['instances', 'ops/s', 'orchestrator CPU ms/1k (sum)', 'per instance CPU ms/1k'],
        [
          [
            '1 (no REDIS_URL)',
            int(one.opsPerSecond),
            fixed(one.cpuMsPer1k, 0),
            fixed(one.cpuPerInstance[0]!, 0),
          ],
          [
            '3 (REDIS_URL)',
            int(three.opsPerSecond),
            fixed(three.cpuMsPer1k, 0),
            three.cpuPerInstance.map((c) => fixed(c, 0)).join(' / '),
          ],
        ],
      ),
    );
    console.log(
      `3 instances / 1 instance: ${fixed(three.opsPerSecond / one.opsPerSecond)}× the ops/s, ${fixed(three.cpuMsPer1k / one.cpuMsPer1k)}× the orchestrator CPU per op (per-instance order: slot 1 / 2 / 3; slot 1 led)`,
    );
    if (profileDir) {
      printProfiles(profileDir, 1);
      printProfiles(profileDir, 3);
      console.log(`profiles: ${profileDir}`);
    }
  } finally {
    await redis.stop();
  }
}

// ------------------------------------------------------------------------------------ (c)

async function idleSection(uri: string, perInstance: number, idleS: number): Promise<void> {
  const total = INSTANCES * perInstance;
  heading(`Bench 10c: idle agents over ${INSTANCES} instances (${int(total)} connections)`);
  console.log(
    `${INSTANCES} client processes × ${int(perInstance)} connections, one process per instance (websocket, waves of 50); idle window ${idleS} s; agents counted by the leader's GET /api/v1/agents`,
  );
  const db = dbName('idle');
  const redis = await startRedis();
  let set: OrchestratorSet | null = null;
  const helpers: ChildHandle[] = [];
  try {
    set = await OrchestratorSet.start({
      count: INSTANCES,
      env: {
        MONGODB_URI: uri,
        MONGODB_DB: db,
        REDIS_URL: redis.url,
        JWT_SECRET,
        MAX_SOCKETS_PER_ADDRESS: String(Math.max(20_000, total + 100)),
      },
    });
    const cluster = set;
    const leader = await cluster.leader();
    const rssBase = cluster.slots.map((s) => rssMiB(s.proc!.pid));
    const connectStart = performance.now();
    helpers.push(
      ...(await spawnConnectedHelpers(
        'idle-agents',
        INSTANCES,
        (p) => [cluster.slots[p]!.url, String(perInstance), `idle${p}`, '1', '50'],
        600_000,
      )),
    );
    const connectedS = (performance.now() - connectStart) / 1000;
    let activeNow = 0;
    await waitFor(
      async () => {
        activeNow = await activeAgents(leader.url);
        return activeNow === total;
      },
      180_000,
      `${total} agents active on the leader`,
      500,
    ).catch(() => undefined);
    const activeS = (performance.now() - connectStart) / 1000;
    console.log(
      `helpers connected ${int(total)} sockets in ${fixed(connectedS, 1)} s; the leader listed ${int(activeNow)} active after ${fixed(activeS, 1)} s`,
    );
    await sleep(2000);
    await helperReceipts(helpers, -1); // resets the helpers' longest ping gap
    const meters = cluster.slots.map((s) => cpuMeter(s.proc!.pid));
    const rss = cluster.slots.map(() => [] as number[]);
    const activeSamples: number[] = [];
    const end = performance.now() + idleS * 1000;
    let nextCount = performance.now();
    while (performance.now() < end) {
      cluster.slots.forEach((s, i) => rss[i]!.push(rssMiB(s.proc!.pid)));
      if (performance.now() >= nextCount) {
        activeSamples.push(await activeAgents(leader.url));
        nextCount += 5000;
      }
      await sleep(250);
    }
    activeSamples.push(await activeAgents(leader.url));
    const cpu = meters.map((m) => m.stop().percent);
    const { disconnects, maxPingGapMs: gap } = await helperReceipts(helpers, -1);
    const roles = await Promise.all(
      cluster.slots.map(async (s) => (await readyz(s.url))?.role ?? '?'),
    );
    console.log(
      table(
        [
          'instance',
          'role',
          'agents held',
          'RSS before MiB',
          'RSS idle max MiB',
          'CPU % of a core',
        ],
        cluster.slots.map((s, i) => [
          `${i + 1}`,
          roles[i]!,
          int(perInstance),
          fixed(rssBase[i]!, 0),
          fixed(max(rss[i]!), 0),
          fixed(cpu[i]!, 1),
        ]),
      ),
    );
    const allActive = activeSamples.every((a) => a === total) && disconnects === 0;
    console.log(
      `active on the leader during the idle window (every 5 s): ${activeSamples.map(int).join(', ')} of ${int(total)}; client disconnects ${disconnects}; longest ping gap ${fixed(gap, 0)} ms`,
    );
    console.log(`all ${int(total)} stay active over ${idleS} s: ${verdict(allActive)}`);
  } finally {
    for (const h of helpers) h.child.send?.({ type: 'close' });
    await Promise.all(helpers.map((h) => stopProcess(h, 'SIGTERM', 5000)));
    await set?.stop();
    await dropDb(uri, db).catch(() => undefined);
    await redis.stop();
  }
}

export async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const only = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const idleArg = argv.find((a) => a.startsWith('--idle='))?.slice('--idle='.length);
  const { quick, profile } = benchArgs(
    argv.filter((a) => !a.startsWith('--only=') && !a.startsWith('--idle=')),
  );
  heading('Bench 10: several orchestrators (REDIS_URL)');
  const missing = clusterUnavailable(process.env.MONGODB_URI);
  if (missing) {
    console.log(`skipped: ${missing}`);
    return;
  }
  const uri = process.env.MONGODB_URI!;
  console.log(describeMachine());
  console.log(`MongoDB: ${uri.replace(/\/\/[^@/]*@/, '//***@')}; a private redis-server per part`);
  const parts = new Set((only ?? 'a,b,c').split(','));
  if (parts.has('a')) {
    // A failed takeover is a finding: reported, and the other parts still run.
    await takeoverSection(uri, quick ? 3 : 10).catch((err: unknown) => {
      console.log(`\nBench 10a FAILED: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    });
  }
  if (parts.has('b')) await throughputSection(uri, quick ? 10_000 : 50_000, profile);
  if (parts.has('c'))
    await idleSection(uri, idleArg ? Number(idleArg) : quick ? 200 : 2000, quick ? 5 : 20);
}

if (isMain(import.meta.url)) runMain(main);
