/**
 * The chaos driver. One function, `runChaos`, runs one variant end to end:
 *
 * 1. starts the real orchestrator CLI (fixed port, so it can be restarted on it) and a pool of
 *    real agent-node processes;
 * 2. submits N random expressions with independently known answers (expressions.ts), paced over
 *    a window, each with a client id so a submission cut off by a crash is retried idempotently;
 * 3. meanwhile SIGKILLs a random agent (and starts a replacement) every 2 s and SIGSTOPs another
 *    for 1–3 s; optionally SIGKILLs and restarts the orchestrator itself, and optionally adds a
 *    lying agent;
 * 4. waits until every expression is final, reads the metrics, stops the orchestrator, opens its
 *    store directly and checks every expression and every recorded operation result.
 *
 * It never asserts timings; it returns a report whose `failures` must be empty.
 */
import {
  compile,
  evaluatePlan,
  execute,
  ExpressionistError,
  type ExpressionView,
  type Plan,
} from '@expressionist/core';
import { MongoClient } from 'mongodb';
import {
  decodeCompact,
  expandResults,
  MongoStore,
  SqliteStore,
  type Store,
  type StoredOpResult,
} from '@expressionist/server/store';
import { AgentPool, LyingAgent } from './agents.js';
import { accumulate, listAll, submitWithRetry } from './client.js';
import {
  boundedToDigits,
  generateExpressions,
  judgeValue,
  type GeneratedExpression,
} from './expressions.js';
import {
  freePort,
  kill,
  request,
  Rng,
  sleep,
  spawnOrchestrator,
  tempDir,
  waitFor,
  type OrchestratorProcess,
} from '@expressionist/testkit';

export interface ChaosOptions {
  /** Label of the variant, used in ids and the summary. */
  name: string;
  expressions: number;
  seed: number;
  store: 'embedded' | 'mongodb';
  /** Required for the mongodb store. */
  mongodbUri?: string;
  agents: number;
  concurrency: number;
  /** Agent SIGKILL + replacement period; 0 disables the agent chaos. */
  killEveryMs: number;
  /** SIGSTOP duration range. */
  freezeMs: [number, number];
  /** How many times the orchestrator is SIGKILLed and restarted mid-run. */
  orchestratorRestarts: number;
  /** Adds a socket agent that lies on every tenth task. */
  liar: boolean;
  /** Submissions are spread evenly over this window. */
  submitWindowMs: number;
  /** Give up waiting for final statuses after this long (reported as failures). */
  finishTimeoutMs: number;
  /** Operation times in ms. */
  times: { add: number; sub: number; mul: number; div: number };
  log?: (line: string) => void;
}

export interface ChaosReport {
  name: string;
  store: string;
  seed: number;
  expressions: number;
  /** Problems found; the run passed when empty. */
  failures: string[];
  done: number;
  divZero: number;
  cached: number;
  /** Answers checked against the exact rational text. */
  exactAnswers: number;
  /** Inexact (rounded) answers proven within 30 significant digits of the exact value. */
  bounded30: number;
  /** Inexact answers only proven within their (looser) error bound, e.g. after cancellation. */
  boundedOther: number;
  opResultsChecked: number;
  requeued: Record<string, number>;
  rejected: Record<string, number>;
  agentKills: number;
  agentFreezes: number;
  agentsSpawned: number;
  orchestratorRestarts: number;
  /** Unfinished expressions at each orchestrator kill (from the latest poll). */
  unfinishedAtRestart: number[];
  /** Submissions that needed more than one attempt (cut off by a crash). */
  retriedSubmissions: number;
  liar?: { tasks: number; lies: number; quarantined: boolean; listedQuarantined: boolean };
  durationMs: number;
}

const FINAL = new Set(['done', 'error', 'canceled']);
const MAX_FAILURES = 50;

export function defaultChaosOptions(
  overrides: Partial<ChaosOptions> & Pick<ChaosOptions, 'name' | 'expressions'>,
): ChaosOptions {
  return {
    seed: Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31)),
    store: 'embedded',
    agents: 4,
    concurrency: 2,
    killEveryMs: 2000,
    freezeMs: [1000, 3000],
    orchestratorRestarts: 0,
    liar: false,
    submitWindowMs: 10_000,
    finishTimeoutMs: 240_000,
    times: { add: 0, sub: 10, mul: 20, div: 30 },
    ...overrides,
  };
}

