/**
 * The chaos cluster variant: several orchestrators (REDIS_URL) as one service.
 *
 * 1. starts a private redis-server on a free loopback port and 3 orchestrator processes on fixed
 *    ports (a killed one comes back on its port) sharing one MongoDB database and that Redis;
 *    real agent-node processes get every instance's URL, each list starting at another instance;
 * 2. submits N random expressions with independently known answers (expressions.ts), paced, each
 *    with a client id, through a random live instance per attempt, retried on 503 and on
 *    connection errors (the id makes a retry of an accepted submission harmless);
 * 3. meanwhile SIGKILLs the leader or a gateway at random (the first kill takes the leader, the
 *    second a gateway), only while all instances run, so at least 2 are always alive; a
 *    supervisor restarts every dead instance after a moment, as compose's `restart:` would —
 *    including a leader that stepped down on its own (exit 75); agents are SIGKILLed and
 *    SIGSTOPped as in the other variants;
 * 4. waits until every expression is final, stops the gateways and then the leader, reads
 *    MongoDB directly and checks every expression (exact value, or within its proven rounding
 *    bound) and every recorded operation (once, consistent with its inputs) — run.ts's `verify`.
 *
 * It never asserts timings; it returns a report whose `failures` must be empty.
 */
import type { ExpressionView } from '@expressionist/core';
import { MongoStore } from '@expressionist/server/store';
import {
  clusterUnavailable,
  freePort,
  kill,
  request,
  Rng,
  sleep,
  spawnOrchestrator,
  startRedis,
  stopProcess,
  waitFor,
  type ChildHandle,
  type OrchestratorProcess,
} from '@expressionist/testkit';
import { AgentPool } from './agents.js';
import { listAll } from './client.js';
import { generateExpressions } from './expressions.js';
import {
  emptyReport,
  failureRecorder,
  formatReport,
  mongoOpResults,
  verify,
  type ChaosReport,
} from './run.js';

/** Why the cluster variant cannot run here, or null when it can. */
export const clusterChaosUnavailable = clusterUnavailable;

export interface ClusterChaosOptions {
  name: string;
  expressions: number;
  seed: number;
  mongodbUri: string;
  instances: number;
  agents: number;
  concurrency: number;
  /** Agent SIGKILL + replacement period; 0 disables the agent chaos. */
  agentKillEveryMs: number;
  freezeMs: [number, number];
  /** How many instance SIGKILLs at most (fewer when every expression is final first). */
  instanceKills: number;
  /** Pause before each instance SIGKILL, ms (random in range). */
  killGapMs: [number, number];
  /** A dead instance is started again after this long, ms (random in range). */
  restartAfterMs: [number, number];
  leaseMs: number;
  submitWindowMs: number;
  finishTimeoutMs: number;
  times: { add: number; sub: number; mul: number; div: number };
  log?: (line: string) => void;
}

export interface ClusterChaosReport extends ChaosReport {
  leaderKills: number;
  gatewayKills: number;
  /** Leaders that left on their own with exit 75 (lease lost), restarted by the supervisor. */
  steppedDown: number;
  /** Leader epoch at the end (one per acquisition of the lease). */
  finalEpoch: number;
}

export function defaultClusterChaosOptions(
  overrides: Partial<ClusterChaosOptions> &
    Pick<ClusterChaosOptions, 'name' | 'expressions' | 'mongodbUri'>,
): ClusterChaosOptions {
  return {
    seed: Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31)),
    instances: 3,
    agents: 4,
    concurrency: 2,
    agentKillEveryMs: 3000,
    freezeMs: [1000, 3000],
    instanceKills: 6,
    killGapMs: [2000, 5000],
    restartAfterMs: [300, 1500],
    leaseMs: 2000,
    submitWindowMs: 10_000,
    finishTimeoutMs: 240_000,
    times: { add: 0, sub: 10, mul: 20, div: 30 },
    ...overrides,
  };
}

const FINAL = new Set(['done', 'error', 'canceled']);
const STEPPED_DOWN_EXIT = 75;

interface Slot {
  index: number;
  url: string;
  port: number;
  proc: OrchestratorProcess | null;
  /** Being started again (by the supervisor). */
  restarting: boolean;
  /** SIGKILLed by us (its exit is expected). */
  killedByUs: boolean;
}

interface Ready {
  role?: string;
  leader?: { epoch?: number } | null;
}

