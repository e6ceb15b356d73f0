/**
 * The SQLite expression repository (`expressions`, long texts in `expression_texts`): intake,
 * status changes, listing, retention; compaction and deletion also reach the results' tables.
 */
import type Database from 'better-sqlite3';
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
import {
  fromRow,
  isOutOfLine,
  toRow,
  type ExpressionRow,
  type Statements,
} from '../sqlite-schema.js';

export class SqliteExpressions implements ExpressionRepository {
  private readonly insertRow: (expression: StoredExpression) => number;

  constructor(
    private readonly db: Database.Database,
    private readonly s: Statements,
  ) {
    const { insertExpression, insertText } = s;
    // The row and, for a long expression, its texts (see OUT_OF_LINE_CHARS), in one transaction.
    this.insertRow = db.transaction((e: StoredExpression): number => {
      const { changes } = insertExpression.run(toRow(e));
      if (changes === 1 && isOutOfLine(e))
        insertText.run(e.id, e.expression, e.normalized === e.expression ? null : e.normalized);
      return changes;
    });
  }

  async insertExpression(expression: StoredExpression): Promise<InsertOutcome> {
    if (this.insertRow(expression) === 1) return { inserted: true };
    const existing = this.s.getExpression.get(expression.id);
    if (!existing) throw new Error(`expression ${expression.id} neither inserted nor found`);
    return { inserted: false, existing: fromRow(existing) };
  }

  async updateExpression(id: string, patch: ExpressionPatch): Promise<void> {
    const { status, value, error, startedAt, finishedAt, results } = patch;
    if (results !== undefined) {
      this.db.transaction(() => {
        this.patchRow(id, patch);
        this.s.saveCompact.run(id, encodeCompact(results));
        this.s.deleteOpResultsOf.run(id);
      })();
      return;
    }
    if ([status, value, error, startedAt, finishedAt].every((v) => v === undefined)) return;
    this.patchRow(id, patch);
  }

  private patchRow(id: string, patch: ExpressionPatch): void {
    const { status, value, error, startedAt, finishedAt } = patch;
    this.s.patchExpression.run({
      id,
      has_status: status === undefined ? 0 : 1,
      status: status ?? null,
      has_value: value === undefined ? 0 : 1,
      value: value ?? null,
      has_error: error === undefined ? 0 : 1,
      error: error === undefined || error === null ? null : JSON.stringify(error),
      has_started_at: startedAt === undefined ? 0 : 1,
      started_at: startedAt ?? null,
      has_finished_at: finishedAt === undefined ? 0 : 1,
      finished_at: finishedAt ?? null,
    });
  }

  async getExpression(id: string): Promise<StoredExpression | null> {
    const row = this.s.getExpression.get(id);
    return row ? fromRow(row) : null;
  }

  async listExpressions(
    limit: number,
    cursor?: ListCursor,
    owner?: string,
  ): Promise<StoredExpression[]> {
    if (!(limit >= 1)) return [];
    limit = Math.floor(limit);
    let rows: ExpressionRow[];
    if (owner === undefined)
      rows = cursor
        ? this.s.listAfter.all(cursor.createdAt, cursor.id, limit)
        : this.s.listFirst.all(limit);
    else
      rows = cursor
        ? this.s.listOwnAfter.all(owner, cursor.createdAt, cursor.id, limit)
        : this.s.listOwnFirst.all(owner, limit);
    return rows.map(fromRow);
  }

  async listUnfinished(): Promise<StoredExpression[]> {
    return this.s.listUnfinished.all().map(fromRow);
  }

  async countByStatus(): Promise<Partial<Record<ExpressionStatus, number>>> {
    const counts: Partial<Record<ExpressionStatus, number>> = {};
    for (const { status, n } of this.s.countByStatus.all()) {
      counts[status as ExpressionStatus] = n;
    }
    return counts;
  }

  async listFinishedBefore(before: number, limit: number, owner?: string): Promise<FinishedRef[]> {
    if (!(limit >= 1)) return [];
    limit = Math.floor(limit);
    const rows =
      owner === undefined
        ? this.s.listFinishedBefore.all(before, limit)
        : this.s.listOwnFinishedBefore.all(owner, before, limit);
    return rows.map((r) => ({ id: r.id, owner: r.owner ?? null }));
  }

  async deleteExpression(id: string): Promise<boolean> {
    // One transaction here (SQLite has them); the interface promises no more than MongoDB gives.
    return this.db.transaction(() => {
      this.s.deleteOpResultsOf.run(id);
      this.s.deleteCompact.run(id);
      this.s.deleteText.run(id);
      return this.s.deleteExpression.run(id).changes > 0;
    })();
  }
}
