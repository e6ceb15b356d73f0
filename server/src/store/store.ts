/**
 * The `Store` interface every adapter implements, and the stored records (expressions, results,
 * accounts, quarantines, settings).
 */
import {
  SettingsSchema,
  type AgentKind,
  type ErrorInfo,
  type ExpressionStatus,
  type Role,
  type Settings,
} from '@expressionist/core';
import type { CompactResults } from './compact-results.js';

/** An expression as persisted. Times are epoch milliseconds. */
export interface StoredExpression {
  id: string;
  /** Source text exactly as submitted. */
  expression: string;
  /** Canonical text used as the result-cache key. */
  normalized: string;
  status: ExpressionStatus;
  /** Exact decimal result when done. */
  value: string | null;
  error: ErrorInfo | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Number of operations in the plan (0 for a bare number). */
  opCount: number;
  /** True when answered from the result cache. */
  cached: boolean;
  /** The user who submitted it (accounts mode); null in open mode. */
  owner: string | null;
}

/**
 * Fields of an expression that change after it is created, and, with its final status, its
 * operation results compacted into one record (their rows are then deleted; see
 * compact-results.ts).
 */
export type ExpressionPatch = Partial<
  Pick<StoredExpression, 'status' | 'value' | 'error' | 'startedAt' | 'finishedAt'>
> & { results?: CompactResults };

/** A computed operation result. (expressionId, opId) is unique: written once, never updated. */
export interface StoredOpResult {
  expressionId: string;
  opId: number;
  value: string;
  agentId: string;
  attempt: number;
  finishedAt: number;
}

/** A finished expression as retention and deletion need it. */
export interface FinishedRef {
  id: string;
  owner: string | null;
}

/** Keyset cursor for newest-first listing: the last row of the previous page. */
export interface ListCursor {
  createdAt: number;
  id: string;
}

/** A user account. `login` is stored lower-case and is unique. */
export interface StoredUser {
  id: string;
  login: string;
  /** `scrypt$…` (see auth/passwords.ts); the password itself is never stored. */
  passwordHash: string;
  role: Role;
  createdAt: number;
  /** When an admin disabled the account; null while it is enabled. */
  disabledAt: number | null;
  /**
   * Sessions signed under an earlier epoch have ended: bumped by a password change and by
   * disabling the account (each session token carries the epoch it was signed under).
   */
  sessionEpoch: number;
}

/** An admin-issued agent credential; only a hash of its token is kept. */
export interface StoredCredential {
  id: string;
  name: string;
  tokenHash: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** An agent cut off for a wrong result; it stays refused until an admin releases it. */
export interface StoredQuarantine {
  agentId: string;
  name: string;
  kind: AgentKind;
  reason: string;
  at: number;
}

/**
 * Settings as stored: a field added to the table after they were saved is missing (the caller
 * fills it from the environment or the default), a field since removed is dropped.
 */
export type StoredSettings = Partial<Settings>;

/** Checks settings read back from a store (its data is a boundary like any other). */
export function parseStoredSettings(raw: unknown): StoredSettings {
  return SettingsSchema.partial().parse(raw);
}

export type InsertOutcome = { inserted: true } | { inserted: false; existing: StoredExpression };

/**
 * Persistence behind the orchestrator. Implementations: the embedded SQLite store (default) and
 * MongoDB. Both pass the same contract suite. The orchestrator serializes scheduling in memory,
 * so no method needs a multi-document transaction; every method is one atomic write or a read.
 */
export interface Store {
  /** Opens the database and creates tables/collections and indexes. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** True when the database answers right now. */
  ping(): Promise<boolean>;

