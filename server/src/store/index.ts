/**
 * The store's public surface, and `createStore`: SQLite by default, MongoDB when MONGODB_URI is set.
 */
import { MongoStore } from './mongo-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

export type {
  ExpressionPatch,
  InsertOutcome,
  ListCursor,
  Store,
  StoredExpression,
  StoredOpResult,
} from './store.js';
export { MongoStore, redactMongoUri } from './mongo-store.js';
export type { MongoStoreOptions } from './mongo-store.js';
export { SqliteStore, SQLITE_FILE_NAME } from './sqlite-store.js';
export { decodeCompact, expandResults } from './compact-results.js';

export interface StoreConfig {
  /** When set, the MongoDB store is used; otherwise the embedded SQLite store. */
  mongodbUri?: string;
  mongodbDb: string;
  /** Directory of the embedded store's database file. */
  dataDir: string;
}

/** The configured store, not yet initialized: call `init()` before use. */
export function createStore(config: StoreConfig): Store {
  return config.mongodbUri
    ? new MongoStore(config.mongodbUri, config.mongodbDb)
    : new SqliteStore(config.dataDir);
}
