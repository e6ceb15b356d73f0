// Real course agents are Go programs; this suite compiles one (server/test/fixtures/course-agent)
// in both of the id types seen in the wild and runs a mixed corpus through our orchestrator.
// Most decode the task id as a Go string, some as an int, and neither sends a header saying
// which: the orchestrator has to work with both, unchanged.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compile, evaluatePlan, type ExpressionView } from '@expressionist/core';
import { ROOT, api, sleep, tempDir, waitFor } from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

const FIXTURE = path.join(ROOT, 'server/test/fixtures/course-agent');

/** `go` on PATH, else where the official tarball installs it; undefined when neither exists. */
function findGo(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'go'))) return path.join(dir, 'go');
  }
  return existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined;
}

const GO = findGo();
if (!GO)
  console.warn('course-agents-go: no `go` on PATH or at /usr/local/go/bin/go; suite skipped');

type IdType = 'int' | 'string';

/** The corpus and what each expression must end as: an exact decimal, or an error code. */
const CORPUS: { expression: string; status: 'done' | 'error'; outcome: string }[] = [
  { expression: '2+2*2', status: 'done', outcome: '6' },
  { expression: '100-58', status: 'done', outcome: '42' },
  { expression: '0.1+0.2', status: 'done', outcome: '0.3' },
  { expression: '1.5*4-0.25', status: 'done', outcome: '5.75' },
  { expression: '7/4', status: 'done', outcome: '1.75' },
  { expression: '-3*-(2+5)', status: 'done', outcome: '21' },
  {
    expression: Array.from({ length: 16 }, (_, i) => i + 1).join('+'),
    status: 'done',
    outcome: '136',
  },
  { expression: '1/(2-2)', status: 'error', outcome: 'EXPR_DIV_ZERO' },
];

/** Short operation times: the agents still sleep them, as real ones do. */
const FAST_OPS = {
  TIME_ADDITION_MS: '50',
  TIME_SUBTRACTION_MS: '50',
  TIME_MULTIPLICATIONS_MS: '50',
  TIME_DIVISIONS_MS: '50',
};
const SLOW_OPS = {
  TIME_ADDITION_MS: '500',
  TIME_SUBTRACTION_MS: '500',
  TIME_MULTIPLICATIONS_MS: '500',
  TIME_DIVISIONS_MS: '500',
};
/**
 * With string ids the orchestrator learns the id type from leases that expire unanswered; a short
 * grace (the minimum is 100) makes that take about a second per lease instead of three.
 */
const STRING_AGENT_ENV = { ...FAST_OPS, LEASE_GRACE_MS: '1000' };
const CORPUS_TIMEOUT_MS = 45_000;

interface CourseAgent {
  child: ChildProcess;
  startedAt: number;
  /** performance.now() of the first "accepted" log line, once there is one. */
  firstAcceptedAt: () => number | undefined;
  output: () => string;
}

const bins: Record<IdType, string> = { int: '', string: '' };
const build = tempDir('course-agent-');
let agents: CourseAgent[] = [];
let orch: TestOrchestrator | undefined;