/** A report with nothing counted yet. */
export function emptyReport(
  name: string,
  store: ChaosReport['store'],
  seed: number,
  expressions: number,
): ChaosReport {
  return {
    name,
    store,
    seed,
    expressions,
    failures: [],
    done: 0,
    divZero: 0,
    cached: 0,
    exactAnswers: 0,
    bounded30: 0,
    boundedOther: 0,
    opResultsChecked: 0,
    requeued: {},
    rejected: {},
    agentKills: 0,
    agentFreezes: 0,
    agentsSpawned: 0,
    orchestratorRestarts: 0,
    unfinishedAtRestart: [],
    retriedSubmissions: 0,
    durationMs: 0,
  };
}

/** Records a failure in the report, keeping at most MAX_FAILURES of them. */
export function failureRecorder(report: { failures: string[] }): (message: string) => void {
  return (message) => {
    if (report.failures.length < MAX_FAILURES) report.failures.push(message);
    else if (report.failures.length === MAX_FAILURES)
      report.failures.push('… more failures omitted');
  };
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = o.log ?? (() => undefined);
  const tag = `${o.name}-${o.seed.toString(36)}`.replace(/[^A-Za-z0-9._:-]/g, '-');
  const data = tempDir('expr-chaos-');
  const mongoDb = `exprchaos_${tag.replace(/[^A-Za-z0-9_]/g, '_')}_${process.pid}`.slice(0, 63);
  if (o.store === 'mongodb' && !o.mongodbUri) throw new Error('the mongodb store needs mongodbUri');
  const report = emptyReport(o.name, o.store, o.seed, o.expressions);
  const fail = failureRecorder(report);

  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    DATA_DIR: data.dir,
    WEB_DIR: `${data.dir}/no-web`,
    // An empty MONGODB_URI means unset, whatever this process's environment holds.
    MONGODB_URI: o.store === 'mongodb' ? o.mongodbUri! : '',
    MONGODB_DB: mongoDb,
    AGENTS: '0',
    TIME_ADDITION_MS: String(o.times.add),
    TIME_SUBTRACTION_MS: String(o.times.sub),
    TIME_MULTIPLICATIONS_MS: String(o.times.mul),
    TIME_DIVISIONS_MS: String(o.times.div),
    HEARTBEAT_INTERVAL_MS: '500',
    HEARTBEAT_TIMEOUT_MS: '1000',
    LEASE_GRACE_MS: '1500',
    LOG_LEVEL: 'info',
  };

  const rng = new Rng(o.seed ^ 0x5eed);
  const generated = generateExpressions(o.expressions, o.seed);
  const ids = generated.map((_, i) => `${tag}-${i}`);
  let orchestrator: OrchestratorProcess | null = null;
  let pool: AgentPool | null = null;
  let liar: LyingAgent | null = null;
  let watching = true;
  const metricsTexts: string[] = [];

  try {
    orchestrator = await spawnOrchestrator({ env });
    const url = orchestrator.url;
    log(
      `[${o.name}] orchestrator at ${url} (${o.store}) after ${Date.now() - started} ms, seed ${o.seed}, ${o.expressions} expressions`,
    );
    pool = new AgentPool(url, o.concurrency, tag);
    pool.spawn(o.agents);
    let liarWatch: Promise<{ quarantined: boolean; listed: boolean }> | null = null;
    if (o.liar) {
      const lying = new LyingAgent(url, `${tag}-liar`.slice(0, 64), 2);
      liar = lying;
      // Checks the agents list as soon as the liar is told it is quarantined: a quarantined
      // agent is listed only for the lost-agent retention time.
      liarWatch = (async () => {
        while (watching && lying.quarantinedReason === null) await sleep(50);
        if (lying.quarantinedReason === null) return { quarantined: false, listed: false };
        for (let i = 0; i < 100; i += 1) {
          const res = await request(url, 'GET', '/api/v1/agents').catch(() => null);
          const agents =
            (res?.json as { agents?: { id: string; status: string }[] } | null)?.agents ?? [];
          if (agents.some((a) => a.id === lying.id && a.status === 'quarantined'))
            return { quarantined: true, listed: true };
          await sleep(100);
        }
        return { quarantined: true, listed: false };
      })();
    }
    await waitFor(
      async () => {
        const res = await request(url, 'GET', '/api/v1/agents');
        const agents = (res.json as { agents: { status: string }[] }).agents;
        return agents.filter((a) => a.status === 'active').length >= o.agents + (o.liar ? 1 : 0);
      },
      30_000,
      'the agents to join',
      100,
    );
    log(`[${o.name}] agents joined after ${Date.now() - started} ms`);
    if (o.killEveryMs > 0)
      pool.startChaos(rng, { killEveryMs: o.killEveryMs, freezeMs: o.freezeMs });

    // Submissions, paced, 8 in flight at most, retried across restarts.
    let submitted = 0;
    const submitStart = Date.now();
    const submitDeadline = submitStart + o.submitWindowMs + o.finishTimeoutMs;
    const submitting = (async () => {
      let next = 0;
      const worker = async (): Promise<void> => {
        for (;;) {
          const i = next;
          next += 1;
          if (i >= generated.length) return;
          const due = submitStart + (o.submitWindowMs * i) / generated.length;
          if (due > Date.now()) await sleep(due - Date.now());
          const outcome = await submitWithRetry(url, generated[i]!.source, ids[i]!, submitDeadline);
          if (outcome.attempts > 1) report.retriedSubmissions += 1;
          submitted += 1;
        }
      };
      await Promise.all(Array.from({ length: 8 }, () => worker()));
    })();
    submitting.catch(() => undefined);

    // Poll statuses in the background; restart the orchestrator at evenly spaced points of the
    // progress (share of expressions final).
    let latest = new Map<string, ExpressionView>();
    /** Accepted expressions not final yet, as of the latest poll. */
    const unfinished = (): number =>
      [...latest.values()].filter((v) => !FINAL.has(v.status)).length;
    const poll = async (): Promise<void> => {
      try {
        latest = new Map((await listAll(url)).map((v) => [v.id, v]));
      } catch {
        // The orchestrator is down or busy; try again.
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
            `[${o.name}] ${Math.round((Date.now() - started) / 1000)} s: ${submitted} submitted, ${latest.size - unfinished()} final`,
          );
        }
        await sleep(300);
      }
    })();
    try {
      for (let k = 1; k <= o.orchestratorRestarts; k += 1) {
        // Mid-run: after a share of the expressions is final, while many are still running.
        const threshold = Math.floor((0.8 * o.expressions * k) / (o.orchestratorRestarts + 1));
        await waitFor(
          () => latest.size - unfinished() >= threshold,
          o.submitWindowMs + o.finishTimeoutMs,
          `${threshold} final expressions`,
          50,
        ).catch(() =>
          fail(`restart ${k}: fewer than ${threshold} expressions final before the timeout`),
        );
        await poll();
        report.unfinishedAtRestart.push(unfinished());
        try {
          metricsTexts.push((await request(url, 'GET', '/metrics')).text);
        } catch (err) {
          fail(`reading /metrics before restart ${k} failed: ${String(err)}`);
        }
        log(
          `[${o.name}] SIGKILL orchestrator (restart ${k}): ${submitted} submitted, ${unfinished()} unfinished`,
        );
        await kill(orchestrator);
        await sleep(rng.int(100, 600));
        const restartedAt = Date.now();
        orchestrator = await spawnOrchestrator({ env, readyTimeoutMs: o.finishTimeoutMs });
        log(`[${o.name}] restarted; listening after ${Date.now() - restartedAt} ms`);
        report.orchestratorRestarts += 1;
        // (A few expressions polled as unfinished may have finished just before the kill.) The
        // line is logged before it listens, but the pipe may deliver it just after /readyz.
        const restarted = orchestrator;
        const resumed = await waitFor(
          () => restarted.output().includes('resumed unfinished expressions'),
          2000,
          'the resume log line',
        ).catch(() => false);
        if (!resumed && report.unfinishedAtRestart[k - 1]! >= 10) {
          fail(`restart ${k}: the orchestrator did not log "resumed unfinished expressions"`);
        }
      }
      await submitting.catch((err: unknown) => fail(String(err)));

      const finishDeadline = Date.now() + o.finishTimeoutMs;
      for (;;) {
        await poll();
        if (ids.every((id) => FINAL.has(latest.get(id)?.status ?? ''))) break;
        if (Date.now() > finishDeadline) {
          fail(`${unfinished()} expressions still unfinished after ${o.finishTimeoutMs} ms`);
          break;
        }
        if (!orchestrator.alive()) {
          fail(`the orchestrator died: ${orchestrator.output().slice(-2000)}`);
          break;
        }
        await sleep(300);
      }
    } finally {
      polling = false;
      await poller;
    }
    log(`[${o.name}] all final after ${Date.now() - started} ms`);

    if (liar && liarWatch) {
      // It lies on its tenth task; give it a little time if the run was short.
      const lying = liar;
      await waitFor(
        () => lying.quarantinedReason !== null,
        10_000,
        'the liar to be quarantined',
      ).catch(() => false);
      watching = false;
      const watched = await liarWatch;
      report.liar = {
        tasks: liar.tasks,
        lies: liar.lies,
        quarantined: watched.quarantined,
        listedQuarantined: watched.listed,
      };
      if (!watched.quarantined)
        fail(`the lying agent was not quarantined (${liar.tasks} tasks, ${liar.lies} lies)`);
      else if (!watched.listed)
        fail('GET /api/v1/agents did not list the lying agent as quarantined');
    }

    if (orchestrator.alive()) metricsTexts.push((await request(url, 'GET', '/metrics')).text);
    for (const text of metricsTexts) {
      accumulate(report.requeued, text, 'expressionist_operations_requeued_total', 'reason');
      accumulate(report.rejected, text, 'expressionist_operations_rejected_total', 'reason');
    }

    await pool.stopChaos();
    report.agentKills = pool.counters.killed;
    report.agentFreezes = pool.counters.frozen;
    report.agentsSpawned = pool.counters.spawned;
    await pool.close();
    liar?.close();

    // A graceful stop flushes every pending write; then the store is read directly.
    const last = orchestrator;
    last.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      last.exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 20_000))),
    ]);
    clearTimeout(timer);
    if (!stopped) fail('the orchestrator did not stop within 20 s of SIGTERM');
    else if (last.child.exitCode !== 0)
      fail(`the orchestrator exited with ${last.child.exitCode ?? last.child.signalCode}`);
    await kill(last);

    log(`[${o.name}] orchestrator stopped after ${Date.now() - started} ms`);
    const store: Store =
      o.store === 'mongodb' ? new MongoStore(o.mongodbUri!, mongoDb) : new SqliteStore(data.dir);
    await store.init();
    try {
      const opResultsOf =
        o.store === 'mongodb'
          ? await mongoOpResults(o.mongodbUri!, mongoDb, store, ids, rng, fail)
          : (id: string) => store.getOpResults(id);
      await verify(generated, ids, latest, store, opResultsOf, report, fail);
      log(`[${o.name}] verified after ${Date.now() - started} ms`);
    } finally {
      if (store instanceof MongoStore) await store.dropDatabase();
      await store.close();
    }
  } finally {
    watching = false;
    liar?.close();
    await pool?.close();
    if (orchestrator) await kill(orchestrator);
    data.remove();
    report.durationMs = Date.now() - started;
  }
  return report;
}

