/**
 * The dashboard's live state: one Socket.IO connection to the `/ui` namespace. The server sends a
 * `snapshot` on every (re)connect and `delta` batches after it; both are validated, then merged by
 * the pure reducer in `merge.ts` into SvelteMaps so each row re-renders only when its own entry
 * changes. Nothing here polls.
 *
 * In accounts mode the handshake carries the user's token (`auth: { token }`); signing in or out
 * reconnects with the new one and clears what the previous user could see. A refused handshake
 * (`UNAUTHENTICATED…`) is not retried: the session ends and the sign-in prompt shows instead.
 */
import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import { SvelteMap } from 'svelte/reactivity';
import {
  LIVE_OPERATIONS_WINDOW,
  SubscribeReplySchema,
  UiDeltaSchema,
  UiSnapshotSchema,
  type AgentView,
  type ErrorInfo,
  type ExpressionView,
  type OperationView,
  type ServerToUiEvents,
  type Settings,
  type StatsView,
  type UiToServerEvents,
} from '@expressionist/core';
import {
  appendSample,
  applyDelta,
  applySnapshot,
  markListComplete,
  replaceOperations,
  upsertExpressions,
  type LiveModel,
  type Sample,
} from './merge';
import { getExpression, getOperations, listExpressions } from './api';
import { session } from './session.svelte';

/** The `data` of a refused handshake: the error code (see server/src/realtime/io.ts). */
const RefusalSchema = z.object({ code: z.string() });

/** `signedOut`: accounts mode without a (valid) token; nothing is connected. */
export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'signedOut';

/** How far back the throughput chart reaches. */
export const THROUGHPUT_WINDOW_MS = 60_000;
/** REST page size used by "Load more". */
const PAGE_SIZE = 100;
/** A snapshot this short is the whole history: no "Load more" needed. */
const COMPLETE_SNAPSHOT_BELOW = 50;
const SUBSCRIBE_TIMEOUT_MS = 10_000;

/** The operations of one expression a page is looking at, kept live by a subscription. */
export class ExpressionWatch {
  status = $state<'loading' | 'ready' | 'error'>('loading');
  error = $state.raw<ErrorInfo | null>(null);
  /**
   * The operations as a list, replaced only when the set of ids changes (subscribe ack). The
   * graph layout derives from this, so per-operation updates do not re-run the layout.
   */
  structure = $state.raw<OperationView[]>([]);
  readonly operations = new SvelteMap<number, OperationView>();
  /**
   * Operations past the live window (`LIVE_OPERATIONS_WINDOW`): not shown here, read over the
   * API page by page. 0 when the page shows them all.
   */
  beyondWindow = $state(0);
  /** The whole source text when the live views carry only its prefix (fetched once). */
  source = $state.raw<string | null>(null);
  // A private index, replaced whole and never read by a template: no reactivity wanted.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  #ids: ReadonlySet<number> = new Set<number>();

  constructor(readonly id: string) {}

  /** Sets the operation list (ids ascending) that the graph is laid out from. */
  setStructure(operations: readonly OperationView[]): void {
    this.structure = operations.slice().sort((a, b) => a.id - b.id);
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see #ids
    this.#ids = new Set(this.structure.map((op) => op.id));
  }

  /** Whether a batch brings operations the layout does not know yet. */
  hasUnknown(operations: readonly OperationView[]): boolean {
    return operations.some((op) => !this.#ids.has(op.id));
  }
}

class LiveStore implements LiveModel {
  readonly expressions = new SvelteMap<string, ExpressionView>();
  order = $state.raw<string[]>([]);
  floor = $state.raw<string | null>(null);
  readonly agents = new SvelteMap<string, AgentView>();
  settings = $state.raw<Settings | null>(null);
  stats = $state.raw<StatsView | null>(null);
  readonly operations = new Map<string, Map<number, OperationView>>();

  connection = $state<ConnectionState>('connecting');
  /** True once the first snapshot arrived. */
  ready = $state(false);
  /** Bumped on every snapshot; pages that keep derived state reset on it. */
  snapshots = $state(0);
  throughput = $state.raw<Sample[]>([]);

  paging = $state<'idle' | 'loading' | 'done' | 'error'>('idle');
  /** Why the last page failed (shown through `errorText`, in the current language). */
  pagingError = $state.raw<unknown>(null);
  #cursor: string | null = null;

  #socket: Socket<ServerToUiEvents, UiToServerEvents> | null = null;
  /** The token the current (or next) handshake sends. */
  #token: string | null = null;
  /** The throughput sampler runs once per page, across reconnections. */
  #sampling = false;
  readonly #watches = new Map<string, { count: number; watch: ExpressionWatch }>();

