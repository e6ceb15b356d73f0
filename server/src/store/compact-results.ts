/**
 * A finished expression's operation results compacted into one record: once an expression has
 * finished, its results are only read by its operation views, so the store keeps one record per
 * finished expression instead of one row per operation (recovery never reads them).
 */
import { z } from 'zod';
import type { StoredOpResult } from './records.js';

/**
 * Expressions of more operations keep their rows: a compact record is read whole for every page
 * of views, and beyond this it would cost a page more than the rows it saves (and near MongoDB's
 * 16 MB document limit with long values).
 */
export const COMPACT_MAX_OPS = 10_000;

/** One op's result: `[value, agent index, attempt, finishedAt]`; null when it did not finish. */
const CompactOpSchema = z
  .tuple([z.string(), z.number().int().min(0), z.number().int().min(0), z.number()])
  .nullable();

/** Agent ids once each, then every op of the plan by op id. */
export const CompactResultsSchema = z.object({
  agents: z.array(z.string()),
  ops: z.array(CompactOpSchema),
});
export type CompactResults = z.infer<typeof CompactResultsSchema>;

/**
 * The compact record of `results` (an expression's stored results) for a plan of `opCount`
 * operations; null when the expression is too big to compact (its rows stay).
 */
export function compactResults(
  results: Iterable<Omit<StoredOpResult, 'expressionId'>>,
  opCount: number,
): CompactResults | null {
  if (opCount > COMPACT_MAX_OPS) return null;
  const agents: string[] = [];
  const agentIndex = new Map<string, number>();
  const ops: CompactResults['ops'] = new Array<CompactResults['ops'][number]>(opCount).fill(null);
  for (const r of results) {
    if (r.opId < 0 || r.opId >= opCount) continue;
    let index = agentIndex.get(r.agentId);
    if (index === undefined) {
      index = agents.length;
      agents.push(r.agentId);
      agentIndex.set(r.agentId, index);
    }
    ops[r.opId] = [r.value, index, r.attempt, r.finishedAt];
  }
  return { agents, ops };
}

/** The results of `opIds` (all when omitted) from a compact record, by op id. */
export function expandResults(
  expressionId: string,
  compact: CompactResults,
  opIds?: readonly number[],
): StoredOpResult[] {
  const wanted = opIds ? [...new Set(opIds)].sort((a, b) => a - b) : compact.ops.keys();
  const out: StoredOpResult[] = [];
  for (const opId of wanted) {
    const op = compact.ops[opId];
    if (!op) continue;
    const [value, agent, attempt, finishedAt] = op;
    out.push({
      expressionId,
      opId,
      value,
      agentId: compact.agents[agent] ?? '',
      attempt,
      finishedAt,
    });
  }
  return out;
}

/** Text form both stores keep (a JSON string: one column in SQLite, one field in MongoDB). */
export function encodeCompact(compact: CompactResults): string {
  return JSON.stringify(compact);
}

/** Reads the text form back, checked: a store's data is a boundary like any other. */
export function decodeCompact(text: string): CompactResults {
  return CompactResultsSchema.parse(JSON.parse(text));
}

/**
 * An expression's results read in two steps from a store another process writes to: its compact
 * record, else its rows. Compaction writes the record and then deletes the rows, so between the
 * two reads both may change: the record (absent at the first look) appears and the rows go, and
 * the rows read came back empty or partial (a dashboard opening an expression just as it finished
 * saw no operations). Looking for the record once more after the rows settles it: if it is
 * still absent, no row was deleted before the rows were read. In-process SQLite reads both in
 * one synchronous call and needs none of this.
 */
export async function readAcrossCompaction(
  expressionId: string,
  readRecord: () => Promise<string | undefined>,
  readRows: () => Promise<StoredOpResult[]>,
  opIds?: readonly number[],
): Promise<StoredOpResult[]> {
  const first = await readRecord();
  if (first !== undefined) return expandResults(expressionId, decodeCompact(first), opIds);
  const rows = await readRows();
  const late = await readRecord();
  return late === undefined ? rows : expandResults(expressionId, decodeCompact(late), opIds);
}