function coreOutcome(plan: Plan): { value: string } | { position: number | undefined } {
  try {
    return { value: evaluatePlan(plan) };
  } catch (err) {
    if (err instanceof ExpressionistError && err.code === 'EXPR_DIV_ZERO')
      return { position: err.position };
    throw err;
  }
}

/**
 * Every op result of a MongoDB run — the rows, and the compact records of finished expressions —
 * read in two queries and grouped by expression.
 * (FerretDB answers each `getOpResults` with a collection scan, ~0.1 s apiece; one scan serves
 * them all.) `getOpResults` is still compared with the raw documents for a sample of ids.
 */
export async function mongoOpResults(
  uri: string,
  dbName: string,
  store: Store,
  ids: string[],
  rng: Rng,
  fail: (message: string) => void,
): Promise<(id: string) => Promise<StoredOpResult[]>> {
  const client = new MongoClient(uri);
  const byExpression = new Map<string, StoredOpResult[]>();
  try {
    const docs = await client
      .db(dbName)
      .collection<StoredOpResult & { _id: string }>('op_results')
      .find({})
      .toArray();
    for (const { _id, ...row } of docs) {
      if (_id !== `${row.expressionId}:${row.opId}`)
        fail(`op result document ${_id} holds ${row.expressionId}:${row.opId}`);
      const list = byExpression.get(row.expressionId) ?? [];
      list.push(row);
      byExpression.set(row.expressionId, list);
    }
    // A finished expression keeps its results as one compact record instead of rows (reads
    // prefer the record; a late row beside it is ignored).
    const compacted = await client
      .db(dbName)
      .collection<{ _id: string; results?: string }>('expressions')
      .find({ results: { $exists: true } }, { projection: { results: 1 } })
      .toArray();
    for (const { _id, results } of compacted)
      if (results !== undefined) byExpression.set(_id, expandResults(_id, decodeCompact(results)));
  } finally {
    await client.close();
  }
  for (let i = 0; i < Math.min(10, ids.length); i += 1) {
    const id = rng.pick(ids);
    const viaStore = (await store.getOpResults(id)).map((r) => `${r.opId}=${r.value}`).sort();
    const raw = (byExpression.get(id) ?? []).map((r) => `${r.opId}=${r.value}`).sort();
    if (viaStore.join() !== raw.join())
      fail(
        `${id}: getOpResults (${viaStore.length} rows) differs from the stored documents (${raw.length})`,
      );
  }
  return async (id) => byExpression.get(id) ?? [];
}