  /**
   * Opens the connection with `token` (null in open mode). Idempotent for the same token; a
   * different token (another user) reconnects and starts from an empty store.
   */
  connect(token: string | null): void {
    if (this.#socket && token === this.#token) {
      // Refused earlier (signed out): try again now that we are asked to.
      if (!this.#socket.active) this.#socket.connect();
      return;
    }
    const changed = this.#socket !== null;
    this.#token = token;
    if (changed) {
      this.#reset();
      this.#socket?.disconnect().connect();
      this.connection = 'connecting';
      return;
    }
    this.connection = 'connecting';
    this.#open();
  }

  /** Closes the connection and forgets everything it showed (signed out in accounts mode). */
  disconnect(): void {
    this.#socket?.disconnect();
    this.#token = null;
    this.#reset();
    this.connection = 'signedOut';
  }

  /** Drops what the previous connection (perhaps another user's) delivered. */
  #reset(): void {
    this.expressions.clear();
    this.order = [];
    this.floor = null;
    this.agents.clear();
    this.settings = null;
    this.stats = null;
    this.throughput = [];
    this.ready = false;
    this.paging = 'idle';
    this.pagingError = null;
    this.#cursor = null;
  }

  #open(): void {
    const socket: Socket<ServerToUiEvents, UiToServerEvents> = io('/ui', {
      // WebSocket only: behind a load balancer over several orchestrators, HTTP long-polling
      // would need sticky sessions (each poll must reach the instance holding the session).
      transports: ['websocket'],
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
      // A function, so that every (re)connection sends the token current at that moment.
      auth: (callback) => callback(this.#token === null ? {} : { token: this.#token }),
    });
    this.#socket = socket;

    socket.on('connect', () => {
      this.connection = 'connected';
      for (const { watch } of this.#watches.values()) this.#subscribe(watch);
    });
    socket.on('disconnect', (reason) => {
      this.connection = 'disconnected';
      // The server closed us on purpose (e.g. restart); socket.io does not retry that by itself.
      // A client-side disconnect (sign-out) is ours and stays down.
      if (reason === 'io server disconnect') {
        setTimeout(() => {
          if (this.connection === 'disconnected') socket.connect();
        }, 1000);
      }
    });
    socket.on('connect_error', (err: Error & { data?: unknown }) => {
      // The orchestrator names the refusal in `data.code` (its message is the sentence).
      const refusal = RefusalSchema.safeParse(err.data);
      const code = refusal.success ? refusal.data.code : undefined;
      if (code === 'UNAUTHENTICATED' || err.message.startsWith('UNAUTHENTICATED')) {
        // The middleware refused the token (expired, revoked, none): socket.io does not retry
        // that, and neither do we; the session ends and the login page opens.
        this.connection = 'signedOut';
        session.expire();
        return;
      }
      this.connection = 'disconnected';
    });
    socket.on('snapshot', (payload) => {
      const parsed = UiSnapshotSchema.safeParse(payload);
      if (!parsed.success) {
        console.error('invalid snapshot', parsed.error.issues.slice(0, 3));
        return;
      }
      applySnapshot(this, parsed.data);
      if (parsed.data.expressions.length < COMPLETE_SNAPSHOT_BELOW) markListComplete(this);
      this.#cursor = null;
      this.paging = this.floor === null ? 'done' : 'idle';
      this.pagingError = null;
      this.#sample(parsed.data.stats);
      this.ready = true;
      this.snapshots += 1;
    });
    socket.on('delta', (payload) => {
      const parsed = UiDeltaSchema.safeParse(payload);
      if (!parsed.success) {
        console.error('invalid delta', parsed.error.issues.slice(0, 3));
        return;
      }
      const delta = parsed.data;
      applyDelta(this, delta);
      if (delta.stats) this.#sample(delta.stats);
      if (delta.operations) {
        for (const { expressionId, operations } of delta.operations) {
          const entry = this.#watches.get(expressionId);
          if (entry?.watch.hasUnknown(operations)) {
            entry.watch.setStructure([...entry.watch.operations.values()]);
          }
        }
      }
    });

    // Carry the throughput line forward between stats deltas (the server sends stats on change).
    if (!this.#sampling) {
      this.#sampling = true;
      setInterval(() => {
        if (this.connection !== 'connected' || !this.stats) return;
        const last = this.throughput[this.throughput.length - 1];
        if (!last || Date.now() - last.t > 900) this.#sample(this.stats);
      }, 1000);
    }
  }

  #sample(stats: StatsView): void {
    this.throughput = appendSample(
      this.throughput,
      { t: Date.now(), v: stats.opsPerSecond },
      THROUGHPUT_WINDOW_MS,
    );
  }

