/**
 * The task runner every agent kind shares: validate pushed tasks, wait their modelled cost,
 * compute, send results in batches.
 */
import { execute } from './arith.js';
import { ExpressionistError } from './errors.js';
import { TaskSchema, type HeldTask, type Task, type TaskResult } from './protocol.js';
import { z } from 'zod';

const TaskListSchema = z.array(TaskSchema).max(10_000);
const TaskIdListSchema = z.array(z.string().max(200)).max(10_000);

/**
 * Results a runner remembers, at most (the latest half of them at least): a task sent again for
 * an attempt it has already answered is answered again from here at once. An agent holds at most
 * 2 × 256 tasks.
 */
export const REMEMBERED_RESULTS = 1024;

/**
 * Only results of tasks this long or longer are remembered: a shorter one is computed again at
 * next to no cost (well within its lease), and near-instant operations — the busy path, hundreds
 * of thousands a second — pay nothing for the memory.
 */
export const REMEMBER_FROM_MS = 100;

/**
 * The latest results by task id, in two generations: the older is dropped whole once the newer
 * holds half of `REMEMBERED_RESULTS`, so remembering costs one map write per result on the busy
 * path (a 0-ms operation's), with no per-entry eviction.
 */
class Answers {
  private fresh = new Map<string, TaskResult>();
  private old = new Map<string, TaskResult>();

  get(taskId: string): TaskResult | undefined {
    return this.fresh.get(taskId) ?? this.old.get(taskId);
  }

  add(result: TaskResult): void {
    if (this.fresh.size >= REMEMBERED_RESULTS / 2) {
      this.old = this.fresh;
      this.fresh = new Map();
    }
    this.fresh.set(result.taskId, result);
  }

  forget(taskId: string): void {
    this.fresh.delete(taskId);
    this.old.delete(taskId);
  }

  clear(): void {
    this.fresh.clear();
    this.old.clear();
  }
}

/** A task an agent is working on, as shown in agent UIs and logs. */
export interface RunningTask {
  task: Task;
  startedAt: number;
}

export interface TaskRunnerOptions {
  /** Sends finished results to the orchestrator (called with batches). */
  send: (results: TaskResult[]) => void;
  /** Called whenever the set of running tasks or the completed count changes. */
  onActivity?: (running: readonly RunningTask[], completed: number) => void;
  /** Called when a task payload from the orchestrator fails validation. */
  onInvalid?: (reason: string) => void;
  /**
   * Worker slots: at most this many tasks run at once; more wait in arrival order. The
   * orchestrator may send up to twice this many when operations are near-instant (prefetch),
   * so the next task is already here when one finishes.
   */
  concurrency?: number;
}

/**
 * The one execution path shared by every agent kind (Node process and browser Web Worker):
 * it validates pushed tasks, waits each task's `durationMs` (the modelled cost), computes it with
 * `execute`, and sends results back in batches. Results finishing in the same tick go out in one
 * message, which matters when operations take 0 ms.
 */
export class TaskRunner {
  private readonly timers = new Map<string, { timer: unknown; run: RunningTask }>();
  private outbox: TaskResult[] = [];
  private flushScheduled = false;
  private idleWaiters: (() => void)[] = [];
  private completedCount = 0;
  /** Accepted tasks waiting for a free slot, in arrival order. */
  private queue: Task[] = [];
  /** The attempt of each task in `queue`, by task id (one per id). */
  private readonly queued = new Map<string, number>();
  /** The latest results finished (see `Answers`). */
  private readonly answered = new Answers();
  private readonly concurrency: number;

  constructor(private readonly options: TaskRunnerOptions) {
    this.concurrency = options.concurrency ?? Number.POSITIVE_INFINITY;
  }

  /** Number of tasks currently being worked on. */
  get running(): number {
    return this.timers.size;
  }

  /** Tasks completed since start. */
  get completed(): number {
    return this.completedCount;
  }

  /**
   * Accepts a `tasks` message (unvalidated input from the wire). The orchestrator sends a task
   * again after a reconnection when it cannot tell whether the first message, or the result,
   * was lost: an attempt running or waiting here is left as it is (its timer goes on, one
   * result), and one already answered is answered again at once (the first answer may have been
   * lost; the orchestrator ignores a duplicate) — or, if shorter than `REMEMBER_FROM_MS`,
   * computed again.
   */
  accept(payload: unknown): void {
    const parsed = TaskListSchema.safeParse(payload);
    if (!parsed.success) {
      this.options.onInvalid?.(`invalid tasks message: ${parsed.error.issues[0]?.message ?? ''}`);
      return;
    }
    for (const task of parsed.data) {
      const running = this.timers.get(task.taskId);
      if (running?.run.task.attempt === task.attempt || this.waiting(task)) continue;
      const answer =
        task.durationMs >= REMEMBER_FROM_MS ? this.answered.get(task.taskId) : undefined;
      if (answer?.attempt === task.attempt) {
        if (!this.outbox.includes(answer)) this.outbox.push(answer);
        this.scheduleFlush();
        continue;
      }
      // A new attempt of a task replaces the old one wherever it is.
      if (this.queued.delete(task.taskId))
        this.queue = this.queue.filter((t) => t.taskId !== task.taskId);
      if (running || this.timers.size < this.concurrency) this.start(task);
      else {
        this.queue.push(task);
        this.queued.set(task.taskId, task.attempt);
      }
    }
    this.notify();
  }

