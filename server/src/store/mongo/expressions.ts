/**
 * The MongoDB expression repository (`expressions`): intake, status changes, listing, retention;
 * compaction and deletion also delete the expression's `op_results` documents.
 */
import type { Collection, Filter } from 'mongodb';
import type { ExpressionStatus } from '@expressionist/core';
import type {
  ExpressionPatch,
  FinishedRef,
  InsertOutcome,
  ListCursor,
  StoredExpression,
} from '../records.js';
import type { ExpressionRepository } from '../repositories.js';
import { encodeCompact } from '../compact-results.js';
import { isDuplicateKey } from './duplicate-key.js';
import type { OpResultDoc } from './op-results.js';

/** An expression's document: its stored record under `_id`, and its compact results once finished. */
export type ExpressionDoc = Omit<StoredExpression, 'id' | 'owner'> & {
  _id: string;
  /** Absent on documents written before accounts. */
  owner?: string | null;
  /** The compact record of a finished expression's results (compact-results.ts), as JSON text. */
  results?: string;
};

/** Expression reads leave the compact results on the server (only getOpResults needs them). */
const WITHOUT_RESULTS = { projection: { results: 0 } } as const;

function fromDoc(d: ExpressionDoc): StoredExpression {
  return {
    id: d._id,
    expression: d.expression,
    normalized: d.normalized,
    status: d.status,
    value: d.value ?? null,
    error: d.error ?? null,
    createdAt: d.createdAt,
    startedAt: d.startedAt ?? null,
    finishedAt: d.finishedAt ?? null,
    opCount: d.opCount,
    cached: d.cached,
    owner: d.owner ?? null,
  };
}

function toDoc(e: StoredExpression): ExpressionDoc {
  return {
    _id: e.id,
    expression: e.expression,
    normalized: e.normalized,
    status: e.status,
    value: e.value,
    error: e.error,
    createdAt: e.createdAt,
    startedAt: e.startedAt,
    finishedAt: e.finishedAt,
    opCount: e.opCount,
    cached: e.cached,
    owner: e.owner,
  };
}

export class MongoExpressions implements ExpressionRepository {
  constructor(
    private readonly expressions: Collection<ExpressionDoc>,
    /** Deleted with compaction and with the expression (see ExpressionRepository). */
    private readonly opResults: Collection<OpResultDoc>,
  ) {}

  /** One createIndex call per index (see MongoStore.init). */
  async createIndexes(): Promise<void> {
    await this.expressions.createIndex({ createdAt: -1, _id: -1 }, { name: 'by_created' });
    await this.expressions.createIndex({ status: 1 }, { name: 'by_status' });
    await this.expressions.createIndex(
      { owner: 1, createdAt: -1, _id: -1 },
      { name: 'by_owner_created' },
    );
    await this.expressions.createIndex({ finishedAt: 1, _id: 1 }, { name: 'by_finished' });
    await this.expressions.createIndex(
      { owner: 1, finishedAt: 1, _id: 1 },
      { name: 'by_owner_finished' },
    );
  }

  async insertExpression(expression: StoredExpression): Promise<InsertOutcome> {
    try {
      await this.expressions.insertOne(toDoc(expression));
      return { inserted: true };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    const existing = await this.expressions.findOne({ _id: expression.id }, WITHOUT_RESULTS);
    if (!existing) throw new Error(`expression ${expression.id} neither inserted nor found`);
    return { inserted: false, existing: fromDoc(existing) };
  }

  async updateExpression(id: string, patch: ExpressionPatch): Promise<void> {
    const set: Partial<Omit<ExpressionDoc, '_id'>> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.value !== undefined) set.value = patch.value;
    if (patch.error !== undefined) set.error = patch.error;
    if (patch.startedAt !== undefined) set.startedAt = patch.startedAt;
    if (patch.finishedAt !== undefined) set.finishedAt = patch.finishedAt;
    if (patch.results !== undefined) set.results = encodeCompact(patch.results);
    if (Object.keys(set).length === 0) return;
    await this.expressions.updateOne({ _id: id }, { $set: set });
    // Only once the record is stored: a crash between the two leaves both, and reads prefer it.
    if (patch.results !== undefined) await this.opResults.deleteMany({ expressionId: id });
  }

  async getExpression(id: string): Promise<StoredExpression | null> {
    const doc = await this.expressions.findOne({ _id: id }, WITHOUT_RESULTS);
    return doc ? fromDoc(doc) : null;
  }

  async listExpressions(
    limit: number,
    cursor?: ListCursor,
    owner?: string,
  ): Promise<StoredExpression[]> {
    // limit(0) means "no limit" to MongoDB.
    if (!(limit >= 1)) return [];
    const filter: Filter<ExpressionDoc> = cursor
      ? {
          $or: [
            { createdAt: { $lt: cursor.createdAt } },
            { createdAt: cursor.createdAt, _id: { $lt: cursor.id } },
          ],
        }
      : {};
    if (owner !== undefined) filter.owner = owner;
    const docs = await this.expressions
      .find(filter, WITHOUT_RESULTS)
      .sort({ createdAt: -1, _id: -1 })
      .limit(Math.floor(limit))
      .toArray();
    return docs.map(fromDoc);
  }

  async listUnfinished(): Promise<StoredExpression[]> {
    const docs = await this.expressions
      .find({ status: { $in: ['pending', 'in_progress'] } }, WITHOUT_RESULTS)
      .sort({ createdAt: 1, _id: 1 })
      .toArray();
    return docs.map(fromDoc);
  }

  async listFinishedBefore(before: number, limit: number, owner?: string): Promise<FinishedRef[]> {
    if (!(limit >= 1)) return [];
    // `$lt` on a number matches no null: unfinished expressions are never listed.
    const docs = await this.expressions
      .find(
        { finishedAt: { $lt: before }, ...(owner === undefined ? {} : { owner }) },
        { projection: { _id: 1, owner: 1 } },
      )
      .sort({ finishedAt: 1, _id: 1 })
      .limit(Math.floor(limit))
      .toArray();
    return docs.map((d) => ({ id: d._id, owner: d.owner ?? null }));
  }

  async deleteExpression(id: string): Promise<boolean> {
    await this.opResults.deleteMany({ expressionId: id });
    return (await this.expressions.deleteOne({ _id: id })).deletedCount > 0;
  }

  async countByStatus(): Promise<Partial<Record<ExpressionStatus, number>>> {
    const rows = await this.expressions
      .aggregate<{ _id: ExpressionStatus; n: number }>([
        { $group: { _id: '$status', n: { $sum: 1 } } },
      ])
      .toArray();
    const counts: Partial<Record<ExpressionStatus, number>> = {};
    for (const { _id, n } of rows) counts[_id] = n;
    return counts;
  }
}
