/**
 * The MongoDB store adapter: single-document atomic writes only, so it runs on compatible servers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoBulkWriteError, MongoClient, MongoServerError } from 'mongodb';
import type { Collection, CommandStartedEvent, Db, Filter, WriteError } from 'mongodb';
import type { ErrorInfo, ExpressionStatus, Settings } from '@expressionist/core';
import type {
  ExpressionPatch,
  FinishedRef,
  InsertOutcome,
  ListCursor,
  Store,
  StoredExpression,
  StoredOpResult,
  StoredCredential,
  StoredQuarantine,
  StoredSettings,
  StoredUser,
} from './store.js';
import { parseStoredSettings } from './store.js';
import { decodeCompact, encodeCompact, expandResults } from './compact-results.js';

export interface MongoStoreOptions {
  /** How long init() keeps trying to reach the database before it gives up. Default 30 000. */
  connectTimeoutMs?: number;
  /**
   * Sees every command the store sends (the driver's command monitoring), e.g. to explain each
   * query the store makes (server/test/store-mongo-explain.test.ts).
   */
  onCommand?: (event: CommandStartedEvent) => void;
}

interface ExpressionDoc {
  _id: string;
  expression: string;
  normalized: string;
  status: ExpressionStatus;
  value: string | null;
  error: ErrorInfo | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  opCount: number;
  cached: boolean;
  owner?: string | null;
  /** The compact record of a finished expression's results (compact-results.ts), as JSON text. */
  results?: string;
}

/** Expression reads leave the compact results on the server (only getOpResults needs them). */
const WITHOUT_RESULTS = { projection: { results: 0 } } as const;

interface UserDoc {
  _id: string;
  login: string;
  passwordHash: string;
  role: StoredUser['role'];
  createdAt: number;
  /** Absent on users stored before accounts could be disabled. */
  disabledAt?: number | null;
  sessionEpoch?: number;
}

interface RevokedTokenDoc {
  /** The token's jti. */
  _id: string;
  expiresAt: number;
}

