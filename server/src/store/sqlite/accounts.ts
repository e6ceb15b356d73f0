/** The SQLite account repository: `users`, agent `credentials` and `revoked_tokens`. */
import type { StoredCredential, StoredUser } from '../records.js';
import type { AccountRepository } from '../repositories.js';
import { fromCredentialRow, fromUserRow, type Statements } from '../sqlite-schema.js';

export class SqliteAccounts implements AccountRepository {
  constructor(private readonly s: Statements) {}

  async createUser(u: StoredUser): Promise<'created' | 'taken'> {
    const { changes } = this.s.insertUser.run({
      id: u.id,
      login: u.login.toLowerCase(),
      password_hash: u.passwordHash,
      role: u.role,
      created_at: u.createdAt,
      disabled_at: u.disabledAt,
      session_epoch: u.sessionEpoch,
    });
    return changes > 0 ? 'created' : 'taken';
  }

  async getUserByLogin(login: string): Promise<StoredUser | null> {
    const row = this.s.getUserByLogin.get(login.toLowerCase());
    return row ? fromUserRow(row) : null;
  }

  async getUser(id: string): Promise<StoredUser | null> {
    const row = this.s.getUser.get(id);
    return row ? fromUserRow(row) : null;
  }

  async hasAdmin(): Promise<boolean> {
    return this.s.anyAdmin.get() !== undefined;
  }

  async listUsers(): Promise<StoredUser[]> {
    return this.s.listUsers.all().map(fromUserRow);
  }

  async updateUser(
    id: string,
    patch: Partial<Pick<StoredUser, 'passwordHash' | 'disabledAt' | 'sessionEpoch'>>,
  ): Promise<boolean> {
    const { passwordHash, disabledAt, sessionEpoch } = patch;
    const { changes } = this.s.patchUser.run({
      id,
      has_password_hash: passwordHash === undefined ? 0 : 1,
      password_hash: passwordHash ?? null,
      has_disabled_at: disabledAt === undefined ? 0 : 1,
      disabled_at: disabledAt ?? null,
      has_session_epoch: sessionEpoch === undefined ? 0 : 1,
      session_epoch: sessionEpoch ?? null,
    });
    return changes > 0;
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.s.deleteUser.run(id).changes > 0;
  }

  async revokeToken(jti: string, expiresAt: number): Promise<void> {
    this.s.revokeToken.run(jti, expiresAt);
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return this.s.isTokenRevoked.get(jti) !== undefined;
  }

  async pruneRevokedTokens(now: number): Promise<number> {
    return this.s.pruneRevokedTokens.run(now).changes;
  }

  async saveCredential(c: StoredCredential): Promise<void> {
    this.s.saveCredential.run({
      id: c.id,
      name: c.name,
      token_hash: c.tokenHash,
      created_at: c.createdAt,
      last_used_at: c.lastUsedAt,
      revoked_at: c.revokedAt,
    });
  }

  async getCredential(id: string): Promise<StoredCredential | null> {
    const row = this.s.getCredential.get(id);
    return row ? fromCredentialRow(row) : null;
  }

  async listCredentials(): Promise<StoredCredential[]> {
    return this.s.listCredentials.all().map(fromCredentialRow);
  }

  async updateCredential(
    id: string,
    patch: Partial<Pick<StoredCredential, 'lastUsedAt' | 'revokedAt'>>,
  ): Promise<void> {
    const current = await this.getCredential(id);
    if (!current) return;
    await this.saveCredential({ ...current, ...patch });
  }
}
