/**
 * Bench 11 — strangers' agents (issue 19). Three cases, each run on a fresh orchestrator per
 * trial (fresh store: no cached answers, no standing carried over):
 *
 * - **liars**: accounts mode; one honest agent-node process (an admin-issued credential, 4
 *   workers) and, in the second case, 8 socket agents that answer every task at once with an
 *   error report (4 guests, 4 holding an attacker user's JWT; 4 slots each), joined before the
 *   honest one. A victim user submits 8 small expressions (3–7 operations, + − 200 ms, × ÷ 500 ms)
 *   and waits for all. Target: the makespan with the liars ≤ 1.2× without, and no expression
 *   failing because of them.
 * - **fresh agent**: one fresh agent-node process with 8 workers, 8 independent 5-s
 *   multiplications submitted the moment it has registered. Target: makespan ≤ 1.1× the ideal 5 s.
 * - **npm start**: the orchestrator as `npm start` runs it (accounts mode, AGENTS=2,
 *   COMPUTING_POWER=4: two local agent processes × 4 workers), one 16-term sum with 800 ms
 *   additions. Makespan ÷ the ideal (4 levels × 800 ms); the same ≤ 1.1× target.
 *
 * The makespan is the API's first createdAt → last finishedAt.
 *
 *   node bench/dist/strangers.js [--quick]
 */
import { compile, evaluatePlan, type AgentView, type ExpressionView } from '@expressionist/core';
import {
  Api,
  connectSocketAgent,
  sleep,
  spawnAgent,
  spawnOrchestrator,
  stopProcess,
  type AgentSocket,
} from '@expressionist/testkit';
import { accountsEnv, registerUser, SignedInApi, signInAdmin } from './lib/accounts.js';
import { benchArgs, isMain, runMain } from './lib/cli.js';
import { balancedTree, flatSum } from './lib/expressions.js';
import { fixed, heading, table, verdict } from './lib/format.js';
import { describeMachine } from './lib/machine.js';
import { max, median, min } from './lib/stats.js';

// ------------------------------------------------------------------ shared

/** Anything that lists agents: testkit's anonymous `Api` or a signed-in one. */
interface AgentLister {
  agents(): Promise<AgentView[]>;
}

/**
 * Polls the agent list every `everyMs` until stopped: the most tasks each agent held at once
 * (by id). A diagnostic: it shows slow start holding a fresh agent below its width.
 */
function sampleHeld(api: AgentLister, everyMs = 50): { stop(): Promise<Map<string, number>> } {
  const most = new Map<string, number>();
  let running = true;
  const loop = (async (): Promise<void> => {
    while (running) {
      try {
        for (const a of await api.agents())
          most.set(a.id, Math.max(most.get(a.id) ?? 0, a.running.length));
      } catch {
        // the orchestrator is going away; the samples so far stand
      }
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return most;
    },
  };
}

/** First createdAt → last finishedAt of finished views, ms. */
function makespanOf(views: readonly ExpressionView[]): number {
  const created = views.map((v) => Date.parse(v.createdAt));
  const finished = views.map((v) => Date.parse(v.finishedAt ?? v.createdAt));
  return max(finished) - min(created);
}

/** `error ×3, done ×5`: counts of each value, in first-seen order. */
function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([v, n]) => `${v} ×${n}`).join(', ');
}

/** Throws unless every view is done with the exact value of its source. */
function checkExact(sources: readonly string[], views: readonly ExpressionView[]): void {
  for (const [i, view] of views.entries()) {
    const expected = evaluatePlan(compile(sources[i]!).plan);
    if (view.status !== 'done' || view.value !== expected)
      throw new Error(`${sources[i]} → ${view.status} ${view.value}, expected ${expected}`);
  }
}

// ------------------------------------------------------------------ A. liars

const LIARS_GUESTS = 4;
const LIARS_USERS = 4;
const LIAR_SLOTS = 4;
const HONEST_WORKERS = 4;
const LIARS_TARGET = 1.2;
/** + − 200 ms (the default), × ÷ 500 ms. */
const LIARS_TIMES = { TIME_MULTIPLICATIONS_MS: '500', TIME_DIVISIONS_MS: '500' };

/** Eight balanced trees of random operators with 3, 4, 5, 6, 7, 3, 5, 7 operations. */
export const liarsBenchExpressions = (): string[] =>
  [3, 4, 5, 6, 7, 3, 5, 7].map((ops, i) =>
    balancedTree(ops + 1, 19_000 + ops * 10 + i, 19_100 + i),
  );

