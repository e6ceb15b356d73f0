// Reading an expression's results while another process compacts them (record written, then rows
// deleted): every interleaving of the compaction with the two reads gives all the results.
import { describe, expect, it } from 'vitest';
import {
  compactResults,
  encodeCompact,
  readAcrossCompaction,
} from '../../src/store/compact-results.js';
import type { StoredOpResult } from '../../src/store/records.js';

const ROWS: StoredOpResult[] = [0, 1, 2].map((opId) => ({
  expressionId: 'e',
  opId,
  value: String(opId * 10),
  agentId: `a${opId}`,
  attempt: 1,
  finishedAt: 1000 + opId,
}));

/**
 * A store holding rows, compacted by another process after `compactAfter` of this reader's
 * reads (0: before the first; 3: after all of them).
 */
function storeCompactingAfter(compactAfter: number): {
  readRecord: () => Promise<string | undefined>;
  readRows: () => Promise<StoredOpResult[]>;
} {
  let reads = 0;
  let record: string | undefined;
  let rows = ROWS;
  const step = (): void => {
    if (reads === compactAfter) {
      record = encodeCompact(compactResults(ROWS, ROWS.length)!);
      rows = [];
    }
    reads += 1;
  };
  return {
    readRecord: async () => {
      step();
      return record;
    },
    readRows: async () => {
      step();
      return rows;
    },
  };
}

describe('results read across a compaction', () => {
  for (const compactAfter of [0, 1, 2, 3]) {
    it(`are all there when the compaction lands after ${compactAfter} of the reads`, async () => {
      const store = storeCompactingAfter(compactAfter);
      expect(await readAcrossCompaction('e', store.readRecord, store.readRows)).toEqual(ROWS);
    });
  }

  it('a single look at the record (the control) loses them when the compaction lands between', async () => {
    const store = storeCompactingAfter(1);
    const record = await store.readRecord();
    expect(record).toBeUndefined();
    expect(await store.readRows()).toEqual([]);
  });

  it('takes only the asked operations out of the record (rows are filtered by the store)', async () => {
    const store = storeCompactingAfter(0);
    const got = await readAcrossCompaction('e', store.readRecord, store.readRows, [2]);
    expect(got).toEqual([ROWS[2]]);
  });
});
