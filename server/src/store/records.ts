/**
 * The stored records every adapter reads and writes (expressions, results, accounts, quarantines,
 * settings), and the check of settings read back.
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
