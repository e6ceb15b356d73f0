/**
 * Page side of "Become an agent": owns the Web Worker, remembers this tab's agent identity for
 * the session, and exposes what the worker reports to the header. Signed in, the hello carries
 * the user's JWT (the agent is the user's); without one the tab computes as a guest.
 */
import { AGENT_PROTOCOL, type Settings } from '@expressionist/core';
import {
  WorkerToPageSchema,
  type PageToWorker,
  type RunningOp,
  type WorkerConnection,
} from './messages';

const ID_KEY = 'expressionist.agentId';
const CONCURRENCY_KEY = 'expressionist.agentConcurrency';
export const MAX_BROWSER_CONCURRENCY = 64;
/** How long a stopping worker may take to say goodbye before it is terminated anyway. */
const STOP_GRACE_MS = 500;

function randomHex(bytes: number): string {
  const data = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(data, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** `browser-1a2b3c4d`, stable across reloads of this tab (sessionStorage), new for a new tab. */
function sessionAgentId(): string {
  try {
    const known = sessionStorage.getItem(ID_KEY);
    if (known && /^browser-[0-9a-f]{8}$/.test(known)) return known;
    const id = `browser-${randomHex(4)}`;
    sessionStorage.setItem(ID_KEY, id);
    return id;
  } catch {
    return `browser-${randomHex(4)}`;
  }
}

function storedConcurrency(): number {
  try {
    const value = Number(localStorage.getItem(CONCURRENCY_KEY));
    if (Number.isInteger(value) && value >= 1 && value <= MAX_BROWSER_CONCURRENCY) return value;
  } catch {
    // default below
  }
  return 2;
}

export type AgentProblem =
  | { kind: 'quarantined'; reason: string }
  | { kind: 'error'; message: string }
  | { kind: 'unsupported' };

class BrowserAgent {
  active = $state(false);
  connection = $state<WorkerConnection>('connecting');
  running = $state.raw<RunningOp[]>([]);
  completed = $state(0);
  settings = $state.raw<Settings | null>(null);
  problem = $state.raw<AgentProblem | null>(null);
  concurrency = $state(2);
  agentId = $state('');
  name = $state('');
  /** Whose agent this is: the signed-in user's, or a guest's (no token sent). */
  trust = $state<'user' | 'guest'>('guest');

  #token: string | null = null;

  #worker: Worker | null = null;

  /** Reads the tab's identity and the last concurrency (call once in the browser). */
  init(): void {
    this.agentId = sessionAgentId();
    this.name = `tab-${this.agentId.slice('browser-'.length, 'browser-'.length + 4)}`;
    this.concurrency = storedConcurrency();
  }

  /** Starts computing; `token` is the signed-in user's JWT, null to compute as a guest. */
  start(token: string | null = null): void {
    if (this.#worker) return;
    if (typeof Worker === 'undefined') {
      this.problem = { kind: 'unsupported' };
      return;
    }
    const concurrency = Math.min(
      MAX_BROWSER_CONCURRENCY,
      Math.max(1, Math.trunc(Number(this.concurrency)) || 1),
    );
    this.concurrency = concurrency;
    try {
      localStorage.setItem(CONCURRENCY_KEY, String(concurrency));
    } catch {
      // not persisted
    }
    const worker = new Worker(new URL('./agent.worker.ts', import.meta.url), { type: 'module' });
    this.#worker = worker;
    this.problem = null;
    this.running = [];
    this.completed = 0;
    this.connection = 'connecting';
    this.active = true;
    this.#token = token;
    this.trust = token === null ? 'guest' : 'user';

    worker.addEventListener('message', (event: MessageEvent<unknown>) => {
      const parsed = WorkerToPageSchema.safeParse(event.data);
      if (!parsed.success) return;
      const message = parsed.data;
      if (this.#worker !== worker) {
        // A worker that is being stopped: only its goodbye matters.
        if (message.type === 'stopped') worker.terminate();
        return;
      }
      switch (message.type) {
        case 'status':
          this.connection = message.connection;
          this.running = message.running;
          this.completed = message.completed;
          break;
        case 'settings':
          this.settings = message.settings;
          break;
        case 'quarantined':
          this.problem = { kind: 'quarantined', reason: message.reason };
          break;
        case 'error':
          this.problem = { kind: 'error', message: message.message };
          break;
        case 'stopped':
          this.#terminate(worker);
          break;
      }
    });
    worker.addEventListener('error', (event) => {
      this.problem = { kind: 'error', message: event.message || 'worker failed to start' };
      this.#terminate(worker);
    });
    this.#post({
      type: 'start',
      origin: location.origin,
      hello: {
        agentId: this.agentId,
        name: this.name,
        kind: 'browser',
        concurrency,
        protocol: AGENT_PROTOCOL,
        ...(token === null ? {} : { token }),
      },
    });
  }

  /**
   * The user signed in or out while the tab computes: reconnect under the new identity (a
   * handshake cannot change it), so an expired token never blocks the next reconnection.
   */
  retoken(token: string | null): void {
    if (!this.#worker || token === this.#token) return;
    this.stop();
    this.start(token);
  }

  /** Stops at once: the socket closes and the orchestrator hands running tasks to others. */
  stop(): void {
    const worker = this.#worker;
    if (!worker) return;
    const stop: PageToWorker = { type: 'stop' };
    worker.postMessage(stop);
    this.#worker = null;
    this.active = false;
    this.running = [];
    this.connection = 'disconnected';
    setTimeout(() => worker.terminate(), STOP_GRACE_MS);
  }

  #post(message: PageToWorker): void {
    this.#worker?.postMessage(message);
  }

  #terminate(worker: Worker): void {
    worker.terminate();
    if (this.#worker === worker) {
      this.#worker = null;
      this.active = false;
      this.running = [];
      this.connection = 'disconnected';
    }
  }
}

export const browserAgent = new BrowserAgent();
