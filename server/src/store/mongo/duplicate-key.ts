/** MongoDB's duplicate-key error, which the repositories read as "already stored". */
import { MongoServerError } from 'mongodb';

export const DUPLICATE_KEY = 11000;

export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}
