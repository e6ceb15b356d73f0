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
    await new Promise((resolve) => setTimeout(resolve, 100));
  } while (Date.now() < deadline);
  return views.map((v) => ({
    expression: v.expression,
    status: v.status,
    outcome: v.status === 'done' ? v.value : (v.error?.code ?? null),
  }));
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
    // tells them apart by their connections (see http/course-agents.ts), so each gets the id
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
});
