/**
 * The `Store` interface every adapter implements: its per-collection repositories (repositories.ts)
 * plus opening, closing and a health check; re-exports the stored records (records.ts).
 */
import type {
  AccountRepository,
  ExpressionRepository,
  OpResultRepository,
  QuarantineRepository,
  SettingsRepository,
} from './repositories.js';

export * from './records.js';
export type {
  AccountRepository,
  ExpressionRepository,
  OpResultRepository,
  QuarantineRepository,
  SettingsRepository,
  StoreRepositories,
} from './repositories.js';

/**
 * Persistence behind the orchestrator. Implementations: the embedded SQLite store (default) and
 * MongoDB. Both pass the same contract suite. The orchestrator serializes scheduling in memory,
 * so no method needs a multi-document transaction; every method is one atomic write or a read
 * (the two that reach two collections, compaction and deletion, say in which order they write).
 */
export interface Store
  extends
    ExpressionRepository,
    OpResultRepository,
    AccountRepository,
    QuarantineRepository,
    SettingsRepository {
  /** Opens the database and creates tables/collections and indexes. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** True when the database answers right now. */
  ping(): Promise<boolean>;
}
