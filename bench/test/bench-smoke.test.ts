// Smoke test of the makespan bench's measuring function on one tiny case. It checks correctness
// only (the value, a sane ratio); timing thresholds belong in the bench's printed numbers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../src/lib/cluster.js';
import { measureMakespan } from '../src/makespan.js';

describe('makespan bench (smoke)', () => {
  let cluster: Cluster | undefined;

  beforeAll(async () => {
    // A fresh orchestrator (its own temp store, so no cached answers) and one agent process × 4.
    cluster = await startCluster({ agents: 1, workersPerAgent: 4, opMs: 20 });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs an 8-term sum on P = 4 and reports its value and a finite ratio', async () => {
    const result = await measureMakespan(cluster!.api, '1 + 2 + 3 + 4 + 5 + 6 + 7 + 8.5', 4, 20);
    expect(result.status).toBe('done');
    expect(result.value).toBe('36.5');
    expect(result.expected).toBe('36.5');
    expect(result.correct).toBe(true);
    expect(result.ops).toBe(7);
    // Critical path: 3 levels of 20 ms; 7 ops / 4 slots is less.
    expect(result.boundMs).toBe(60);
    expect(Number.isFinite(result.ratio)).toBe(true);
    expect(result.ratio).toBeGreaterThanOrEqual(0.9);
  });
});
