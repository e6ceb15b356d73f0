/**
 * What a socket agent keeps across its connections, shared by the Node agent and the browser
 * worker: its task runner, the results it could not send, and what it holds, told in each hello.
 */
import { MAX_HOLDING, type AgentHello, type HeldTask, type TaskResult } from './protocol.js';
import { TaskRunner, type TaskRunnerOptions } from './runner.js';

/**
 * Tasks running when the connection dropped are kept if it comes back within this long: the
 * orchestrator keeps an agent's leases for AGENT_RECONNECT_GRACE_MS (1.5 s by default) and then
 * accepts their results from the new connection. After longer they were requeued elsewhere (or
 * the orchestrator restarted) and finishing them would only hold slots.
 */
export const KEEP_TASKS_MS = 5000;

export interface AgentSessionOptions {
  /** Worker slots (see `TaskRunnerOptions.concurrency`). */
  concurrency: number;
  /** Sends a batch of results over the connection; false when there is none (they are kept). */
  emit: (results: TaskResult[]) => boolean;
  onActivity?: TaskRunnerOptions['onActivity'];
  onInvalid?: TaskRunnerOptions['onInvalid'];
  /** Default `KEEP_TASKS_MS`. */
  keepTasksMs?: number;
}

/**
 * A socket agent's work across its connections. Its tasks go on while the connection is down;
 * results finished meanwhile are kept and sent once it is back. Each hello lists what it holds,
 * so that an orchestrator that kept its leases through the reconnect grace sends again exactly
 * what it does not hold — a `tasks` message lost with the old connection, or a result that was
 * (the runner answers an attempt it already answered again, at once unless it was near-instant) — and revokes what it holds
 * but no longer leases to it. Results sent on a connection that was breaking are not kept here:
 * the agent cannot know they were lost, the orchestrator can (see reconnect-grace.ts).
 */
export class AgentSession {
  readonly runner: TaskRunner;
  /** Results finished while disconnected, sent on reconnection. */
  private pending: TaskResult[] = [];
  /** When the connection was lost (null while connected or never connected). */
  private lostAt: number | null = null;
  private readonly keepTasksMs: number;

  constructor(private readonly o: AgentSessionOptions) {
    this.keepTasksMs = o.keepTasksMs ?? KEEP_TASKS_MS;
    this.runner = new TaskRunner({
      send: (results) => {
        if (!o.emit(results)) this.pending.push(...results);
      },
      concurrency: o.concurrency,
      ...(o.onActivity ? { onActivity: o.onActivity } : {}),
      ...(o.onInvalid ? { onInvalid: o.onInvalid } : {}),
    });
  }

  /**
   * The hello for the handshake about to start: `base` with what it holds. Away longer than
   * `keepTasksMs`, it drops what it held first: nobody waits for that any more.
   */
  hello(base: AgentHello, now = Date.now()): AgentHello {
    if (this.lostAt !== null && now - this.lostAt > this.keepTasksMs) this.stop();
    return { ...base, holding: this.holding() };
  }

  /** The attempts it holds (running, waiting, results unsent), at most `MAX_HOLDING`. */
  holding(): HeldTask[] {
    const held = this.runner.holding();
    for (const r of this.pending) held.push({ taskId: r.taskId, attempt: r.attempt });
    return held.slice(0, MAX_HOLDING);
  }

  /** Results waiting for a connection. */
  get unsent(): number {
    return this.pending.length;
  }

  /** The connection is up: the results kept meanwhile go out. */
  connected(): void {
    this.lostAt = null;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    if (!this.o.emit(batch)) this.pending = batch;
  }

  /**
   * The connection is down (or could not be made). `toldToGo`: the orchestrator closed it
   * (replaced, kicked, shutting down) and handed its tasks back at once; they are dropped.
   */
  disconnected(toldToGo: boolean, now = Date.now()): void {
    this.lostAt ??= now;
    if (toldToGo) this.stop();
  }

  /** Abandons every task and unsent result (the orchestrator requeues them). */
  stop(): void {
    this.runner.stop();
    this.pending = [];
  }
}
