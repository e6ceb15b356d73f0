/**
 * The MongoDB operation-result repository: `op_results` documents while an expression runs, the
 * compact record on its `expressions` document once it has finished.
 */
import { MongoBulkWriteError } from 'mongodb';
import type { Collection, WriteError } from 'mongodb';
import type { StoredOpResult } from '../records.js';
import type { OpResultRepository } from '../repositories.js';
import { readAcrossCompaction } from '../compact-results.js';
import { DUPLICATE_KEY } from './duplicate-key.js';
import type { ExpressionDoc } from './expressions.js';

export interface OpResultDoc {
  /** `${expressionId}:${opId}`; opId is a number, so the last colon splits it unambiguously. */
  _id: string;
  expressionId: string;
  opId: number;
  value: string;
  agentId: string;
  attempt: number;
  finishedAt: number;
}

function fromOpDoc(d: OpResultDoc): StoredOpResult {
  return {
    expressionId: d.expressionId,
    opId: d.opId,
    value: d.value,
    agentId: d.agentId,
    attempt: d.attempt,
    finishedAt: d.finishedAt,
  };
}

export class MongoOpResults implements OpResultRepository {
  constructor(
    private readonly opResults: Collection<OpResultDoc>,
    /** Read for a finished expression's compact record. */
    private readonly expressions: Collection<ExpressionDoc>,
  ) {}

  /** One createIndex call per index (see MongoStore.init). */
  async createIndexes(): Promise<void> {
    await this.opResults.createIndex({ expressionId: 1 }, { name: 'by_expression' });
  }

  async saveOpResults(results: StoredOpResult[]): Promise<number> {
    if (results.length === 0) return 0;
    const docs: OpResultDoc[] = results.map((r) => ({
      _id: `${r.expressionId}:${r.opId}`,
      expressionId: r.expressionId,
      opId: r.opId,
      value: r.value,
      agentId: r.agentId,
      attempt: r.attempt,
      finishedAt: r.finishedAt,
    }));
    try {
      const res = await this.opResults.insertMany(docs, { ordered: false });
      return res.insertedCount;
    } catch (err) {
      // Unordered: every document is attempted; duplicates of already-stored keys are the
      // expected "not new" case. Any other failure (or a write-concern error) rejects.
      if (!(err instanceof MongoBulkWriteError) || err.writeConcernError) throw err;
      const writeErrors: WriteError[] = Array.isArray(err.writeErrors)
        ? err.writeErrors
        : [err.writeErrors];
      if (writeErrors.length === 0 || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
      return err.insertedCount;
    }
  }

  async getOpResults(expressionId: string, opIds?: readonly number[]): Promise<StoredOpResult[]> {
    if (opIds !== undefined && opIds.length === 0) return [];
    const filter =
      opIds === undefined ? { expressionId } : { expressionId, opId: { $in: [...opIds] } };
    return readAcrossCompaction(
      expressionId,
      async () =>
        (
          await this.expressions.findOne(
            { _id: expressionId, results: { $exists: true } },
            { projection: { results: 1 } },
          )
        )?.results,
      async () => (await this.opResults.find(filter).sort({ opId: 1 }).toArray()).map(fromOpDoc),
      opIds,
    );
  }

  async getOpResultsOfMany(expressionIds: readonly string[]): Promise<StoredOpResult[]> {
    if (expressionIds.length === 0) return [];
    const docs = await this.opResults.find({ expressionId: { $in: [...expressionIds] } }).toArray();
    return docs.map(fromOpDoc);
  }
}
