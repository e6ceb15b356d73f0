/**
 * Plan pool: parses and plans long expressions on worker threads, so a 1 MB submission does not
 * hold the event loop (dispatch, heartbeats, every other request) for the second or more that
 * `compile` takes. Short expressions stay on the main thread, where they cost less than a
 * message round trip.
 *
 * Why the plan comes back packed: a structured clone of a 500,000-op `Plan` costs the receiving
 * thread several seconds, more than planning it, and even rebuilding the `PlanOp` objects from
 * rows (in slices) cost hundreds of ms of young-generation GC. The worker sends the ops as rows of
 * int32s in a transferred buffer (no copy) plus the literals as one string, and the run indexes
 * them as they are (`PackedPlanSource` in plan-source.ts).
 *
 * Workers start on the first long expression, are unref'd (an idle pool never keeps the process
 * alive) and are replaced when one dies: its queued submissions fail with INTERNAL. Each worker
 * takes at most `QUEUE_PER_WORKER` submissions; beyond that a submission is refused with
 * RATE_LIMITED rather than queued without bound.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ExpressionistError, compile, type ErrorCode, type ParseLimits } from '@expressionist/core';
import { ObjectPlan, PackedPlanSource, type PackedPlan, type PlanSource } from './plan-source.js';

/**
 * Submissions queued or running per worker before new ones are refused. Each holds a string of
 * up to BODY_LIMIT_BYTES (2 MB by default), so 64 bound the backlog to ~128 MB; fewer made
 * bursts of long submissions (the fuzz sends them concurrently) answer 429 for work a second
 * later would have planned.
 */
export const QUEUE_PER_WORKER = 64;

/** What the pool hands back: the parts of `compile` the intake uses. */
export interface Compiled {
  /** In-thread: core's `Plan` as it is; from a worker: the packed rows, indexed in place. */
  plan: PlanSource;
  normalized: string;
}

export interface PlanRequest {
  id: number;
  source: string;
  limits: ParseLimits;
}

export type PlanReply =
  | { ok: true; id: number; normalized: string; plan: PackedPlan }
  | {
      ok: false;
      id: number;
      /** The ExpressionistError's code, or null for any other throw (a fault). */
      code: ErrorCode | null;
      message: string;
      position: number | undefined;
    };

export interface PlanPoolOptions {
  limits: ParseLimits;
  /** Expressions of at least this many characters go to a worker; 0 keeps every one in-thread. */
  threshold: number;
  /** Worker threads at most (default: 2, or 1 on a one- or two-core machine). */
  workers?: number;
  /** Heap cap per worker (MB); a worker that exceeds it dies and its submissions fail. */
  maxHeapMb?: number;
}

interface Job {
  id: number;
  resolve: (reply: PlanReply) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
}

/** Where the built worker is: next to this file in `dist`, or in `dist` when run from sources. */
function workerUrl(): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL('../../dist/scheduler/plan-worker.js', import.meta.url)
    : new URL('./plan-worker.js', import.meta.url);
}

/** Compiles expressions in-thread or on a small pool of worker threads, by length. */
export class PlanPool {
  private readonly slots: (Slot | null)[];
  private nextId = 1;
  private closed = false;

  constructor(private readonly o: PlanPoolOptions) {
    if (!Number.isInteger(o.threshold) || o.threshold < 0)
      throw new RangeError('threshold: a non-negative integer');
    const workers = o.workers ?? (availableParallelism() > 2 ? 2 : 1);
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError('workers: at least 1');
    this.slots = new Array<Slot | null>(workers).fill(null);
  }

  get maxLength(): number {
    return this.o.limits.maxLength;
  }

  get maxDepth(): number {
    return this.o.limits.maxDepth;
  }

  /** Whether `source` would be compiled on a worker. */
  offloads(source: string): boolean {
    return this.o.threshold > 0 && source.length >= this.o.threshold;
  }

  /**
   * `compile(source, limits)` with the same result and the same ExpressionistError (code,
   * message, position); a worker fault or death is INTERNAL, a full queue RATE_LIMITED.
   * `limits` replaces the pool's own (re-planning a stored expression accepted under older ones).
   */
  async compile(source: string, limits: ParseLimits = this.o.limits): Promise<Compiled> {
    if (!this.offloads(source) || this.closed) {
      const { plan, normalized } = compile(source, limits);
      return { plan: new ObjectPlan(plan), normalized };
    }
    const reply = await this.send(source, limits);
    if (!reply.ok) {
      if (reply.code === null) throw new Error(`planning worker failed: ${reply.message}`);
      throw new ExpressionistError(reply.code, reply.message, reply.position);
    }
    return { plan: new PackedPlanSource(reply.plan), normalized: reply.normalized };
  }

  /** Terminates the workers; submissions still waiting on them fail. Later ones run in-thread. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0, this.slots.length, ...this.slots.map(() => null));
    await Promise.all(
      slots.map(async (slot) => {
        if (slot === null) return;
        this.fail(slot, 'the orchestrator is stopping');
        await slot.worker.terminate();
      }),
    );
  }

  private send(source: string, limits: ParseLimits): Promise<PlanReply> {
    // The least loaded slot; an empty slot (never started, or its worker died) counts as idle.
    let best = 0;
    for (let i = 1; i < this.slots.length; i += 1)
      if ((this.slots[i]?.jobs.size ?? 0) < (this.slots[best]?.jobs.size ?? 0)) best = i;
    const slot = this.slots[best] ?? this.start(best);
    if (slot.jobs.size >= QUEUE_PER_WORKER)
      return Promise.reject(
        ExpressionistError.of('RATE_LIMITED', {
          what: 'long expressions being planned',
          seconds: 1,
        }),
      );
    const id = this.nextId;
    this.nextId += 1;
    return new Promise<PlanReply>((resolve, reject) => {
      slot.jobs.set(id, { id, resolve, reject });
      if (slot.jobs.size === 1) slot.worker.ref();
      const request: PlanRequest = { id, source, limits: { ...limits } };
      slot.worker.postMessage(request);
    });
  }

  private start(index: number): Slot {
    const maxHeapMb = this.o.maxHeapMb;
    const worker = new Worker(workerUrl(), {
      ...(maxHeapMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: maxHeapMb } }),
    });
    const slot: Slot = { worker, jobs: new Map() };
    // Idle workers must not keep the process alive; a busy one does, until it answers.
    worker.unref();
    worker.on('message', (reply: PlanReply) => {
      const job = slot.jobs.get(reply.id);
      if (job === undefined) return;
      slot.jobs.delete(reply.id);
      if (slot.jobs.size === 0) worker.unref();
      job.resolve(reply);
    });
    const died = (why: string): void => {
      if (this.slots[index] === slot) this.slots[index] = null; // the next job starts a new one
      this.fail(slot, why);
    };
    worker.on('error', (err) => died(err.message));
    worker.on('exit', (code) => died(`exited with code ${code}`));
    this.slots[index] = slot;
    return slot;
  }

  private fail(slot: Slot, why: string): void {
    const jobs = [...slot.jobs.values()];
    slot.jobs.clear();
    for (const job of jobs) job.reject(new PlanWorkerError(why));
  }
}

/** A planning worker died or was stopped under a submission (answered as INTERNAL). */
export class PlanWorkerError extends Error {
  constructor(why: string) {
    super(`planning worker lost: ${why}`);
    this.name = 'PlanWorkerError';
  }
}
