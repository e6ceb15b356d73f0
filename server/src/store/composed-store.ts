/**
 * `ComposedStore`: a `Store` made of one adapter's repositories, each method handed to the
 * repository of its collection; the adapter adds opening, closing and the health check.
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
import type { StoreRepositories } from './repositories.js';
import type { Store } from './store.js';

/**
 * The `Store` methods of an adapter, by delegation. Each is `async`, so an adapter that is not
 * open (its `repositories()` throws) rejects, as a store method always has, rather than throwing.
 */
export abstract class ComposedStore implements Store {
  abstract init(): Promise<void>;
  abstract close(): Promise<void>;
  abstract ping(): Promise<boolean>;
  /** The adapter's repositories (throws when they cannot be used yet). */
  protected abstract repositories(): StoreRepositories;

  async insertExpression(expression: StoredExpression): Promise<InsertOutcome> {
    return this.repositories().expressions.insertExpression(expression);
  }

  async updateExpression(id: string, patch: ExpressionPatch): Promise<void> {
    return this.repositories().expressions.updateExpression(id, patch);
  }

  async getExpression(id: string): Promise<StoredExpression | null> {
    return this.repositories().expressions.getExpression(id);
  }

  async listExpressions(
    limit: number,
    cursor?: ListCursor,
    owner?: string,
  ): Promise<StoredExpression[]> {
    return this.repositories().expressions.listExpressions(limit, cursor, owner);
  }

  async listUnfinished(): Promise<StoredExpression[]> {
    return this.repositories().expressions.listUnfinished();
  }

  async countByStatus(): Promise<Partial<Record<ExpressionStatus, number>>> {
    return this.repositories().expressions.countByStatus();
  }

  async listFinishedBefore(before: number, limit: number, owner?: string): Promise<FinishedRef[]> {
    return this.repositories().expressions.listFinishedBefore(before, limit, owner);
  }

  async deleteExpression(id: string): Promise<boolean> {
    return this.repositories().expressions.deleteExpression(id);
  }

  async saveOpResults(results: StoredOpResult[]): Promise<number> {
    return this.repositories().opResults.saveOpResults(results);
  }

  async getOpResults(expressionId: string, opIds?: readonly number[]): Promise<StoredOpResult[]> {
    return this.repositories().opResults.getOpResults(expressionId, opIds);
  }

  async getOpResultsOfMany(expressionIds: readonly string[]): Promise<StoredOpResult[]> {
    return this.repositories().opResults.getOpResultsOfMany(expressionIds);
  }

  async getSettings(): Promise<StoredSettings | null> {
    return this.repositories().settings.getSettings();
  }

  async saveSettings(settings: Settings): Promise<void> {
    return this.repositories().settings.saveSettings(settings);
  }

  async saveQuarantine(quarantine: StoredQuarantine): Promise<void> {
    return this.repositories().quarantines.saveQuarantine(quarantine);
  }

  async deleteQuarantine(agentId: string): Promise<boolean> {
    return this.repositories().quarantines.deleteQuarantine(agentId);
  }

  async listQuarantines(): Promise<StoredQuarantine[]> {
    return this.repositories().quarantines.listQuarantines();
  }

  async createUser(user: StoredUser): Promise<'created' | 'taken'> {
    return this.repositories().accounts.createUser(user);
  }

  async getUserByLogin(login: string): Promise<StoredUser | null> {
    return this.repositories().accounts.getUserByLogin(login);
  }

  async getUser(id: string): Promise<StoredUser | null> {
    return this.repositories().accounts.getUser(id);
  }

  async hasAdmin(): Promise<boolean> {
    return this.repositories().accounts.hasAdmin();
  }

  async listUsers(): Promise<StoredUser[]> {
    return this.repositories().accounts.listUsers();
  }

  async updateUser(
    id: string,
    patch: Partial<Pick<StoredUser, 'passwordHash' | 'disabledAt' | 'sessionEpoch'>>,
  ): Promise<boolean> {
    return this.repositories().accounts.updateUser(id, patch);
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.repositories().accounts.deleteUser(id);
  }

  async revokeToken(jti: string, expiresAt: number): Promise<void> {
    return this.repositories().accounts.revokeToken(jti, expiresAt);
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return this.repositories().accounts.isTokenRevoked(jti);
  }

  async pruneRevokedTokens(now: number): Promise<number> {
    return this.repositories().accounts.pruneRevokedTokens(now);
  }

  async saveCredential(credential: StoredCredential): Promise<void> {
    return this.repositories().accounts.saveCredential(credential);
  }

  async getCredential(id: string): Promise<StoredCredential | null> {
    return this.repositories().accounts.getCredential(id);
  }

  async listCredentials(): Promise<StoredCredential[]> {
    return this.repositories().accounts.listCredentials();
  }

  async updateCredential(
    id: string,
    patch: Partial<Pick<StoredCredential, 'lastUsedAt' | 'revokedAt'>>,
  ): Promise<void> {
    return this.repositories().accounts.updateCredential(id, patch);
  }
}
