/**
 * The SQLite operation-result repository: `op_results` rows while an expression runs, its record
 * in `expression_results` once it has finished.
 */
import type Database from 'better-sqlite3';
import type { StoredOpResult } from '../records.js';
import type { OpResultRepository } from '../repositories.js';
import { decodeCompact, expandResults } from '../compact-results.js';
import { fromOpRow, type OpResultRow, type Statements } from '../sqlite-schema.js';

export class SqliteOpResults implements OpResultRepository {
  private readonly saveMany: (rows: OpResultRow[]) => number;

  constructor(
    db: Database.Database,
    private readonly s: Statements,
  ) {
    const insertOpResult = s.insertOpResult;
    this.saveMany = db.transaction((rows: OpResultRow[]): number => {
      let added = 0;
      for (const row of rows) added += insertOpResult.run(row).changes;
      return added;
    });
  }

  async saveOpResults(results: StoredOpResult[]): Promise<number> {
    if (results.length === 0) return 0;
    return this.saveMany(
      results.map((r) => ({
        expression_id: r.expressionId,
        op_id: r.opId,
        value: r.value,
        agent_id: r.agentId,
        attempt: r.attempt,
        finished_at: r.finishedAt,
      })),
    );
  }

  async getOpResults(expressionId: string, opIds?: readonly number[]): Promise<StoredOpResult[]> {
    if (opIds !== undefined && opIds.length === 0) return [];
    const compact = this.s.getCompact.get(expressionId);
    if (compact) return expandResults(expressionId, decodeCompact(compact.data), opIds);
    if (opIds === undefined) return this.s.getOpResults.all(expressionId).map(fromOpRow);
    return this.s.getSomeOpResults.all(expressionId, JSON.stringify(opIds)).map(fromOpRow);
  }

  async getOpResultsOfMany(expressionIds: readonly string[]): Promise<StoredOpResult[]> {
    // In-process SQLite has no round trips to save: the indexed per-id statement is the fast path.
    const statement = this.s.getOpResults;
    return expressionIds.flatMap((id) => statement.all(id).map(fromOpRow));
  }
}
