/**
 * Several orchestrators (REDIS_URL) as the benches run them: a private redis-server on a free
 * loopback port, N orchestrator processes sharing one MongoDB database and that Redis, each on a
 * fixed port (a killed instance is restarted on the same port, so agents' URL lists stay valid),
 * and the leader found through `GET /readyz`.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import {
  freePort,
  kill,
  request,
  spawnOrchestrator,
  waitFor,
  type OrchestratorProcess,
} from '@expressionist/testkit';

const ReadySchema = z.object({
  role: z.string(),
  instance: z.string().optional(),
  leader: z
    .object({ instance: z.string(), url: z.string(), epoch: z.number() })
    .nullable()
    .optional(),
});
export type Ready = z.infer<typeof ReadySchema>;

/** `GET /readyz` of one instance; null when it does not answer. */
export async function readyz(url: string, timeoutMs = 2000): Promise<Ready | null> {
  try {
    const res = await request(url, 'GET', '/readyz', { timeoutMs });
    const parsed = ReadySchema.safeParse(res.json);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export interface Slot {
  index: number;
  port: number;
  url: string;
  proc: OrchestratorProcess | null;
  /** Times this slot's process was started. */
  starts: number;
  /** Killed by the bench, to be restarted by it (the supervisor leaves it alone). */
  held: boolean;
  /** Being restarted by the supervisor. */
  restarting: boolean;
}

/** An instance that exited on its own (a leader stepping down exits 75). */
export interface Exit {
  slot: number;
  code: number | null;
  at: number;
}

export interface OrchestratorSetOptions {
  count: number;
  /** Shared by every instance: MONGODB_URI, MONGODB_DB, REDIS_URL, JWT_SECRET, TIME_*, … */
  env: Record<string, string>;
  logLevel?: string;
  readyTimeoutMs?: number;
  /** Node flags for every instance (e.g. `--cpu-prof`). */
  nodeArgs?: (slot: number) => string[];
}

/** N orchestrator processes on fixed loopback ports. */
export class OrchestratorSet {
  readonly slots: Slot[] = [];

  private constructor(private readonly o: OrchestratorSetOptions) {}

  /** Reserves the ports and starts every instance, one after the other (the first leads). */
  static async start(o: OrchestratorSetOptions): Promise<OrchestratorSet> {
    const set = new OrchestratorSet(o);
    for (let i = 0; i < o.count; i += 1) {
      const port = await freePort();
      set.slots.push({
        index: i,
        port,
        url: `http://127.0.0.1:${port}`,
        proc: null,
        starts: 0,
        held: false,
        restarting: false,
      });
    }
    try {
      for (const slot of set.slots) await set.restart(slot);
    } catch (err) {
      await set.stop();
      throw err;
    }
    return set;
  }

  /** Starts the slot's process again (on its port); resolves once its /readyz answers 200. */
  async restart(slot: Slot): Promise<OrchestratorProcess> {
    slot.starts += 1;
    const proc = await spawnOrchestrator({
      env: { ...this.o.env, PORT: String(slot.port) },
      logLevel: this.o.logLevel ?? 'warn',
      readyTimeoutMs: this.o.readyTimeoutMs ?? 60_000,
      ...(this.o.nodeArgs ? { nodeArgs: this.o.nodeArgs(slot.index) } : {}),
    });
    slot.proc = proc;
    slot.held = false;
    return proc;
  }

  /** Exits on their own (not SIGKILLed by the bench), oldest first. */
  readonly exits: Exit[] = [];
  private supervising = false;
  private supervisor: Promise<void> = Promise.resolve();

  /**
   * Restarts every instance that exited on its own after `afterMs`, as compose's
   * `restart: unless-stopped` would (a leader that loses its lease exits 75 and comes back as a
   * gateway). Instances the bench killed itself are left to it.
   */
  supervise(afterMs = 500): void {
    if (this.supervising) return;
    this.supervising = true;
    this.supervisor = (async () => {
      while (this.supervising) {
        for (const slot of this.slots) {
          const proc = slot.proc;
          if (!proc || proc.alive() || slot.held || slot.restarting) continue;
          slot.restarting = true;
          this.exits.push({ slot: slot.index, code: proc.child.exitCode, at: Date.now() });
          void (async () => {
            await new Promise((resolve) => setTimeout(resolve, afterMs));
            try {
              if (this.supervising) await this.restart(slot);
            } catch {
              // tried again on the next round
            } finally {
              slot.restarting = false;
            }
          })();
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
  }

  get urls(): string[] {
    return this.slots.map((s) => s.url);
  }

  /** The URL list an agent gets: every instance, starting with slot `first`. */
  agentUrls(first: number): string {
    const n = this.slots.length;
    return Array.from({ length: n }, (_, k) => this.slots[(first + k) % n]!.url).join(',');
  }

  alive(): Slot[] {
    return this.slots.filter((s) => s.proc !== null && s.proc.alive());
  }

  pids(): number[] {
    return this.alive().map((s) => s.proc!.pid);
  }

  /** The live slot whose /readyz says `leader` (waits for one). */
  async leader(timeoutMs = 30_000, everyMs = 50): Promise<Slot> {
    return waitFor(
      async () => {
        const answers = await Promise.all(
          this.alive().map(async (s) => ({ s, r: await readyz(s.url) })),
        );
        return answers.find((a) => a.r?.role === 'leader')?.s ?? null;
      },
      timeoutMs,
      'a leader',
      everyMs,
    );
  }

  async kill(slot: Slot): Promise<void> {
    slot.held = true;
    if (slot.proc) await kill(slot.proc);
  }

  async stop(): Promise<void> {
    this.supervising = false;
    await this.supervisor;
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.proc) await s.proc.stop();
      }),
    );
  }
}

/** What each instance says and last logged (warnings and cluster lines), for a failure report. */
export async function diagnose(set: OrchestratorSet, lines = 25): Promise<string> {
  const parts: string[] = [];
  for (const s of set.slots) {
    const proc = s.proc;
    const state = proc
      ? proc.alive()
        ? 'alive'
        : `exited ${proc.child.exitCode ?? proc.child.signalCode}`
      : 'never started';
    const ready = proc?.alive() ? JSON.stringify(await readyz(s.url)) : '-';
    const out = proc?.output() ?? '';
    const file = path.join(tmpdir(), `expr-cluster-diag-${process.pid}-${s.index + 1}.log`);
    writeFileSync(file, out);
    const log = out
      .split('\n')
      .filter((l) => !l.includes('forwarding to the leader failed'))
      .slice(-lines)
      .join('\n');
    parts.push(
      `--- instance ${s.index + 1} (${s.url}, pid ${proc?.pid}): ${state}; readyz ${ready}; full output: ${file}\n${log}`,
    );
  }
  return parts.join('\n');
}