/** An expression that did not end done with its exact value. */
export interface LiarsFailure {
  source: string;
  /** The error code, or `wrong value` / the status when there is none. */
  code: string;
  /** `status code: message`, or the wrong value and the right one. */
  detail: string;
}

export interface LiarsTrial {
  withLiars: boolean;
  /** First createdAt → last finishedAt of the eight (whatever their status), ms. */
  makespanMs: number;
  /** Expressions not done with the exact value. */
  failures: LiarsFailure[];
  /** Error reports the liars sent. */
  lies: number;
  /** The liars' statuses at the end, by trust (`guest: active ×4; user: …`); '-' without. */
  liarStatuses: string;
  /** Operations the honest agent completed. */
  honestCompleted: number;
}

/** A socket agent that answers every task it gets, at once, with an error report. */
async function connectLiar(
  url: string,
  agentId: string,
  token: string | undefined,
  counted: (n: number) => void,
): Promise<AgentSocket> {
  let socket: AgentSocket | undefined;
  return connectSocketAgent(
    url,
    {
      agentId,
      name: agentId,
      concurrency: LIAR_SLOTS,
      ...(token === undefined ? {} : { token }),
    },
    {
      created: (s) => (socket = s),
      tasks: (tasks) => {
        counted(tasks.length);
        socket?.emit(
          'results',
          tasks.map((t) => ({
            taskId: t.taskId,
            attempt: t.attempt,
            error: { code: 'X', message: 'lie' },
          })),
        );
      },
    },
  );
}

/**
 * One run: the liars (when `withLiars`) join, then the honest agent process; once all are
 * registered the victim submits the eight expressions and waits for every one to finish.
 * Failed expressions are recorded, not thrown: that is what the bench is about.
 */
export async function liarsTrial(withLiars: boolean, trial: number): Promise<LiarsTrial> {
  const orchestrator = await spawnOrchestrator({
    logLevel: 'warn',
    env: { ...accountsEnv(), ...LIARS_TIMES },
  });
  const liars: AgentSocket[] = [];
  let lies = 0;
  let honest: ReturnType<typeof spawnAgent> | undefined;
  try {
    const admin = await signInAdmin(orchestrator.url);
    const credential = await admin.issueCredential(`honest-${trial}`);
    const victim = new SignedInApi(
      orchestrator.url,
      await registerUser(orchestrator.url, 'victim'),
    );
    const attacker = await registerUser(orchestrator.url, 'mallory');
    if (withLiars) {
      for (let i = 0; i < LIARS_GUESTS + LIARS_USERS; i += 1) {
        const guest = i < LIARS_GUESTS;
        liars.push(
          await connectLiar(
            orchestrator.url,
            `liar-${guest ? 'guest' : 'user'}-${i}`,
            guest ? undefined : attacker,
            (n) => (lies += n),
          ),
        );
      }
    }
    honest = spawnAgent(orchestrator.url, {
      concurrency: HONEST_WORKERS,
      id: `honest-${trial}`,
      logLevel: 'warn',
      token: credential,
    });
    const liarCount = withLiars ? LIARS_GUESTS + LIARS_USERS : 0;
    await victim.waitForAgents(1 + liarCount, HONEST_WORKERS + liarCount * LIAR_SLOTS);
    const sources = liarsBenchExpressions();
    const ids = await Promise.all(sources.map((s) => victim.submit(s)));
    const views = await Promise.all(ids.map((id) => victim.finished(id, 180_000, 10)));
    const failures: LiarsFailure[] = [];
    for (const [i, view] of views.entries()) {
      const expected = evaluatePlan(compile(sources[i]!).plan);
      if (view.status === 'done' && view.value === expected) continue;
      failures.push({
        source: sources[i]!,
        code: view.error?.code ?? (view.status === 'done' ? 'wrong value' : view.status),
        detail: view.error
          ? `${view.status} ${view.error.code}: ${view.error.message}`
          : `${view.status} ${view.value} (expected ${expected})`,
      });
    }
    const agents = await victim.agents();
    const liarViews = agents.filter((a) => a.id.startsWith('liar-'));
    const statuses = ['guest', 'user']
      .map((trust) => {
        const mine = liarViews.filter((a) => a.trust === trust).map((a) => a.status);
        return mine.length > 0 ? `${trust}: ${tally(mine)}` : null;
      })
      .filter((s): s is string => s !== null);
    return {
      withLiars,
      makespanMs: makespanOf(views),
      failures,
      lies,
      liarStatuses: withLiars ? statuses.join('; ') || 'gone' : '-',
      honestCompleted: agents.find((a) => a.id === `honest-${trial}`)?.completed ?? 0,
    };
  } finally {
    for (const liar of liars) liar.disconnect();
    if (honest) await stopProcess(honest, 'SIGKILL', 5_000);
    await orchestrator.stop();
  }
}

