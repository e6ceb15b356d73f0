/**
 * The MongoDB store adapter: single-document atomic writes only, so it runs on compatible servers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import type { CommandStartedEvent, Db } from 'mongodb';
import { ComposedStore } from './composed-store.js';
import {
  MongoAccounts,
  type CredentialDoc,
  type RevokedTokenDoc,
  type UserDoc,
} from './mongo/accounts.js';
import { MongoExpressions, type ExpressionDoc } from './mongo/expressions.js';
import { MongoOpResults, type OpResultDoc } from './mongo/op-results.js';
import { MongoQuarantines, type QuarantineDoc } from './mongo/quarantines.js';
import { MongoSettings, type SettingsDoc } from './mongo/settings.js';
import type { StoreRepositories } from './repositories.js';

export interface MongoStoreOptions {
  /** How long init() keeps trying to reach the database before it gives up. Default 30 000. */
  connectTimeoutMs?: number;
  /**
   * Sees every command the store sends (the driver's command monitoring), e.g. to explain each
   * query the store makes (server/test/store-mongo-explain.test.ts).
   */
  onCommand?: (event: CommandStartedEvent) => void;
}

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

/**
 * MongoDB store (official driver). Every method is one single-document atomic write or a read:
 * no transactions, change streams or TTL indexes, so it also runs on MongoDB-compatible servers
 * such as FerretDB. Writes use `{ w: 'majority', j: true }` so a call resolves only once the
 * write is journaled. If the database goes away, calls reject within a few seconds (server
 * selection timeout) and the driver reconnects on its own when it comes back.
 */
export class MongoStore extends ComposedStore {
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly repos: {
    expressions: MongoExpressions;
    opResults: MongoOpResults;
    accounts: MongoAccounts;
    quarantines: MongoQuarantines;
    settings: MongoSettings;
  };
  private readonly connectTimeoutMs: number;
  private closed = false;

  constructor(
    private readonly uri: string,
    dbName: string,
    options: MongoStoreOptions = {},
  ) {
    super();
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
    const expressions = this.db.collection<ExpressionDoc>('expressions');
    const opResults = this.db.collection<OpResultDoc>('op_results');
    this.repos = {
      expressions: new MongoExpressions(expressions, opResults),
      opResults: new MongoOpResults(opResults, expressions),
      settings: new MongoSettings(this.db.collection<SettingsDoc>('settings')),
      quarantines: new MongoQuarantines(this.db.collection<QuarantineDoc>('quarantines')),
      accounts: new MongoAccounts(
        this.db.collection<UserDoc>('users'),
        this.db.collection<CredentialDoc>('credentials'),
        this.db.collection<RevokedTokenDoc>('revoked_tokens'),
      ),
    };
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
    await this.repos.expressions.createIndexes();
    await this.repos.opResults.createIndexes();
    await this.repos.accounts.createIndexes();
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

  protected repositories(): StoreRepositories {
    return this.repos;
  }
}