/** Checks every expression (API view and store) and every recorded operation result. */
export async function verify(
  generated: GeneratedExpression[],
  ids: string[],
  views: Map<string, ExpressionView>,
  store: Store,
  opResultsOf: (id: string) => Promise<StoredOpResult[]>,
  report: ChaosReport,
  fail: (message: string) => void,
): Promise<void> {
  for (const [i, g] of generated.entries()) {
    const id = ids[i]!;
    const label = `${id} ${JSON.stringify(g.source.length > 120 ? `${g.source.slice(0, 120)}…` : g.source)}`;
    const view = views.get(id);
    const stored = await store.getExpression(id);
    if (!view || !stored) {
      fail(
        `${label}: lost (${view ? 'listed' : 'not listed'}, ${stored ? 'stored' : 'not stored'})`,
      );
      continue;
    }
    if (
      stored.status !== view.status ||
      stored.value !== view.value ||
      stored.error?.code !== view.error?.code
    ) {
      fail(
        `${label}: the store says ${stored.status} ${stored.value ?? stored.error?.code}, the API said ${view.status} ${view.value ?? view.error?.code}`,
      );
    }
    if (stored.expression !== g.source) fail(`${label}: stored source differs`);
    if (view.cached) report.cached += 1;
    const { plan } = compile(g.source);
    const core = coreOutcome(plan);

    if (g.expected.kind === 'div0') {
      if (view.status !== 'error' || view.error?.code !== 'EXPR_DIV_ZERO') {
        fail(
          `${label}: expected EXPR_DIV_ZERO at ${g.expected.position}, got ${view.status} ${view.value ?? JSON.stringify(view.error)}`,
        );
      } else if (view.error.position !== g.expected.position) {
        fail(
          `${label}: EXPR_DIV_ZERO at ${view.error.position}, expected at ${g.expected.position}${view.cached ? ' (answered from the cache)' : ''}`,
        );
      } else {
        report.divZero += 1;
      }
      if (!('position' in core) || core.position !== g.expected.position) {
        fail(
          `${label}: core's evaluatePlan disagrees with the oracle: ${JSON.stringify(core)} vs div0 at ${g.expected.position}`,
        );
      }
    } else {
      const problem =
        view.status === 'done'
          ? judgeValue(g.expected, view.value)
          : `expected done, got ${view.status} ${JSON.stringify(view.error)}`;
      if (problem) fail(`${label}: ${problem}`);
      else {
        report.done += 1;
        if (g.expected.exact) report.exactAnswers += 1;
        else if (boundedToDigits(g.expected, 30)) report.bounded30 += 1;
        else report.boundedOther += 1;
      }
      if (!('value' in core))
        fail(
          `${label}: core's evaluatePlan says division by zero at ${core.position}; the oracle has a value`,
        );
      else if (view.status === 'done' && view.value !== core.value)
        fail(
          `${label}: the answer ${view.value} differs from core's sequential evaluation ${core.value}`,
        );
      else if (judgeValue(g.expected, core.value) !== null)
        fail(
          `${label}: core's evaluatePlan disagrees with the oracle: ${judgeValue(g.expected, core.value)}`,
        );
    }

    // Recorded operation results: once each, and consistent with their inputs.
    const rows = await opResultsOf(id);
    const byOp = new Map<number, StoredOpResult>();
    for (const row of rows) {
      if (byOp.has(row.opId)) fail(`${label}: op ${row.opId} recorded twice`);
      byOp.set(row.opId, row);
    }
    const immediate = view.cached || plan.ops.length === 0;
    if (view.status === 'done') {
      const expectedRows = immediate ? 0 : plan.ops.length;
      if (byOp.size !== expectedRows || rows.length !== expectedRows) {
        fail(
          `${label}: ${rows.length} op results recorded (${byOp.size} distinct), expected ${expectedRows}`,
        );
      }
      if (!immediate && plan.root.kind === 'op' && byOp.get(plan.root.id)?.value !== view.value) {
        fail(
          `${label}: the root op's recorded value ${byOp.get(plan.root.id)?.value} is not the answer ${view.value}`,
        );
      }
    } else if (rows.length > plan.ops.length) {
      fail(`${label}: ${rows.length} op results for ${plan.ops.length} ops`);
    }
    for (const row of byOp.values()) {
      const op = plan.ops[row.opId];
      if (!op) {
        fail(`${label}: a result for op ${row.opId}, which the plan does not have`);
        continue;
      }
      const input = (operand: (typeof op)['a']): string | undefined =>
        operand.kind === 'lit' ? operand.value : byOp.get(operand.id)?.value;
      const a = input(op.a);
      const b = input(op.b);
      if (a === undefined || b === undefined) {
        fail(`${label}: op ${row.opId} recorded while an input op has no recorded result`);
        continue;
      }
      let again: string;
      try {
        again = execute(op.op, a, b);
      } catch (err) {
        fail(
          `${label}: op ${row.opId} (${a} ${op.op} ${b}) recorded ${row.value} but cannot be computed: ${String(err)}`,
        );
        continue;
      }
      if (again !== row.value)
        fail(
          `${label}: op ${row.opId} (${a} ${op.op} ${b}) recorded ${row.value}, recomputed ${again}`,
        );
      report.opResultsChecked += 1;
    }
  }
}

