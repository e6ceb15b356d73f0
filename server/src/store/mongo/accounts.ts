/**
 * The MongoDB account repository: `users`, agent `credentials` and `revoked_tokens`.
 */
import type { Collection } from 'mongodb';
import type { StoredCredential, StoredUser } from '../records.js';
import type { AccountRepository } from '../repositories.js';
import { isDuplicateKey } from './duplicate-key.js';

export interface UserDoc {
  _id: string;
  login: string;
  passwordHash: string;
  role: StoredUser['role'];
  createdAt: number;
  /** Absent on users stored before accounts could be disabled. */
  disabledAt?: number | null;
  sessionEpoch?: number;
}

export interface RevokedTokenDoc {
  /** The token's jti. */
  _id: string;
  expiresAt: number;
}

export interface CredentialDoc {
  _id: string;
  name: string;
  tokenHash: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export class MongoAccounts implements AccountRepository {
  constructor(
    private readonly users: Collection<UserDoc>,
    private readonly credentials: Collection<CredentialDoc>,
    private readonly revokedTokens: Collection<RevokedTokenDoc>,
  ) {}

  /** One createIndex call per index (see MongoStore.init). */
  async createIndexes(): Promise<void> {
    await this.users.createIndex({ login: 1 }, { name: 'by_login', unique: true });
    await this.users.createIndex({ role: 1 }, { name: 'by_role' });
    await this.revokedTokens.createIndex({ expiresAt: 1 }, { name: 'by_expiry' });
  }

  async createUser(u: StoredUser): Promise<'created' | 'taken'> {
    try {
      await this.users.insertOne({
        _id: u.id,
        login: u.login.toLowerCase(),
        passwordHash: u.passwordHash,
        role: u.role,
        createdAt: u.createdAt,
        disabledAt: u.disabledAt,
        sessionEpoch: u.sessionEpoch,
      });
      return 'created';
    } catch (err) {
      if (isDuplicateKey(err)) return 'taken';
      throw err;
    }
  }

  async getUserByLogin(login: string): Promise<StoredUser | null> {
    const doc = await this.users.findOne({ login: login.toLowerCase() });
    return doc ? fromUserDoc(doc) : null;
  }

  async getUser(id: string): Promise<StoredUser | null> {
    const doc = await this.users.findOne({ _id: id });
    return doc ? fromUserDoc(doc) : null;
  }

  async hasAdmin(): Promise<boolean> {
    return (await this.users.findOne({ role: 'admin' })) !== null;
  }

  async listUsers(): Promise<StoredUser[]> {
    const docs = await this.users.find({}).sort({ createdAt: 1, _id: 1 }).toArray();
    return docs.map(fromUserDoc);
  }

  async updateUser(
    id: string,
    patch: Partial<Pick<StoredUser, 'passwordHash' | 'disabledAt' | 'sessionEpoch'>>,
  ): Promise<boolean> {
    if (Object.values(patch).every((v) => v === undefined))
      return (await this.users.findOne({ _id: id })) !== null;
    const { matchedCount } = await this.users.updateOne({ _id: id }, { $set: patch });
    return matchedCount > 0;
  }

  async deleteUser(id: string): Promise<boolean> {
    const { deletedCount } = await this.users.deleteOne({ _id: id });
    return deletedCount > 0;
  }

  async revokeToken(jti: string, expiresAt: number): Promise<void> {
    await this.revokedTokens.updateOne(
      { _id: jti },
      { $setOnInsert: { expiresAt } },
      { upsert: true },
    );
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return (await this.revokedTokens.findOne({ _id: jti })) !== null;
  }

  async pruneRevokedTokens(now: number): Promise<number> {
    const { deletedCount } = await this.revokedTokens.deleteMany({ expiresAt: { $lte: now } });
    return deletedCount;
  }

  async saveCredential(c: StoredCredential): Promise<void> {
    await this.credentials.replaceOne(
      { _id: c.id },
      {
        name: c.name,
        tokenHash: c.tokenHash,
        createdAt: c.createdAt,
        lastUsedAt: c.lastUsedAt,
        revokedAt: c.revokedAt,
      },
      { upsert: true },
    );
  }

  async getCredential(id: string): Promise<StoredCredential | null> {
    const doc = await this.credentials.findOne({ _id: id });
    return doc ? fromCredentialDoc(doc) : null;
  }

  async listCredentials(): Promise<StoredCredential[]> {
    const docs = await this.credentials.find({}).sort({ createdAt: 1, _id: 1 }).toArray();
    return docs.map(fromCredentialDoc);
  }

  async updateCredential(
    id: string,
    patch: Partial<Pick<StoredCredential, 'lastUsedAt' | 'revokedAt'>>,
  ): Promise<void> {
    await this.credentials.updateOne({ _id: id }, { $set: patch });
  }
}

function fromUserDoc(d: UserDoc): StoredUser {
  return {
    id: d._id,
    login: d.login,
    passwordHash: d.passwordHash,
    role: d.role,
    createdAt: d.createdAt,
    disabledAt: d.disabledAt ?? null,
    sessionEpoch: d.sessionEpoch ?? 0,
  };
}

function fromCredentialDoc(d: CredentialDoc): StoredCredential {
  return {
    id: d._id,
    name: d.name,
    tokenHash: d.tokenHash,
    createdAt: d.createdAt,
    lastUsedAt: d.lastUsedAt ?? null,
    revokedAt: d.revokedAt ?? null,
  };
}
