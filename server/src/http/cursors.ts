/**
 * The page cursors of the REST API: opaque cursors of the expression list (created time and id)
 * and the decimal cursors of an expression's operations pages.
 */
import { z } from 'zod';
import { ExpressionistError } from '@expressionist/core';
import type { ListCursor } from '../store/store.js';

const CursorSchema = z.tuple([z.number().int().nonnegative(), z.string().min(1).max(128)]);

export function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

export function decodeCursor(raw: string): ListCursor {
  try {
    const [createdAt, id] = CursorSchema.parse(
      JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')),
    );
    return { createdAt, id };
  } catch {
    throw ExpressionistError.of('QUERY_INVALID', {
      reason: 'cursor: not a cursor returned by this API.',
    });
  }
}

/**
 * An operations page's cursor: the id its page starts at, as a decimal string. Ids are dense and
 * ordered, so the cursor is all a page needs; it is checked like any other query field.
 */
export function decodeOpCursor(raw: string | undefined): number {
  if (raw === undefined) return 0;
  if (!/^\d{1,9}$/.test(raw))
    throw ExpressionistError.of('QUERY_INVALID', {
      reason: 'cursor: not a cursor returned by this API.',
    });
  return Number(raw);
}