/** Starts a compiled course agent with `power` goroutines, as `COMPUTING_POWER=2 ./agent` would. */
function startCourseAgent(idType: IdType, url: string, power = 2): CourseAgent {
  const startedAt = performance.now();
  const child = spawn(bins[idType], [], {
    env: { PATH: process.env.PATH ?? '', ORCHESTRATOR_URL: url, COMPUTING_POWER: String(power) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let firstAcceptedAt: number | undefined;
  const collect = (chunk: Buffer): void => {
    out += chunk.toString();
    if (firstAcceptedAt === undefined && out.includes(' accepted'))
      firstAcceptedAt = performance.now();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const agent = { child, startedAt, firstAcceptedAt: () => firstAcceptedAt, output: () => out };
  agents.push(agent);
  return agent;
}

interface Outcome {
  expression: string;
  status: string;
  outcome: string | null;
}

/**
 * Submits the corpus and waits until every expression has ended (or the time is up), then returns
 * each one's status with its exact value or error code, for one readable comparison.
 */
async function runCorpus(url: string, beforeAgents?: () => void): Promise<Outcome[]> {
  const client = api(url);
  const ids = await Promise.all(CORPUS.map((c) => client.submit(c.expression)));
  beforeAgents?.();
  const final = (v: ExpressionView): boolean => ['done', 'error', 'canceled'].includes(v.status);
  let views: ExpressionView[] = [];
  const deadline = Date.now() + CORPUS_TIMEOUT_MS;
  do {
    views = await Promise.all(ids.map((id) => client.expression(id)));
    if (views.every(final)) break;
    // Polled (not waitFor: an unfinished run is returned as it stands, for one readable diff).
    await new Promise((resolve) => setTimeout(resolve, 100));
  } while (Date.now() < deadline);
  return views.map((v) => ({
    expression: v.expression,
    status: v.status,
    outcome: v.status === 'done' ? v.value : (v.error?.code ?? null),
  }));
}

/** How long a corpus run took and how it ended (unfinished ones with their progress). */
interface TimedRun {
  outcomes: Outcome[];
  ms: number;
  /** Expressions not final when the run stopped, with their progress, for the failure message. */
  unfinished: string[];
}

/**
 * Submits the corpus straight to the scheduler (so it works in accounts mode without a user),
 * calls `startAgents`, and waits until every expression has ended or `timeoutMs` has passed;
 * `ms` is from the agents' start to the last expression's end (or to the time-out).
 */
async function timedCorpus(
  target: TestOrchestrator,
  startAgents: () => void,
  timeoutMs: number,
): Promise<TimedRun> {
  const ids = await Promise.all(
    CORPUS.map(async (c) => (await target.scheduler.submit(c.expression)).id),
  );
  const startedAt = performance.now();
  startAgents();
  const final = (v: ExpressionView | null): boolean =>
    v !== null && ['done', 'error', 'canceled'].includes(v.status);
  let views: (ExpressionView | null)[] = [];
  try {
    await waitFor(
      async () => {
        views = await Promise.all(ids.map((id) => target.scheduler.views.expressionView(id)));
        return views.every(final);
      },
      timeoutMs,
      'every expression of the corpus to end',
      50,
    );
  } catch {
    // Timed out: the outcomes say which did not end.
  }
  const ms = performance.now() - startedAt;
  return {
    ms,
    outcomes: views.map((v, i) => ({
      expression: v?.expression ?? CORPUS[i]!.expression,
      status: v?.status ?? 'missing',
      outcome: v?.status === 'done' ? v.value : (v?.error?.code ?? null),
    })),
    unfinished: views
      .filter((v): v is ExpressionView => v !== null && !final(v))
      .map((v) => `${v.expression}: ${v.status} ${v.progress.done}/${v.progress.total}`),
  };
}

describe.skipIf(!GO)('course agents written in Go', () => {
  beforeAll(() => {
    const env = {
      ...process.env,
      // A cache shared between runs but outside the user's home; stdlib only, so no downloads.
      GOCACHE: process.env.GOCACHE ?? path.join(tmpdir(), 'expressionist-go-cache'),
      GOPATH: process.env.GOPATH ?? path.join(tmpdir(), 'expressionist-go-path'),
      GOFLAGS: '-mod=mod',
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: '0',
    };
    for (const idType of ['int', 'string'] as const) {
      bins[idType] = path.join(build.dir, `course-agent-${idType}`);
      const res = spawnSync(GO!, ['build', '-tags', `id${idType}`, '-o', bins[idType], '.'], {
        cwd: FIXTURE,
        env,
        encoding: 'utf8',
      });
      if (res.status !== 0) throw new Error(`go build (id${idType}) failed:\n${res.stderr}`);
    }
  }, 180_000);

  afterEach(async () => {
    for (const { child } of agents) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    agents = [];
    await orch?.close();
    orch = undefined;
  });

  afterAll(() => build.remove());

  const expected: Outcome[] = CORPUS.map(({ expression, status, outcome }) => ({
    expression,
    status,
    outcome,
  }));

  it('an agent decoding the id as an int computes the corpus exactly', async () => {
    orch = await startTestOrchestrator(FAST_OPS);
    let agent: CourseAgent | undefined;
    const outcomes = await runCorpus(orch.url, () => (agent = startCourseAgent('int', orch!.url)));
    expect(outcomes, agent?.output()).toEqual(expected);
    const first = agent!.firstAcceptedAt();
    expect(first).toBeDefined();
    console.log(
      `course agent (int id): first result accepted ${Math.round(first! - agent!.startedAt)} ms after the process started`,
    );
  }, 60_000);

  it('an agent decoding the id as a string computes the corpus exactly', async () => {
    orch = await startTestOrchestrator(STRING_AGENT_ENV);
    let agent: CourseAgent | undefined;
    const outcomes = await runCorpus(
      orch.url,
      () => (agent = startCourseAgent('string', orch!.url)),
    );
    expect(outcomes, agent?.output()).toEqual(expected);
    const first = agent!.firstAcceptedAt();
    expect(first).toBeDefined();
    console.log(
      `course agent (string id): first result accepted ${Math.round(first! - agent!.startedAt)} ms after the process started (one lease of operation_time + LEASE_GRACE_MS lost to detection)`,
    );
  }, 60_000);

  it('both kinds at once, from one address, compute the corpus exactly', async () => {
    // Course agents send no identifying header and here share one address: the orchestrator
    // tells them apart by their connections (see course/guests.ts), so each gets the id
    // type it decodes.
    // Slower operations than alone: the int agent alone needs about 6 s for the corpus, so the
    // string agent, once it is sent ids it can decode (after its first leases expire, about 1 s),
    // must get a share of the work.
    orch = await startTestOrchestrator({ ...SLOW_OPS, LEASE_GRACE_MS: '1000' });
    const url = orch.url;
    const outcomes = await runCorpus(url, () => {
      startCourseAgent('int', url);
      startCourseAgent('string', url);
    });
    expect(outcomes, agents.map((a) => a.output()).join('\n---\n')).toEqual(expected);
    const accepted = agents.map((a) => a.output().split(' accepted').length - 1);
    console.log(`course agents together: int posted ${accepted[0]}, string posted ${accepted[1]}`);
    expect(accepted[0], 'results the int-id agent posted').toBeGreaterThan(0);
    expect(accepted[1], 'results the string-id agent posted').toBeGreaterThan(0);
  }, 60_000);

  it('three agents from one address, one SIGKILLed: its guests are lost, the others keep computing', async () => {
    // Guests are per connection chain: one process shows as one or more `127.0.0.1 #n` entries,
    // and a surviving process's entries may change as Go's pool hands its connections between
    // goroutines. So the killed process's guests are those that stop being active: within
    // HTTP_AGENT_TIMEOUT_MS (plus the once-a-second sweep and a lease's grace) no guest may stay
    // active without having been seen since the kill, and at least one that was active must be
    // lost; the two survivors must go on posting, and every expression must end exact.
    const timeoutMs = 3000;
    orch = await startTestOrchestrator({
      TIME_ADDITION_MS: '100',
      TIME_SUBTRACTION_MS: '100',
      TIME_MULTIPLICATIONS_MS: '100',
      TIME_DIVISIONS_MS: '100',
      HTTP_AGENT_TIMEOUT_MS: String(timeoutMs),
    });
    const url = orch.url;
    const client = api(url);
    const submitted: { id: string; source: string }[] = [];
    let streaming = true;
    const stream = (async () => {
      // Distinct expressions (no cache hits), two operations each, about 20 operations a second.
      for (let i = 1; streaming; i += 1) {
        const source = `${i}*${i + 1}+${i + 2}`;
        submitted.push({ id: await client.submit(source), source });
        // The pace of the stream (the load's shape), not a synchronization.
        await sleep(100);
      }
    })();
    const posted = (agent: CourseAgent): number => agent.output().split(' accepted').length - 1;
    try {
      const workers = [0, 1, 2].map(() => startCourseAgent('int', url, 2));
      await waitFor(
        () => workers.every((w) => posted(w) > 0),
        20_000,
        'all three course agents to post results',
      );
      const guests = async () =>
        (await client.agents()).filter((a) => a.kind === 'http' && a.id.startsWith('guest:'));
      const activeBefore = new Set(
        (await guests()).filter((g) => g.status === 'active').map((g) => g.id),
      );
      const [victim, ...survivors] = workers;
      const killedAt = Date.now();
      victim!.child.kill('SIGKILL');
      const postedAtKill = survivors.map(posted);

      const settled = await waitFor(
        async () => {
          const now = await guests();
          const lost = now.filter((g) => activeBefore.has(g.id) && g.status === 'lost');
          const active = now.filter((g) => g.status === 'active');
          const stale = active.filter((g) => Date.parse(g.lastSeenAt) <= killedAt);
          return lost.length > 0 && active.length > 0 && stale.length === 0
            ? { lost, active }
            : null;
        },
        timeoutMs + 4000,
        'the killed agent’s guests to be lost and only live guests to stay active',
        100,
      );
      for (const g of settled.lost) expect(g.running, g.id).toEqual([]);
      console.log(
        `three course agents, one killed: ${activeBefore.size} guests active before, ${settled.lost.length} of them lost, ${settled.active.length} active after; settled ${Date.now() - killedAt} ms after the kill`,
      );
      await waitFor(
        () => survivors.every((w, i) => posted(w) > postedAtKill[i]!),
        15_000,
        'both surviving agents to post results after the kill',
      );
    } finally {
      streaming = false;
      await stream;
    }
    expect(submitted.length).toBeGreaterThan(0);
    for (const { id, source } of submitted) {
      const view = await client.finished(id, 30_000);
      expect(view.status, source).toBe('done');
      expect(view.value, source).toBe(evaluatePlan(compile(source).plan));
    }
  }, 90_000);

  // Two unchanged course agents on one host, one decoding the task id as a string and one as an
  // int, neither sending a header, run side by side: neither may hold the other back. A lease an
  // agent could not decode is the protocol's miss, never a strike against it, so no agent is struck
  // or cooled down, and the corpus (its 16-term sum fifteen additions, four deep) ends exact within
  // twice the time it takes the int agent alone (the kind that needs no id detection; measured
  // here first, as is the string agent alone, for the log), plus one multiplication's time for the
  // id detection the pair may have to pay (an unproven agent's overdue lease is judged early, at
  // its operation's time) and 1 s for process start-up. The agents run with COMPUTING_POWER=4, the
  // course's default and more workers than Go keeps idle connections per host (2), so each
  // process keeps opening connections; operation times, lease grace and the strike policy are
  // the defaults. Covered as this suite runs (open mode) and as a public deployment runs
  // (accounts mode with guest agents).
  const SIDE_BY_SIDE: { mode: string; env: Record<string, string> }[] = [
    { mode: 'open mode', env: {} },
    { mode: 'accounts mode, guests on', env: { AUTH_MODE: 'accounts', GUEST_AGENTS: 'on' } },
  ];
  for (const { mode, env } of SIDE_BY_SIDE) {
    it(`an int agent and a string agent side by side on one host (${mode}): no strikes, the corpus ends exact within twice the time of one agent alone`, async () => {
      const orchEnv = {
        TIME_ADDITION_MS: '200',
        TIME_SUBTRACTION_MS: '200',
        TIME_MULTIPLICATIONS_MS: '1000',
        TIME_DIVISIONS_MS: '1000',
        ...env,
      };
      const power = 4;
      const alone: Record<IdType, number> = { int: 0, string: 0 };
      for (const idType of ['int', 'string'] as const) {
        orch = await startTestOrchestrator(orchEnv);
        const single = orch;
        let agent: CourseAgent | undefined;
        const run = await timedCorpus(
          single,
          () => (agent = startCourseAgent(idType, single.url, power)),
          CORPUS_TIMEOUT_MS,
        );
        expect(run.outcomes, `the ${idType} agent alone\n${agent?.output() ?? ''}`).toEqual(
          expected,
        );
        alone[idType] = run.ms;
        agent?.child.kill('SIGKILL');
        agents = [];
        await single.close();
        orch = undefined;
      }
      // Twice the int agent alone, measured in this run (so the machine's load is in both), plus
      // one id detection and 1 s for process start-up (CI once measured 5.995 s against a bound
      // of 5.955 s without the detection's allowance). Before issue 19 the pair took ~3.7× (each
      // guest of the string process lost a whole lease, grace included, to learn its id type):
      // 9.2 s vs 2.5 s alone, which this bound (~7 s there) still refuses.
      const bound = 2 * alone.int + Number(orchEnv.TIME_MULTIPLICATIONS_MS) + 1000;

      orch = await startTestOrchestrator(orchEnv);
      const target = orch;
      let pair: CourseAgent[] = [];
      const run = await timedCorpus(
        target,
        () =>
          (pair = [
            startCourseAgent('int', target.url, power),
            startCourseAgent('string', target.url, power),
          ]),
        bound,
      );
      const posted = pair.map((a) => a.output().split(' accepted').length - 1);
      const views = target.scheduler.views.agentViews();
      const summary = `int alone ${Math.round(alone.int)} ms, string alone ${Math.round(alone.string)} ms; side by side ${Math.round(run.ms)} ms (bound ${Math.round(bound)} ms); int posted ${posted[0]}, string posted ${posted[1]}; ${views.length} guests`;
      console.log(`course agents side by side (${mode}): ${summary}`);
      const context = [
        summary,
        `unfinished: ${run.unfinished.join('; ') || 'none'}`,
        ...views.map(
          (a) =>
            `${a.name}: ${a.status}, completed ${a.completed}, strikes ${a.strikes}${a.reason ? ` (${a.reason})` : ''}`,
        ),
        ...pair.map(
          (a, i) => `--- ${i === 0 ? 'int' : 'string'} agent\n${a.output().slice(-3000)}`,
        ),
      ].join('\n');
      expect(run.outcomes, context).toEqual(expected);
      expect(run.ms, context).toBeLessThanOrEqual(bound);
      // A lease an agent could not decode never counts against it.
      expect(
        views.filter((a) => a.strikes > 0 || a.status === 'unresponsive').map((a) => a.name),
        context,
      ).toEqual([]);
    }, 120_000);
  }
});