  /** Starts following one expression's operations; call `release` when the page goes away. */
  watch(expressionId: string): ExpressionWatch {
    const existing = this.#watches.get(expressionId);
    if (existing) {
      existing.count += 1;
      return existing.watch;
    }
    const watch = new ExpressionWatch(expressionId);
    this.#watches.set(expressionId, { count: 1, watch });
    this.operations.set(expressionId, watch.operations);
    if (this.#socket?.connected) this.#subscribe(watch);
    return watch;
  }

  release(watch: ExpressionWatch): void {
    const entry = this.#watches.get(watch.id);
    if (!entry || entry.watch !== watch) return;
    entry.count -= 1;
    if (entry.count > 0) return;
    this.#watches.delete(watch.id);
    this.operations.delete(watch.id);
    if (this.#socket?.connected) this.#socket.emit('unsubscribe', watch.id);
  }

  #subscribe(watch: ExpressionWatch): void {
    const socket = this.#socket;
    if (!socket) return;
    socket.timeout(SUBSCRIBE_TIMEOUT_MS).emit('subscribe', watch.id, (err, reply) => {
      if (this.#watches.get(watch.id)?.watch !== watch) return; // released meanwhile
      if (err) {
        // No answer in time; the next reconnect subscribes again.
        watch.status = 'error';
        watch.error = { code: 'INTERNAL', message: 'The orchestrator did not answer in time.' };
        return;
      }
      const parsed = SubscribeReplySchema.safeParse(reply);
      if (!parsed.success) {
        watch.status = 'error';
        watch.error = { code: 'INTERNAL', message: 'Unexpected answer from the orchestrator.' };
        return;
      }
      if (!parsed.data.ok) {
        watch.status = 'error';
        watch.error = parsed.data.error;
        return;
      }
      const { expression, operations, nextCursor } = parsed.data;
      upsertExpressions(this, [expression], 'live');
      replaceOperations(this, watch.id, operations);
      watch.setStructure(operations);
      watch.error = null;
      watch.status = 'ready';
      watch.beyondWindow = Math.max(0, expression.progress.total - LIVE_OPERATIONS_WINDOW);
      if (nextCursor !== null) void this.#loadWindow(watch, nextCursor);
      if (watch.source === null && expression.expressionLength > expression.expression.length)
        void this.#loadSource(watch);
    });
  }

  /** The rest of the live window, page by page over REST (deltas keep it current meanwhile). */
  async #loadWindow(watch: ExpressionWatch, first: string): Promise<void> {
    let cursor: string | null = first;
    try {
      while (cursor !== null && Number(cursor) < LIVE_OPERATIONS_WINDOW) {
        const limit = Math.min(2000, LIVE_OPERATIONS_WINDOW - Number(cursor));
        const page = await getOperations(watch.id, cursor, limit);
        if (this.#watches.get(watch.id)?.watch !== watch) return; // released meanwhile
        for (const op of page.operations)
          if (!watch.operations.has(op.id)) watch.operations.set(op.id, op);
        watch.setStructure([...watch.operations.values()]);
        cursor = page.nextCursor;
      }
    } catch (err) {
      watch.error = {
        code: 'INTERNAL',
        message: err instanceof Error ? err.message : String(err),
      };
    }
  }

  /** The whole text of a long expression (views carry only its first characters). */
  async #loadSource(watch: ExpressionWatch): Promise<void> {
    try {
      const whole = await getExpression(watch.id);
      if (this.#watches.get(watch.id)?.watch === watch) watch.source = whole.expression;
    } catch {
      // The prefix stays on screen; the next subscribe tries again.
    }
  }

  /**
   * Loads older expressions over REST until at least `wanted` new rows joined the list or the
   * server has no more. Resolves with the number added.
   */
  async loadOlder(wanted = PAGE_SIZE): Promise<number> {
    if (this.paging === 'loading' || this.floor === null) return 0;
    this.paging = 'loading';
    this.pagingError = null;
    let added = 0;
    try {
      // Bounded: the first pages overlap with the snapshot, after that each page adds rows.
      for (let pages = 0; pages < 20 && added < wanted; pages += 1) {
        const before = this.order.length;
        const page = await listExpressions(PAGE_SIZE, this.#cursor);
        upsertExpressions(this, page.expressions, 'page');
        added += this.order.length - before;
        this.#cursor = page.nextCursor;
        if (page.nextCursor === null) {
          markListComplete(this);
          this.paging = 'done';
          return added;
        }
      }
      this.paging = 'idle';
    } catch (err) {
      this.paging = 'error';
      this.pagingError = err;
    }
    return added;
  }
}

/** The one live store of the page. */
export const live = new LiveStore();
