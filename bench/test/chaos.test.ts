/**
 * The short chaos suite (the long one is `npm run chaos`). Real orchestrator and agent processes,
 * agents SIGKILLed and SIGSTOPped, the orchestrator SIGKILLed and restarted, a lying agent, and a
 * parser/API fuzz. Asserts correctness only: every answer exact (or within its proven rounding
 * bound), nothing lost, every operation recorded once and consistent, no 5xx. Timings are printed,
 * never asserted.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { formatFuzzReport, runFuzz } from '../chaos/fuzz.js';
import { killEverything } from '@expressionist/testkit';
import { defaultChaosOptions, formatReport, runChaos, type ChaosOptions } from '../chaos/run.js';
import {
  clusterChaosUnavailable,
  defaultClusterChaosOptions,
  formatClusterReport,
  runClusterChaos,
} from '../chaos/cluster.js';

// No process outlives the suite, whatever happened (runChaos also cleans up after itself).
afterAll(() => killEverything());

const mongodbUri = process.env.MONGODB_URI || undefined;
if (!mongodbUri) {
  console.log(
    'chaos variant B on MongoDB skipped: set MONGODB_URI (e.g. eval "$(scripts/ferretdb.sh start)") to enable',
  );
}

const clusterMissing = clusterChaosUnavailable(mongodbUri);
if (clusterMissing) console.log(`chaos cluster variant skipped: ${clusterMissing}`);

const SHORT = { submitWindowMs: 2500, finishTimeoutMs: 180_000 } satisfies Partial<ChaosOptions>;
const TIMEOUT = 300_000;

async function chaos(options: Partial<ChaosOptions> & Pick<ChaosOptions, 'name' | 'expressions'>) {
  const report = await runChaos(defaultChaosOptions({ ...SHORT, ...options }));
  console.log(formatReport(report));
  expect(report.failures).toEqual([]);
  expect(report.done + report.divZero).toBe(report.expressions);
  expect(report.divZero).toBeGreaterThan(0);
  expect(report.opResultsChecked).toBeGreaterThan(0);
  return report;
}

describe('chaos: agents killed and frozen', () => {
  it(
    'A: every expression ends with its exact answer; every operation is recorded once',
    async () => {
      const report = await chaos({ name: 'a', expressions: 200 });
      expect(report.agentKills).toBeGreaterThan(0);
      expect(report.agentFreezes).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    'B: the same with the orchestrator SIGKILLed and restarted twice (embedded store)',
    async () => {
      const report = await chaos({ name: 'b', expressions: 200, orchestratorRestarts: 2 });
      expect(report.orchestratorRestarts).toBe(2);
    },
    TIMEOUT,
  );

  it.skipIf(!mongodbUri)(
    'B: the same on MongoDB',
    async () => {
      const report = await chaos({
        name: 'b-mongo',
        expressions: 120,
        orchestratorRestarts: 2,
        store: 'mongodb',
        mongodbUri: mongodbUri!,
      });
      expect(report.orchestratorRestarts).toBe(2);
    },
    TIMEOUT,
  );

  it(
    'C: an agent that lies on every tenth task is quarantined; every answer stays right',
    async () => {
      const report = await chaos({ name: 'c', expressions: 100, liar: true });
      expect(report.liar).toMatchObject({ quarantined: true, listedQuarantined: true });
    },
    TIMEOUT,
  );
});

describe('chaos: several orchestrators', () => {
  it.skipIf(clusterMissing !== null)(
    'cluster: leader and gateways SIGKILLed and restarted; every answer exact, none lost, each op stored once',
    async () => {
      const report = await runClusterChaos(
        defaultClusterChaosOptions({
          name: 'cluster',
          expressions: 80,
          mongodbUri: mongodbUri!,
          submitWindowMs: 6000,
          finishTimeoutMs: 120_000,
          // The first kill takes the leader, the second a gateway, the third either.
          instanceKills: 3,
          killGapMs: [1500, 2500],
        }),
      );
      console.log(formatClusterReport(report));
      expect(report.failures).toEqual([]);
      expect(report.done + report.divZero).toBe(report.expressions);
      expect(report.opResultsChecked).toBeGreaterThan(0);
      expect(report.leaderKills).toBeGreaterThanOrEqual(1);
      expect(report.gatewayKills).toBeGreaterThanOrEqual(1);
    },
    TIMEOUT,
  );
});

describe('chaos: parser and API fuzz', () => {
  it(
    'D: 10,000 random and mutated inputs get a 201 or a registry 4xx, never a 5xx',
    async () => {
      const report = await runFuzz({
        inputs: 10_000,
        seed: Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31)),
        concurrency: 16,
      });
      console.log(formatFuzzReport(report));
      expect(report.failures).toEqual([]);
      expect(report.healthyAfter).toBe(true);
    },
    TIMEOUT,
  );
});
