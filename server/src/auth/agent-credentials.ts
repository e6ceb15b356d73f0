/**
 * Admin-issued agent credentials (`eat_<id>.<secret>` tokens, stored hashed): issuing, listing,
 * revoking, and checking a token an agent presents. Kept in memory; this is their only writer.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { ExpressionistError, type AgentCredentialView } from '@expressionist/core';
import type { Store, StoredCredential } from '../store/store.js';

/** How an agent credential's token starts (a session JWT never does). */
export const TOKEN_PREFIX = 'eat_';
/** How often a credential's `lastUsedAt` is written at most. */
const LAST_USED_EVERY_MS = 60_000;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function credentialView(c: StoredCredential): AgentCredentialView {
  return {
    id: c.id,
    name: c.name,
    createdAt: new Date(c.createdAt).toISOString(),
    lastUsedAt: iso(c.lastUsedAt),
    revokedAt: iso(c.revokedAt),
  };
}

export class AgentCredentials {
  /** Credentials by id, kept current by this service (it is the only writer). */
  private readonly credentials = new Map<string, StoredCredential>();
  private readonly revokedListeners: ((credentialId: string) => void)[] = [];
  private readonly changedListeners: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  /**
   * Reads every credential from the store again. Several orchestrators: credentials are issued
   * and revoked on the leader; the other instances reload when told (and each instance on start).
   */
  async reloadCredentials(): Promise<void> {
    const stored = await this.store.listCredentials();
    this.credentials.clear();
    for (const c of stored) this.credentials.set(c.id, c);
  }

  /** Called after a credential was issued or revoked here. */
  onCredentialsChanged(listener: () => void): void {
    this.changedListeners.push(listener);
  }

  /** Whether the credential behind `credentialId` is still valid (not revoked). */
  isLive(credentialId: string): boolean {
    const c = this.credentials.get(credentialId);
    return c !== undefined && c.revokedAt === null;
  }

  async issueCredential(name: string): Promise<{ credential: AgentCredentialView; token: string }> {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const credential: StoredCredential = {
      id,
      name,
      tokenHash: sha256(secret).toString('hex'),
      createdAt: Date.now(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.store.saveCredential(credential);
    this.credentials.set(id, credential);
    this.log.info({ credential: id, name }, 'agent credential issued');
    for (const listener of this.changedListeners) listener();
    return { credential: credentialView(credential), token: `${TOKEN_PREFIX}${id}.${secret}` };
  }

  listCredentials(): AgentCredentialView[] {
    return [...this.credentials.values()].map(credentialView);
  }

  /** Revokes a credential; agents holding it are cut off by the `onRevoked` listeners. */
  async revokeCredential(id: string): Promise<AgentCredentialView> {
    const current = this.credentials.get(id);
    if (!current) throw ExpressionistError.of('CREDENTIAL_NOT_FOUND', { id });
    if (current.revokedAt === null) {
      const revoked = { ...current, revokedAt: Date.now() };
      await this.store.updateCredential(id, { revokedAt: revoked.revokedAt });
      this.credentials.set(id, revoked);
      this.log.info({ credential: id, name: current.name }, 'agent credential revoked');
      for (const listener of this.revokedListeners) listener(id);
      for (const listener of this.changedListeners) listener();
    }
    return credentialView(this.credentials.get(id)!);
  }

  onRevoked(listener: (credentialId: string) => void): void {
    this.revokedListeners.push(listener);
  }

  /** The live credential an agent token (`eat_…`) names; UNAUTHENTICATED if none. */
  checkCredential(token: string): StoredCredential {
    const [id, secret] = token.slice(TOKEN_PREFIX.length).split('.');
    const c = id ? this.credentials.get(id) : undefined;
    const given = sha256(secret ?? '');
    const ok =
      c !== undefined &&
      c.revokedAt === null &&
      timingSafeEqual(given, Buffer.from(c.tokenHash, 'hex'));
    if (!ok || !c)
      throw ExpressionistError.of('UNAUTHENTICATED', {
        reason: 'the agent token is unknown or revoked.',
      });
    const now = Date.now();
    if (c.lastUsedAt === null || now - c.lastUsedAt > LAST_USED_EVERY_MS) {
      c.lastUsedAt = now;
      this.store.updateCredential(c.id, { lastUsedAt: now }).catch((err: unknown) => {
        this.log.warn({ err, credential: c.id }, 'recording credential use failed');
      });
    }
    return c;
  }
}