  /** Inserts a new expression; if the id exists, returns the existing one and writes nothing. */
  insertExpression(expression: StoredExpression): Promise<InsertOutcome>;
  /**
   * Applies a patch to one expression (a no-op for an unknown id). A patch with `results` stores
   * them as the expression's one compact record, then deletes its result rows; from then on
   * `getOpResults` reads the record (a row written after it, by a result already on the wire when
   * a canceled expression finished, is ignored and goes with the expression).
   */
  updateExpression(id: string, patch: ExpressionPatch): Promise<void>;
  getExpression(id: string): Promise<StoredExpression | null>;
  /**
   * Newest first (createdAt desc, id desc), strictly after `cursor` when given; only `owner`'s
   * when given.
   */
  listExpressions(limit: number, cursor?: ListCursor, owner?: string): Promise<StoredExpression[]>;
  /** Every expression whose status is `pending` or `in_progress`, oldest first. */
  listUnfinished(): Promise<StoredExpression[]>;
  /** Count of expressions per status. */
  countByStatus(): Promise<Partial<Record<ExpressionStatus, number>>>;
  /**
   * Ids of finished expressions (done, error, canceled: those with a finish time) that finished
   * before `before`, oldest first, at most `limit`; only `owner`'s when given. Indexed both ways.
   */
  listFinishedBefore(before: number, limit: number, owner?: string): Promise<FinishedRef[]>;
  /**
   * Deletes one expression with its operation results (the results first: a crash between the
   * two leaves a finished expression without them, which only its operation views miss). True
   * when it existed.
   */
  deleteExpression(id: string): Promise<boolean>;

  /**
   * Records operation results. A result whose (expressionId, opId) already exists is not
   * written again; returns how many rows were new. Resolves only once the rows are durable.
   */
  saveOpResults(results: StoredOpResult[]): Promise<number>;
  /**
   * Recorded results of one expression: all of them, or only those of `opIds` (a page of views
   * reads a few thousand of a 500,000-op expression's results, not all of them). By op id. From
   * the compact record when the expression has one, from the rows otherwise.
   */
  getOpResults(expressionId: string, opIds?: readonly number[]): Promise<StoredOpResult[]>;
  /**
   * Recorded results of several expressions in one round trip (restart recovery: one query per
   * expression is slow on servers that scan per query). No particular order.
   */
  getOpResultsOfMany(expressionIds: readonly string[]): Promise<StoredOpResult[]>;

  getSettings(): Promise<StoredSettings | null>;
  saveSettings(settings: Settings): Promise<void>;

  /** Records a quarantine (replacing an earlier one of the same agent). */
  saveQuarantine(quarantine: StoredQuarantine): Promise<void>;
  /** Lifts a quarantine; resolves true when there was one. */
  deleteQuarantine(agentId: string): Promise<boolean>;
  /** Every quarantine in force, oldest first. */
  listQuarantines(): Promise<StoredQuarantine[]>;

  /** Creates a user; `taken` when the login exists (logins are unique, compared lower-case). */
  createUser(user: StoredUser): Promise<'created' | 'taken'>;
  getUserByLogin(login: string): Promise<StoredUser | null>;
  getUser(id: string): Promise<StoredUser | null>;
  /** Whether any admin exists. */
  hasAdmin(): Promise<boolean>;
  /** Every user, oldest first (createdAt, then id). */
  listUsers(): Promise<StoredUser[]>;
  /** Changes a user's password hash, disabled time or session epoch; false for an unknown id. */
  updateUser(
    id: string,
    patch: Partial<Pick<StoredUser, 'passwordHash' | 'disabledAt' | 'sessionEpoch'>>,
  ): Promise<boolean>;
  /** Deletes a user (their expressions stay); false for an unknown id. */
  deleteUser(id: string): Promise<boolean>;

  /**
   * Records that the session token `jti` was revoked (signed out). Kept until `expiresAt` (epoch
   * ms, the token's own expiry), after which the token is refused anyway. Idempotent.
   */
  revokeToken(jti: string, expiresAt: number): Promise<void>;
  /** Whether the session token `jti` was revoked. */
  isTokenRevoked(jti: string): Promise<boolean>;
  /** Forgets revocations of tokens expired by `now`; returns how many. */
  pruneRevokedTokens(now: number): Promise<number>;

  saveCredential(credential: StoredCredential): Promise<void>;
  getCredential(id: string): Promise<StoredCredential | null>;
  /** Every credential, revoked ones included, oldest first. */
  listCredentials(): Promise<StoredCredential[]>;
  /** Sets `lastUsedAt`/`revokedAt` of a credential (a no-op for an unknown id). */
  updateCredential(
    id: string,
    patch: Partial<Pick<StoredCredential, 'lastUsedAt' | 'revokedAt'>>,
  ): Promise<void>;
}