/** A one-paragraph summary of a report. */
export function formatReport(r: ChaosReport): string {
  const sum = (x: Record<string, number>): number => Object.values(x).reduce((s, v) => s + v, 0);
  const detail = (x: Record<string, number>): string =>
    Object.entries(x)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  const lines = [
    `${r.name} (${r.store}, seed ${r.seed}): ${r.failures.length === 0 ? 'PASS' : `FAIL (${r.failures.length} problems)`} in ${(r.durationMs / 1000).toFixed(1)} s`,
    `  expressions ${r.expressions}: done ${r.done} (exact ${r.exactAnswers}, rounded within 30 digits ${r.bounded30}, within bound ${r.boundedOther}), EXPR_DIV_ZERO ${r.divZero}, cached ${r.cached}`,
    `  op results checked ${r.opResultsChecked}; requeued ${sum(r.requeued)} (${detail(r.requeued) || 'none'}); rejected ${sum(r.rejected)} (${detail(r.rejected) || 'none'})`,
    `  agents: ${r.agentKills} SIGKILLed, ${r.agentFreezes} SIGSTOPped, ${r.agentsSpawned} spawned; orchestrator restarts ${r.orchestratorRestarts}${r.unfinishedAtRestart.length ? ` (unfinished at each: ${r.unfinishedAtRestart.join(', ')})` : ''}; retried submissions ${r.retriedSubmissions}`,
  ];
  if (r.liar)
    lines.push(
      `  lying agent: ${r.liar.tasks} tasks, ${r.liar.lies} lies, quarantined ${r.liar.quarantined}, listed as quarantined ${r.liar.listedQuarantined}`,
    );
  for (const f of r.failures) lines.push(`  ✗ ${f}`);
  return lines.join('\n');
}