  /** Drops tasks the orchestrator took back (a `revoke` message). */
  revoke(payload: unknown): void {
    const parsed = TaskIdListSchema.safeParse(payload);
    if (!parsed.success) return;
    let changed = false;
    if (this.queue.length > 0) {
      const revoked = new Set(parsed.data);
      const kept = this.queue.filter((t) => !revoked.has(t.taskId));
      for (const id of revoked) this.queued.delete(id);
      changed = kept.length !== this.queue.length;
      this.queue = kept;
    }
    for (const id of parsed.data) {
      this.answered.forget(id);
      const entry = this.timers.get(id);
      if (!entry) continue;
      clearTimeout(entry.timer);
      this.timers.delete(id);
      changed = true;
    }
    if (changed) {
      this.startQueued();
      this.notify();
      this.checkIdle();
    }
  }

  /** Resolves when no task is running (used to drain before exit). */
  idle(): Promise<void> {
    if (this.timers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Abandons every running task without sending anything (the orchestrator requeues them). */
  stop(): void {
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue = [];
    this.queued.clear();
    this.outbox = [];
    this.answered.clear();
    this.notify();
    this.checkIdle();
  }

  /** Snapshot of running tasks. */
  runningTasks(): RunningTask[] {
    return [...this.timers.values()].map((entry) => entry.run);
  }

  /** The attempts it holds: running, waiting for a slot, or answered but not yet sent. */
  holding(): HeldTask[] {
    const held = (t: { taskId: string; attempt: number }): HeldTask => ({
      taskId: t.taskId,
      attempt: t.attempt,
    });
    return [
      ...[...this.timers.values()].map(({ run }) => held(run.task)),
      ...this.queue.map(held),
      ...this.outbox.map(held),
    ];
  }

  /** Whether `task`'s very attempt waits for a slot here. */
  private waiting(task: Task): boolean {
    return this.queued.get(task.taskId) === task.attempt;
  }

  private start(task: Task): void {
    const key = task.taskId;
    const previous = this.timers.get(key);
    if (previous) clearTimeout(previous.timer);
    const run: RunningTask = { task, startedAt: Date.now() };
    // A 0-ms task needs no timer: `setTimeout(fn, 0)` waits at least 1 ms in Node, which would
    // cap a worker at a few hundred 0-ms operations per second.
    const timer =
      task.durationMs > 0 ? setTimeout(() => this.finish(task), task.durationMs) : undefined;
    this.timers.set(key, { timer, run });
    if (timer === undefined) queueMicrotask(() => this.finish(task));
  }

  private finish(task: Task): void {
    const entry = this.timers.get(task.taskId);
    if (!entry || entry.run.task.attempt !== task.attempt) return;
    this.timers.delete(task.taskId);
    this.completedCount += 1;
    const result = computeResult(task);
    this.outbox.push(result);
    if (task.durationMs >= REMEMBER_FROM_MS) this.answered.add(result);
    this.startQueued();
    this.scheduleFlush();
    this.notify();
  }

  private startQueued(): void {
    while (this.queue.length > 0 && this.timers.size < this.concurrency) {
      const task = this.queue.shift()!;
      this.queued.delete(task.taskId);
      this.start(task);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // A macrotask (not a microtask) so that all timers due in this tick join the batch; Node's
    // setImmediate runs right after them, where setTimeout(0) would add at least 1 ms.
    nextMacrotask(() => {
      this.flushScheduled = false;
      const batch = this.outbox;
      this.outbox = [];
      if (batch.length > 0) this.options.send(batch);
      this.checkIdle();
    });
  }

  private checkIdle(): void {
    if (this.timers.size > 0 || this.queue.length > 0 || this.outbox.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private notify(): void {
    this.options.onActivity?.(this.runningTasks(), this.completedCount);
  }
}

const setImmediateIfAny = (globalThis as { setImmediate?: (handler: () => void) => unknown })
  .setImmediate;

/** Runs `handler` after the current event-loop turn: `setImmediate` in Node, else a 0-ms timer. */
function nextMacrotask(handler: () => void): void {
  if (setImmediateIfAny) setImmediateIfAny(handler);
  else setTimeout(handler, 0);
}

/** Computes one task through `execute`, turning an expected failure into an error result. */
export function computeResult(task: Task): TaskResult {
  try {
    return { taskId: task.taskId, attempt: task.attempt, value: execute(task.op, task.a, task.b) };
  } catch (err) {
    const code = err instanceof ExpressionistError ? err.code : 'INTERNAL';
    const message = err instanceof Error ? err.message : String(err);
    return { taskId: task.taskId, attempt: task.attempt, error: { code, message } };
  }
}
