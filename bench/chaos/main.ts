/**
 * `npm run chaos`: the long chaos run. Every variant once, a summary at the end; exit code 1 when
 * any variant found a problem.
 *
 *   node bench/chaos/dist/main.js [--expressions 1000] [--fuzz 100000] [--seed N] [--only a,b,b-mongo,c,cluster,d]
 *
 * Variants: a — agents SIGKILLed and SIGSTOPped; b — the same plus two orchestrator SIGKILLs and
 * restarts (embedded store), b-mongo — b on MongoDB (needs MONGODB_URI); c — a lying agent among
 * honest ones; cluster — 3 orchestrators (MongoDB + a private redis-server) whose leader and
 * gateways are SIGKILLed at random (needs MONGODB_URI and redis-server); d — parser/API fuzzing.
 */
import { formatFuzzReport, runFuzz, type FuzzReport } from './fuzz.js';
import { killEverything } from '@expressionist/testkit';
import {
  clusterChaosUnavailable,
  defaultClusterChaosOptions,
  formatClusterReport,
  runClusterChaos,
  type ClusterChaosReport,
} from './cluster.js';
import { defaultChaosOptions, formatReport, runChaos, type ChaosReport } from './run.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const expressions = Number(arg('expressions') ?? 1000);
const fuzzInputs = Number(arg('fuzz') ?? 100_000);
const seed = Number(arg('seed') ?? process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const only = new Set((arg('only') ?? 'a,b,b-mongo,c,cluster,d').split(','));
const mongodbUri = process.env.MONGODB_URI || undefined;
const log = (line: string): void => console.log(line);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killEverything();
    process.exit(130);
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  const reports: ChaosReport[] = [];
  const clusterReports: ClusterChaosReport[] = [];
  let fuzz: FuzzReport | null = null;
  // Submissions outpace the agents (≈30 expressions/s here), so restarts hit a backlog.
  const window = Math.round(expressions * 12);
  const common = { expressions, seed, submitWindowMs: window, finishTimeoutMs: 600_000, log };
  if (only.has('a'))
    reports.push(await runChaos(defaultChaosOptions({ ...common, name: 'a-agent-chaos' })));
  if (only.has('b'))
    reports.push(
      await runChaos(
        defaultChaosOptions({ ...common, name: 'b-restarts', orchestratorRestarts: 2 }),
      ),
    );
  if (only.has('b-mongo')) {
    if (mongodbUri) {
      reports.push(
        await runChaos(
          defaultChaosOptions({
            ...common,
            name: 'b-restarts-mongo',
            orchestratorRestarts: 2,
            store: 'mongodb',
            mongodbUri,
          }),
        ),
      );
    } else {
      console.log(
        'chaos variant B on MongoDB skipped: set MONGODB_URI (e.g. eval "$(scripts/ferretdb.sh start)") to enable',
      );
    }
  }
  if (only.has('c'))
    reports.push(
      await runChaos(defaultChaosOptions({ ...common, name: 'c-lying-agent', liar: true })),
    );
  if (only.has('cluster')) {
    const missing = clusterChaosUnavailable(mongodbUri);
    if (missing === null && mongodbUri) {
      clusterReports.push(
        await runClusterChaos(
          defaultClusterChaosOptions({
            name: 'cluster',
            expressions,
            seed,
            mongodbUri,
            // Slower than the single-process variants (three instances share the cores), and
            // long enough for a dozen takeovers and gateway losses.
            submitWindowMs: expressions * 40,
            finishTimeoutMs: 600_000,
            instanceKills: 12,
            killGapMs: [3000, 6000],
            log,
          }),
        ),
      );
    } else {
      console.log(`chaos cluster variant skipped: ${missing}`);
    }
  }
  if (only.has('d')) fuzz = await runFuzz({ inputs: fuzzInputs, seed, concurrency: 16, log });

  console.log(
    `\n=== chaos summary (seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s) ===`,
  );
  for (const report of reports) console.log(formatReport(report));
  for (const report of clusterReports) console.log(formatClusterReport(report));
  if (fuzz) console.log(formatFuzzReport(fuzz));
  const failed =
    [...reports, ...clusterReports].some((r) => r.failures.length > 0) ||
    (fuzz !== null && fuzz.failures.length > 0);
  console.log(failed ? 'CHAOS: FAIL' : 'CHAOS: PASS');
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    killEverything();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(err);
    killEverything();
    process.exit(1);
  },
);
