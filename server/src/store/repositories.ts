/**
 * The store's per-collection repositories (expressions, operation results, accounts, quarantines,
 * settings): what each adapter implements once per collection, and `Store` composes.
 */
import type { ExpressionStatus, Settings } from '@expressionist/core';
import type {
  ExpressionPatch,
  FinishedRef,
  InsertOutcome,
  ListCursor,
  StoredCredential,
  StoredExpression,
  StoredOpResult,
  StoredQuarantine,
  StoredSettings,
  StoredUser,
} from './records.js';

/**
 * Expressions: intake, status changes, listing, retention. Two methods reach the results too:
 * compaction (`updateExpression` with `results`) and deletion, in the write order given below.
 */
export interface ExpressionRepository {
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
}

/** Operation results: rows while an expression runs, its compact record once it has finished. */
export interface OpResultRepository {
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
}

/** Accounts: users, agent credentials and revoked session tokens. */
export interface AccountRepository {
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

/** Quarantined agents. */
export interface QuarantineRepository {
  /** Records a quarantine (replacing an earlier one of the same agent). */
  saveQuarantine(quarantine: StoredQuarantine): Promise<void>;
  /** Lifts a quarantine; resolves true when there was one. */
  deleteQuarantine(agentId: string): Promise<boolean>;
  /** Every quarantine in force, oldest first. */
  listQuarantines(): Promise<StoredQuarantine[]>;
}

/** The orchestrator's settings: one record. */
export interface SettingsRepository {
  getSettings(): Promise<StoredSettings | null>;
  saveSettings(settings: Settings): Promise<void>;
}

/** One adapter's repositories, as `ComposedStore` delegates to them. */
export interface StoreRepositories {
  expressions: ExpressionRepository;
  opResults: OpResultRepository;
  accounts: AccountRepository;
  quarantines: QuarantineRepository;
  settings: SettingsRepository;
}