async function readyz(url: string): Promise<Ready | null> {
  try {
    const res = await request(url, 'GET', '/readyz', { timeoutMs: 2000 });
    return res.json as Ready | null;
  } catch {
    return null;
  }
}

export async function runClusterChaos(o: ClusterChaosOptions): Promise<ClusterChaosReport> {
  const started = Date.now();
  const log = o.log ?? (() => undefined);
  const tag = `${o.name}-${o.seed.toString(36)}`.replace(/[^A-Za-z0-9._:-]/g, '-');
  const mongoDb = `exprchaos_${tag.replace(/[^A-Za-z0-9_]/g, '_')}_${process.pid}`.slice(0, 63);
  const report: ClusterChaosReport = {
    ...emptyReport(o.name, 'mongodb+redis', o.seed, o.expressions),
    leaderKills: 0,
    gatewayKills: 0,
    steppedDown: 0,
    finalEpoch: 0,
  };

  const fail = failureRecorder(report);

  const rng = new Rng(o.seed ^ 0xc1a5);
  const generated = generateExpressions(o.expressions, o.seed);
  const ids = generated.map((_, i) => `${tag}-${i}`);

  let redis: ChildHandle | null = null;
  const slots: Slot[] = [];
  let pool: AgentPool | null = null;
  let supervising = true;
  let supervisor: Promise<void> = Promise.resolve();

  const alive = (): Slot[] => slots.filter((s) => s.proc !== null && s.proc.alive());
  const anyLive = (): Slot | undefined => {
    const live = alive();
    return live.length === 0 ? undefined : rng.pick(live);
  };
  let env: Record<string, string> = {};
  const startSlot = async (slot: Slot): Promise<void> => {
    slot.proc = await spawnOrchestrator({
      env: { ...env, PORT: String(slot.port) },
      logLevel: 'info',
      readyTimeoutMs: 60_000,
    });
    slot.killedByUs = false;
  };
  const leaderSlot = async (timeoutMs: number): Promise<Slot> =>
    waitFor(
      async () => {
        for (const s of alive()) if ((await readyz(s.url))?.role === 'leader') return s;
        return null;
      },
      timeoutMs,
      'a leader',
      100,
    );

  try {
    // Redis of our own, on a free loopback port.
    const privateRedis = await startRedis();
    redis = privateRedis.handle;
    env = {
      MONGODB_URI: o.mongodbUri,
      MONGODB_DB: mongoDb,
      REDIS_URL: privateRedis.url,
      JWT_SECRET: `chaos-cluster-secret-${tag}-0123456789abcdef`,
      LEADER_LEASE_MS: String(o.leaseMs),
      AGENTS: '0',
      TIME_ADDITION_MS: String(o.times.add),
      TIME_SUBTRACTION_MS: String(o.times.sub),
      TIME_MULTIPLICATIONS_MS: String(o.times.mul),
      TIME_DIVISIONS_MS: String(o.times.div),
      HEARTBEAT_INTERVAL_MS: '500',
      HEARTBEAT_TIMEOUT_MS: '1000',
      LEASE_GRACE_MS: '1500',
    };
    for (let i = 0; i < o.instances; i += 1) {
      const port = await freePort();
      slots.push({
        index: i,
        port,
        url: `http://127.0.0.1:${port}`,
        proc: null,
        restarting: false,
        killedByUs: false,
      });
    }
    // One after the other: the first to start leads.
    for (const slot of slots) await startSlot(slot);
    log(
      `[${o.name}] ${o.instances} instances at ${slots.map((s) => s.port).join(', ')} (MongoDB + Redis) after ${Date.now() - started} ms, seed ${o.seed}, ${o.expressions} expressions`,
    );

    // The supervisor: restarts every dead instance after a moment (compose's `restart:`).
    supervisor = (async () => {
      while (supervising) {
        for (const slot of slots) {
          if (slot.restarting || slot.proc === null || slot.proc.alive()) continue;
          slot.restarting = true;
          const code = await slot.proc.exited;
          if (!slot.killedByUs) {
            if (code === STEPPED_DOWN_EXIT) {
              report.steppedDown += 1;
              log(`[${o.name}] instance ${slot.index + 1} stepped down (exit 75)`);
            } else
              fail(
                `instance ${slot.index + 1} exited with ${code}: ${slot.proc.output().slice(-1500)}`,
              );
          }
          void (async () => {
            await sleep(rng.int(o.restartAfterMs[0], o.restartAfterMs[1]));
            if (!supervising) return;
            try {
              await startSlot(slot);
              report.orchestratorRestarts += 1;
            } catch (err) {
              fail(`restarting instance ${slot.index + 1} failed: ${String(err).slice(0, 1500)}`);
            } finally {
              slot.restarting = false;
            }
          })();
        }
        await sleep(100);
      }
    })();

    const urls = slots.map((s) => s.url);
    pool = new AgentPool(
      (n) => Array.from({ length: urls.length }, (_, k) => urls[(n + k) % urls.length]!).join(','),
      o.concurrency,
      tag,
    );
    pool.spawn(o.agents);
    await waitFor(
      async () => {
        const res = await request((await leaderSlot(30_000)).url, 'GET', '/api/v1/agents');
        const agents = (res.json as { agents: { status: string }[] }).agents;
        return agents.filter((a) => a.status === 'active').length >= o.agents;
      },
      30_000,
      'the agents to join',
      200,
    );
    log(`[${o.name}] agents joined after ${Date.now() - started} ms`);
    if (o.agentKillEveryMs > 0)
      pool.startChaos(rng, { killEveryMs: o.agentKillEveryMs, freezeMs: o.freezeMs });

    // Submissions, paced, 8 in flight at most, each attempt through a random live instance.
    let submitted = 0;
    const submitStart = Date.now();
    const submitDeadline = submitStart + o.submitWindowMs + o.finishTimeoutMs;
    const submitOne = async (i: number): Promise<void> => {
      let attempts = 0;
      let last = '';
      while (Date.now() < submitDeadline) {
        attempts += 1;
        const slot = anyLive();
        if (slot) {
          try {
            const res = await request(slot.url, 'POST', '/api/v1/calculate', {
              json: { expression: generated[i]!.source, id: ids[i]! },
              timeoutMs: 10_000,
            });
            if (res.status === 201 || res.status === 200) {
              if (attempts > 1) report.retriedSubmissions += 1;
              submitted += 1;
              return;
            }
            if (res.status !== 503)
              throw new Error(
                `submit of ${ids[i]} answered ${res.status} ${res.text.slice(0, 300)}`,
              );
            last = `503 ${res.text.slice(0, 200)}`;
          } catch (err) {
            if (err instanceof Error && err.message.startsWith('submit of')) throw err;
            last = String(err);
          }
        }
        await sleep(100);
      }
      throw new Error(`submit of ${ids[i]} did not succeed (${attempts} attempts; last: ${last})`);
    };
    const submitting = (async () => {
      let next = 0;
      const worker = async (): Promise<void> => {
        for (;;) {
          const i = next;
          next += 1;
          if (i >= generated.length) return;
          const due = submitStart + (o.submitWindowMs * i) / generated.length;
          if (due > Date.now()) await sleep(due - Date.now());
          await submitOne(i);
        }
      };
      await Promise.all(Array.from({ length: 8 }, () => worker()));
    })();
    submitting.catch(() => undefined);

    // Statuses, polled in the background through any live instance.
    let latest = new Map<string, ExpressionView>();
    const unfinished = (): number =>
      [...latest.values()].filter((v) => !FINAL.has(v.status)).length;
    const allFinal = (): boolean => ids.every((id) => FINAL.has(latest.get(id)?.status ?? ''));
    const poll = async (): Promise<void> => {
      const slot = anyLive();
      if (!slot) return;
      try {
        latest = new Map((await listAll(slot.url)).map((v) => [v.id, v]));
      } catch {
        // a takeover, or that instance just died: next time
      }
    };
    let polling = true;
    let lastProgress = 0;
    const poller = (async () => {
      while (polling) {
        await poll();
        if (Date.now() - lastProgress >= 3000) {
          lastProgress = Date.now();
          log(
            `[${o.name}] ${Math.round((Date.now() - started) / 1000)} s: ${submitted} submitted, ${latest.size - unfinished()} final, ${alive().length} instances up`,
          );
        }
        await sleep(300);
      }
    })();

    // The killer: the leader or a gateway, only while every instance runs.
    let killing = true;
    const killer = (async () => {
      for (let k = 0; k < o.instanceKills && killing; k += 1) {
        await sleep(rng.int(o.killGapMs[0], o.killGapMs[1]));
        if (!killing) return;
        try {
          await waitFor(
            () => alive().length === slots.length && slots.every((s) => !s.restarting),
            90_000,
            'every instance up',
            50,
          );
          const lead = await leaderSlot(30_000);
          if (!killing || (allFinal() && k > 0)) return;
          const gateways = alive().filter((s) => s !== lead);
          const takeLeader = k === 0 || (k > 1 && rng.chance(0.5)) || gateways.length === 0;
          const victim = takeLeader ? lead : rng.pick(gateways);
          report.unfinishedAtRestart.push(unfinished());
          log(
            `[${o.name}] SIGKILL instance ${victim.index + 1} (${takeLeader ? 'leader' : 'gateway'}): ${submitted} submitted, ${unfinished()} unfinished`,
          );
          victim.killedByUs = true;
          await kill(victim.proc!);
          if (takeLeader) report.leaderKills += 1;
          else report.gatewayKills += 1;
        } catch (err) {
          fail(`instance kill ${k + 1}: ${String(err)}`);
          return;
        }
      }
    })();

    try {
      await submitting.catch((err: unknown) => fail(String(err)));
      const finishDeadline = Date.now() + o.finishTimeoutMs;
      for (;;) {
        await poll();
        if (allFinal()) break;
        if (Date.now() > finishDeadline) {
          fail(`${unfinished()} expressions still unfinished after ${o.finishTimeoutMs} ms`);
          break;
        }
        await sleep(300);
      }
    } finally {
      killing = false;
      await killer;
      polling = false;
      await poller;
    }
    log(`[${o.name}] all final after ${Date.now() - started} ms`);

    await pool.stopChaos();
    report.agentKills = pool.counters.killed;
    report.agentFreezes = pool.counters.frozen;
    report.agentsSpawned = pool.counters.spawned;
    await pool.close();

    // Every instance up again, then the metrics of the leader and a graceful stop: gateways
    // first (a leader stopped first hands its lease over to one of them), then the leader.
    await waitFor(
      () => alive().length === slots.length && slots.every((s) => !s.restarting),
      90_000,
      'every instance up',
      50,
    ).catch(() => fail('not every instance was up again at the end'));
    supervising = false;
    await supervisor;
    const lead = await leaderSlot(30_000);
    report.finalEpoch = (await readyz(lead.url))?.leader?.epoch ?? 0;
    log(
      `[${o.name}] leader epoch ${report.finalEpoch} after ${report.leaderKills} leader and ${report.gatewayKills} gateway SIGKILLs`,
    );
    const stopOne = async (slot: Slot): Promise<void> => {
      const proc = slot.proc!;
      await stopProcess(proc, 'SIGTERM', 20_000);
      if (proc.child.exitCode !== 0)
        fail(
          `instance ${slot.index + 1} stopped with ${proc.child.exitCode ?? proc.child.signalCode}`,
        );
    };
    await Promise.all(
      alive()
        .filter((s) => s !== lead)
        .map(stopOne),
    );
    await stopOne(lead);
    log(`[${o.name}] instances stopped after ${Date.now() - started} ms`);

    const store = new MongoStore(o.mongodbUri, mongoDb);
    await store.init();
    try {
      const opResultsOf = await mongoOpResults(o.mongodbUri, mongoDb, store, ids, rng, fail);
      await verify(generated, ids, latest, store, opResultsOf, report, fail);
      log(`[${o.name}] verified after ${Date.now() - started} ms`);
    } finally {
      await store.dropDatabase();
      await store.close();
    }
  } finally {
    supervising = false;
    await supervisor.catch(() => undefined);
    await pool?.close();
    await Promise.all(slots.map((s) => (s.proc ? kill(s.proc) : Promise.resolve())));
    if (redis) await kill(redis);
    report.durationMs = Date.now() - started;
  }
  return report;
}

/** A one-paragraph summary of a cluster report. */
export function formatClusterReport(r: ClusterChaosReport): string {
  const [head, ...rest] = formatReport(r).split('\n');
  return [
    head,
    `  instances: ${r.leaderKills} leader SIGKILLs, ${r.gatewayKills} gateway SIGKILLs, ${r.steppedDown} stepped down on their own (exit 75), ${r.orchestratorRestarts} restarts; leader epoch at the end ${r.finalEpoch}`,
    ...rest,
  ].join('\n');
}