interface CredentialDoc {
  _id: string;
  name: string;
  tokenHash: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface OpResultDoc {
  /** `${expressionId}:${opId}`; opId is a number, so the last colon splits it unambiguously. */
  _id: string;
  expressionId: string;
  opId: number;
  value: string;
  agentId: string;
  attempt: number;
  finishedAt: number;
}

interface QuarantineDoc {
  _id: string;
  name: string;
  kind: StoredQuarantine['kind'];
  reason: string;
  at: number;
}

interface SettingsDoc {
  _id: 'settings';
  value: Settings;
}

const DUPLICATE_KEY = 11000;
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** Bound on how long one operation waits for a reachable server before it rejects. */
const SERVER_SELECTION_TIMEOUT_MS = 3_000;
/** Bound on a single network read, so a half-open connection cannot hang a call forever. */
const SOCKET_TIMEOUT_MS = 20_000;
const PING_TIMEOUT_MS = 2_000;
/** How long close() waits for the driver before giving up on a database that is away. */
const CLOSE_TIMEOUT_MS = 5_000;
const RETRY_DELAY_MS = 500;

/** The URI with any password replaced by `***`, for messages and logs. */
export function redactMongoUri(uri: string): string {
  return uri.replace(/^(mongodb(?:\+srv)?:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

function fromDoc(d: ExpressionDoc): StoredExpression {
  return {
    id: d._id,
    expression: d.expression,
    normalized: d.normalized,
    status: d.status,
    value: d.value ?? null,
    error: d.error ?? null,
    createdAt: d.createdAt,
    startedAt: d.startedAt ?? null,
    finishedAt: d.finishedAt ?? null,
    opCount: d.opCount,
    cached: d.cached,
    owner: d.owner ?? null,
  };
}

function toDoc(e: StoredExpression): ExpressionDoc {
  return {
    _id: e.id,
    expression: e.expression,
    normalized: e.normalized,
    status: e.status,
    value: e.value,
    error: e.error,
    createdAt: e.createdAt,
    startedAt: e.startedAt,
    finishedAt: e.finishedAt,
    opCount: e.opCount,
    cached: e.cached,
    owner: e.owner,
  };
}

function fromOpDoc(d: OpResultDoc): StoredOpResult {
  return {
    expressionId: d.expressionId,
    opId: d.opId,
    value: d.value,
    agentId: d.agentId,
    attempt: d.attempt,
    finishedAt: d.finishedAt,
  };
}

/**
 * MongoDB store (official driver). Every method is one single-document atomic write or a read:
 * no transactions, change streams or TTL indexes, so it also runs on MongoDB-compatible servers
 * such as FerretDB. Writes use `{ w: 'majority', j: true }` so a call resolves only once the
 * write is journaled. If the database goes away, calls reject within a few seconds (server
 * selection timeout) and the driver reconnects on its own when it comes back.
 */
export class MongoStore implements Store {
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly expressions: Collection<ExpressionDoc>;
  private readonly opResults: Collection<OpResultDoc>;
  private readonly settings: Collection<SettingsDoc>;
  private readonly quarantines: Collection<QuarantineDoc>;
  private readonly users: Collection<UserDoc>;
  private readonly credentials: Collection<CredentialDoc>;
  private readonly revokedTokens: Collection<RevokedTokenDoc>;
  private readonly connectTimeoutMs: number;
  private closed = false;

  constructor(
    private readonly uri: string,
    dbName: string,
    options: MongoStoreOptions = {},
  ) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const attemptMs = Math.max(200, Math.min(SERVER_SELECTION_TIMEOUT_MS, this.connectTimeoutMs));
    this.client = new MongoClient(uri, {
      serverSelectionTimeoutMS: attemptMs,
      connectTimeoutMS: attemptMs,
      socketTimeoutMS: SOCKET_TIMEOUT_MS,
      writeConcern: { w: 'majority', journal: true },
      retryWrites: true,
      retryReads: true,
      ignoreUndefined: true,
      monitorCommands: options.onCommand !== undefined,
    });
    if (options.onCommand) this.client.on('commandStarted', options.onCommand);
    this.db = this.client.db(dbName);
    this.expressions = this.db.collection<ExpressionDoc>('expressions');
    this.opResults = this.db.collection<OpResultDoc>('op_results');
    this.settings = this.db.collection<SettingsDoc>('settings');
    this.quarantines = this.db.collection<QuarantineDoc>('quarantines');
    this.users = this.db.collection<UserDoc>('users');
    this.credentials = this.db.collection<CredentialDoc>('credentials');
    this.revokedTokens = this.db.collection<RevokedTokenDoc>('revoked_tokens');
  }

  async init(): Promise<void> {
    const started = Date.now();
    const deadline = started + this.connectTimeoutMs;
    for (;;) {
      try {
        await this.client.connect();
        await this.db.command({ ping: 1 });
        break;
      } catch (err) {
        if (this.closed) throw new Error('MongoStore was closed during init()');
        const remaining = deadline - Date.now();
        if (remaining <= RETRY_DELAY_MS) {
          const seconds = Number((this.connectTimeoutMs / 1000).toFixed(1));
          throw new Error(
            `MongoDB at ${redactMongoUri(this.uri)} unreachable after ${seconds} s: ${errorText(err)}`,
            { cause: err },
          );
        }
        await sleep(RETRY_DELAY_MS);
      }
    }
    // One createIndex call per index: FerretDB 1.24 drops the connection when a multi-index
    // createIndexes names only indexes that already exist (every init() after the first).
    await this.expressions.createIndex({ createdAt: -1, _id: -1 }, { name: 'by_created' });
    await this.expressions.createIndex({ status: 1 }, { name: 'by_status' });
    await this.opResults.createIndex({ expressionId: 1 }, { name: 'by_expression' });
    await this.expressions.createIndex(
      { owner: 1, createdAt: -1, _id: -1 },
      { name: 'by_owner_created' },
    );
    await this.expressions.createIndex({ finishedAt: 1, _id: 1 }, { name: 'by_finished' });
    await this.expressions.createIndex(
      { owner: 1, finishedAt: 1, _id: 1 },
      { name: 'by_owner_finished' },
    );
    await this.users.createIndex({ login: 1 }, { name: 'by_login', unique: true });
    await this.users.createIndex({ role: 1 }, { name: 'by_role' });
    await this.revokedTokens.createIndex({ expiresAt: 1 }, { name: 'by_expiry' });
  }

  /** Drops the whole database (test isolation and `--reset`-style tooling). */
  async dropDatabase(): Promise<void> {
    await this.db.dropDatabase();
  }

  /**
   * Closes the client. Bounded: with the server gone, the driver can wait on in-flight operations
   * (and their retries) for a long time, and a shutdown must not hang on a database that is away.
   */
  async close(): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.client.close().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  async ping(): Promise<boolean> {
    if (this.closed) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
    });
    const ping = this.db
      .command({ ping: 1 }, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) })
      .then(
        (reply) => reply['ok'] === 1,
        () => false,
      );
    try {
      return await Promise.race([ping, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async insertExpression(expression: StoredExpression): Promise<InsertOutcome> {
    try {
      await this.expressions.insertOne(toDoc(expression));
      return { inserted: true };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    const existing = await this.expressions.findOne({ _id: expression.id }, WITHOUT_RESULTS);
    if (!existing) throw new Error(`expression ${expression.id} neither inserted nor found`);
    return { inserted: false, existing: fromDoc(existing) };
  }

  async updateExpression(id: string, patch: ExpressionPatch): Promise<void> {
    const set: Partial<Omit<ExpressionDoc, '_id'>> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.value !== undefined) set.value = patch.value;
    if (patch.error !== undefined) set.error = patch.error;
    if (patch.startedAt !== undefined) set.startedAt = patch.startedAt;
    if (patch.finishedAt !== undefined) set.finishedAt = patch.finishedAt;
    if (patch.results !== undefined) set.results = encodeCompact(patch.results);
    if (Object.keys(set).length === 0) return;
    await this.expressions.updateOne({ _id: id }, { $set: set });
    // Only once the record is stored: a crash between the two leaves both, and reads prefer it.
    if (patch.results !== undefined) await this.opResults.deleteMany({ expressionId: id });
  }

  async getExpression(id: string): Promise<StoredExpression | null> {
    const doc = await this.expressions.findOne({ _id: id }, WITHOUT_RESULTS);
    return doc ? fromDoc(doc) : null;
  }

  async listExpressions(
    limit: number,
    cursor?: ListCursor,
    owner?: string,
  ): Promise<StoredExpression[]> {
    // limit(0) means "no limit" to MongoDB.
    if (!(limit >= 1)) return [];
    const filter: Filter<ExpressionDoc> = cursor
      ? {
          $or: [
            { createdAt: { $lt: cursor.createdAt } },
            { createdAt: cursor.createdAt, _id: { $lt: cursor.id } },
          ],
        }
      : {};
    if (owner !== undefined) filter.owner = owner;
    const docs = await this.expressions
      .find(filter, WITHOUT_RESULTS)
      .sort({ createdAt: -1, _id: -1 })
      .limit(Math.floor(limit))
      .toArray();
    return docs.map(fromDoc);
  }

  async listUnfinished(): Promise<StoredExpression[]> {
    const docs = await this.expressions
      .find({ status: { $in: ['pending', 'in_progress'] } }, WITHOUT_RESULTS)
      .sort({ createdAt: 1, _id: 1 })
      .toArray();
    return docs.map(fromDoc);
  }

  async listFinishedBefore(before: number, limit: number, owner?: string): Promise<FinishedRef[]> {
    if (!(limit >= 1)) return [];
    // `$lt` on a number matches no null: unfinished expressions are never listed.
    const docs = await this.expressions
      .find(
        { finishedAt: { $lt: before }, ...(owner === undefined ? {} : { owner }) },
        { projection: { _id: 1, owner: 1 } },
      )
      .sort({ finishedAt: 1, _id: 1 })
      .limit(Math.floor(limit))
      .toArray();
    return docs.map((d) => ({ id: d._id, owner: d.owner ?? null }));
  }

  async deleteExpression(id: string): Promise<boolean> {
    await this.opResults.deleteMany({ expressionId: id });
    return (await this.expressions.deleteOne({ _id: id })).deletedCount > 0;
  }

  async countByStatus(): Promise<Partial<Record<ExpressionStatus, number>>> {
    const rows = await this.expressions
      .aggregate<{ _id: ExpressionStatus; n: number }>([
        { $group: { _id: '$status', n: { $sum: 1 } } },
      ])
      .toArray();
    const counts: Partial<Record<ExpressionStatus, number>> = {};
    for (const { _id, n } of rows) counts[_id] = n;
    return counts;
  }

  async saveOpResults(results: StoredOpResult[]): Promise<number> {
    if (results.length === 0) return 0;
    const docs: OpResultDoc[] = results.map((r) => ({
      _id: `${r.expressionId}:${r.opId}`,
      expressionId: r.expressionId,
      opId: r.opId,
      value: r.value,
      agentId: r.agentId,
      attempt: r.attempt,
      finishedAt: r.finishedAt,
    }));
    try {
      const res = await this.opResults.insertMany(docs, { ordered: false });
      return res.insertedCount;
    } catch (err) {
      // Unordered: every document is attempted; duplicates of already-stored keys are the
      // expected "not new" case. Any other failure (or a write-concern error) rejects.
      if (!(err instanceof MongoBulkWriteError) || err.writeConcernError) throw err;
      const writeErrors: WriteError[] = Array.isArray(err.writeErrors)
        ? err.writeErrors
        : [err.writeErrors];
      if (writeErrors.length === 0 || writeErrors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
      return err.insertedCount;
    }
  }

  async getOpResults(expressionId: string, opIds?: readonly number[]): Promise<StoredOpResult[]> {
    if (opIds !== undefined && opIds.length === 0) return [];
    const compact = await this.expressions.findOne(
      { _id: expressionId, results: { $exists: true } },
      { projection: { results: 1 } },
    );
    if (compact?.results !== undefined)
      return expandResults(expressionId, decodeCompact(compact.results), opIds);
    const filter =
      opIds === undefined ? { expressionId } : { expressionId, opId: { $in: [...opIds] } };
    const docs = await this.opResults.find(filter).sort({ opId: 1 }).toArray();
    return docs.map(fromOpDoc);
  }

  async getOpResultsOfMany(expressionIds: readonly string[]): Promise<StoredOpResult[]> {
    if (expressionIds.length === 0) return [];
    const docs = await this.opResults.find({ expressionId: { $in: [...expressionIds] } }).toArray();
    return docs.map(fromOpDoc);
  }

  async getSettings(): Promise<StoredSettings | null> {
    const doc = await this.settings.findOne({ _id: 'settings' });
    return doc ? parseStoredSettings(doc.value) : null;
  }

  async saveSettings(settings: Settings): Promise<void> {
    await this.settings.replaceOne({ _id: 'settings' }, { value: settings }, { upsert: true });
  }

  async saveQuarantine(q: StoredQuarantine): Promise<void> {
    await this.quarantines.replaceOne(
      { _id: q.agentId },
      { name: q.name, kind: q.kind, reason: q.reason, at: q.at },
      { upsert: true },
    );
  }

  async deleteQuarantine(agentId: string): Promise<boolean> {
    return (await this.quarantines.deleteOne({ _id: agentId })).deletedCount > 0;
  }

  async listQuarantines(): Promise<StoredQuarantine[]> {
    const docs = await this.quarantines.find({}).sort({ at: 1, _id: 1 }).toArray();
    return docs.map((d) => ({
      agentId: d._id,
      name: d.name,
      kind: d.kind,
      reason: d.reason,
      at: d.at,
    }));
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