async function liarsCase(repeats: number): Promise<void> {
  heading('Bench 11a: liars (8 agents answering every task with an error) beside an honest one');
  console.log(
    `victim: 8 expressions (balanced trees, 3–7 operations, 40 in all) at once; + − 200 ms, × ÷ 500 ms; accounts mode`,
  );
  console.log(
    `honest: agent-node process × ${HONEST_WORKERS} workers with an admin-issued credential; liars: ${LIARS_GUESTS} guests + ${LIARS_USERS} with an attacker user's JWT, ${LIAR_SLOTS} slots each, joined first, every task answered at once with {error:{code:'X'}}; ${repeats} run(s) per case, fresh orchestrator each`,
  );
  const trials: LiarsTrial[] = [];
  for (let i = 0; i < repeats; i += 1) {
    for (const withLiars of [false, true]) {
      trials.push(await liarsTrial(withLiars, i));
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
  console.log(
    table(
      ['case', 'run', 'makespan ms', 'failed', 'lies sent', 'honest ops', 'liars at the end'],
      trials.map((t, i) => [
        t.withLiars ? 'honest + 8 liars' : 'honest alone',
        Math.floor(i / 2) + 1,
        t.makespanMs,
        `${t.failures.length}/8`,
        t.withLiars ? t.lies : '-',
        t.honestCompleted,
        t.liarStatuses,
      ]),
    ),
  );
  const failed = trials.filter((t) => t.failures.length > 0);
  // Every failure of the first run that had any; of the others, how many and with which codes.
  for (const [i, t] of trials.entries()) {
    if (t.failures.length === 0) continue;
    const where = `${t.withLiars ? 'with liars' : 'alone'}, run ${Math.floor(i / 2) + 1}`;
    if (t === failed[0])
      for (const f of t.failures) console.log(`  failed (${where}): ${f.source} → ${f.detail}`);
    else console.log(`  failed (${where}): ${tally(t.failures.map((f) => f.code))}`);
  }
  const alone = median(trials.filter((t) => !t.withLiars).map((t) => t.makespanMs));
  const liars = median(trials.filter((t) => t.withLiars).map((t) => t.makespanMs));
  const failedCount = failed.reduce((sum, t) => sum + t.failures.length, 0);
  console.log(
    `\nmedian makespan: alone ${fixed(alone, 0)} ms, with liars ${fixed(liars, 0)} ms over ${repeats} run(s)`,
  );
  console.log(
    `target no expression failed because of the liars: ${failedCount} failed in ${failed.length} of ${trials.length} runs ${verdict(failedCount === 0)}`,
  );
  if (failedCount > 0)
    console.log(
      `target makespan with 8 liars ≤ ${LIARS_TARGET}× without: n/a (expressions failed; the makespan of failed runs is when they failed) ${verdict(false)}`,
    );
  else {
    const ratio = liars / alone;
    console.log(
      `target makespan with 8 liars ≤ ${LIARS_TARGET}× without: ${fixed(ratio, 2)}× ${verdict(ratio <= LIARS_TARGET)}`,
    );
  }
}

// ------------------------------------------------------------------ B. fresh agent, npm start

const FRESH_WORKERS = 8;
const FRESH_MS = 5_000;
const WIDTH_TARGET = 1.1;

export interface WidthTrial {
  makespanMs: number;
  idealMs: number;
  /** Operations completed per agent (by name), and the most tasks each held at once. */
  perAgent: { name: string; completed: number; mostHeld: number }[];
}

async function widthResult(
  api: AgentLister,
  views: readonly ExpressionView[],
  idealMs: number,
  held: Map<string, number>,
): Promise<WidthTrial> {
  const agents = await api.agents();
  return {
    makespanMs: makespanOf(views),
    idealMs,
    perAgent: agents.map((a) => ({
      name: a.name,
      completed: a.completed,
      mostHeld: held.get(a.id) ?? 0,
    })),
  };
}

/** A fresh agent-node × 8 registers; at once, 8 independent 5-s multiplications. */
export async function freshAgentTrial(trial: number): Promise<WidthTrial> {
  const orchestrator = await spawnOrchestrator({
    logLevel: 'warn',
    env: { TIME_MULTIPLICATIONS_MS: String(FRESH_MS) },
  });
  const api = new Api(orchestrator.url);
  const agent = spawnAgent(orchestrator.url, {
    concurrency: FRESH_WORKERS,
    id: `fresh-${trial}`,
    logLevel: 'warn',
  });
  try {
    await api.waitForAgents(1, FRESH_WORKERS);
    const sources = Array.from({ length: FRESH_WORKERS }, (_, i) => `${12 + i}*${34 + i}`);
    const sampler = sampleHeld(api);
    const ids = await Promise.all(sources.map((s) => api.submit(s)));
    const views = await Promise.all(ids.map((id) => api.finished(id, 120_000, 10)));
    const held = await sampler.stop();
    checkExact(sources, views);
    return await widthResult(api, views, FRESH_MS, held);
  } finally {
    await stopProcess(agent, 'SIGKILL', 5_000);
    await orchestrator.stop();
  }
}

const START_AGENTS = 2;
const START_WORKERS = 4;
const START_TERMS = 16;
const START_ADD_MS = 800;

/**
 * `npm start`'s orchestrator (accounts mode, its own AGENTS=2 × COMPUTING_POWER=4 processes);
 * once both have registered, the admin submits one 16-term sum with 800 ms additions.
 */
export async function npmStartTrial(trial: number): Promise<WidthTrial> {
  const orchestrator = await spawnOrchestrator({
    logLevel: 'warn',
    env: {
      ...accountsEnv(),
      AGENTS: String(START_AGENTS),
      COMPUTING_POWER: String(START_WORKERS),
      TIME_ADDITION_MS: String(START_ADD_MS),
    },
  });
  try {
    const admin = await signInAdmin(orchestrator.url);
    await admin.waitForAgents(START_AGENTS, START_AGENTS * START_WORKERS);
    const source = flatSum(START_TERMS, 19_200 + trial);
    const sampler = sampleHeld(admin);
    const view = await admin.finished(await admin.submit(source), 120_000, 10);
    const held = await sampler.stop();
    checkExact([source], [view]);
    return await widthResult(admin, [view], Math.log2(START_TERMS) * START_ADD_MS, held);
  } finally {
    // SIGTERM: the orchestrator drains and stops its own agent processes.
    await orchestrator.stop();
  }
}

async function widthCases(repeats: number): Promise<void> {
  heading('Bench 11b: a fresh agent at full width');
  console.log(
    `fresh agent: one agent-node process × ${FRESH_WORKERS} workers, registered, then ${FRESH_WORKERS} independent a*b at once, × ${FRESH_MS} ms (open mode); ideal ${FRESH_MS} ms`,
  );
  console.log(
    `npm start: orchestrator with AGENTS=${START_AGENTS} COMPUTING_POWER=${START_WORKERS} (its own agent processes, accounts mode), one ${START_TERMS}-term sum, + ${START_ADD_MS} ms; ideal ${Math.log2(START_TERMS)} levels × ${START_ADD_MS} ms = ${Math.log2(START_TERMS) * START_ADD_MS} ms`,
  );
  console.log(`${repeats} run(s) per case, fresh orchestrator each`);
  const rows: (string | number)[][] = [];
  const ratios: Record<'fresh agent' | 'npm start', number[]> = {
    'fresh agent': [],
    'npm start': [],
  };
  for (let i = 0; i < repeats; i += 1) {
    for (const name of ['fresh agent', 'npm start'] as const) {
      const t = name === 'fresh agent' ? await freshAgentTrial(i) : await npmStartTrial(i);
      process.stdout.write('.');
      const ratio = t.makespanMs / t.idealMs;
      ratios[name].push(ratio);
      rows.push([
        name,
        i + 1,
        t.makespanMs,
        t.idealMs,
        `${fixed(ratio, 2)}×`,
        t.perAgent.map((a) => `${a.name} ${a.completed}`).join(', '),
        t.perAgent.map((a) => `${a.name} ${a.mostHeld}`).join(', '),
      ]);
    }
  }
  process.stdout.write('\n');
  console.log(
    table(
      [
        'case',
        'run',
        'makespan ms',
        'ideal ms',
        'ratio',
        'ops done per agent',
        'most held at once',
      ],
      rows,
    ),
  );
  for (const name of ['fresh agent', 'npm start'] as const) {
    const ratio = median(ratios[name]);
    console.log(
      `target ${name} makespan ≤ ${WIDTH_TARGET}× ideal (median of ${repeats}): ${fixed(ratio, 2)}× ${verdict(ratio <= WIDTH_TARGET)}`,
    );
  }
}

// ------------------------------------------------------------------ main

export async function main(): Promise<void> {
  const { quick } = benchArgs();
  const repeats = quick ? 1 : 3;
  heading(`Bench 11: strangers' agents (issue 19)${quick ? ' (--quick)' : ''}`);
  console.log(describeMachine());
  await liarsCase(repeats);
  await widthCases(repeats);
}

if (isMain(import.meta.url)) runMain(main);
