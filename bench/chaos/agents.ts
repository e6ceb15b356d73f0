/**
 * The agents of a chaos run: a pool of real agent-node processes that a driver keeps killing
 * (SIGKILL + a fresh replacement) and freezing (SIGSTOP … SIGCONT), and a lying agent that
 * speaks the real protocol over a real socket but returns a wrong value every tenth task.
 */
import { io, type Socket } from 'socket.io-client';
import {
  AGENT_PROTOCOL,
  execute,
  type AgentToServerEvents,
  type ServerToAgentEvents,
  type Task,
  type TaskResult,
} from '@expressionist/core';
import { kill, sleep, spawnAgent, type ChildHandle, type Rng } from '@expressionist/testkit';

interface PoolAgent {
  name: string;
  handle: ChildHandle;
  frozen: boolean;
}

export interface ChaosCounters {
  killed: number;
  spawned: number;
  frozen: number;
}

export class AgentPool {
  private readonly agents: PoolAgent[] = [];
  private seq = 0;
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private freezeLoop: Promise<void> = Promise.resolve();
  readonly counters: ChaosCounters = { killed: 0, spawned: 0, frozen: 0 };

  /** `url`: one URL (or a comma-separated list) for every agent, or the list for the n-th agent. */
  constructor(
    private readonly url: string | ((n: number) => string),
    private readonly concurrency: number,
    private readonly tag: string,
  ) {}

  spawn(count: number): void {
    for (let i = 0; i < count; i += 1) {
      this.seq += 1;
      const name = `${this.tag}-agent-${this.seq}`;
      this.agents.push({
        name,
        handle: spawnAgent(typeof this.url === 'string' ? this.url : this.url(this.seq), {
          concurrency: this.concurrency,
          name,
          logLevel: 'warn',
        }),
        frozen: false,
      });
      this.counters.spawned += 1;
    }
  }

  get size(): number {
    return this.agents.length;
  }

  /**
   * Starts the chaos: every `killEveryMs` a random agent is SIGKILLed and replaced; meanwhile
   * another one is frozen with SIGSTOP for `freezeMs` (random in range), then continued.
   */
  startChaos(rng: Rng, opts: { killEveryMs: number; freezeMs: [number, number] }): void {
    this.running = true;
    const killOne = (): void => {
      const candidates = this.agents.filter((a) => !a.frozen);
      if (!this.running || candidates.length === 0) return;
      const victim = rng.pick(candidates);
      this.agents.splice(this.agents.indexOf(victim), 1);
      this.counters.killed += 1;
      void kill(victim.handle);
      this.spawn(1);
    };
    // The first kill comes early, so even a short run sees one.
    this.timers.push(setTimeout(killOne, Math.min(1000, opts.killEveryMs)));
    this.timers.push(setInterval(killOne, opts.killEveryMs));
    this.freezeLoop = (async () => {
      while (this.running) {
        await sleep(rng.int(200, 600));
        const candidates = this.agents.filter((a) => !a.frozen);
        if (!this.running || candidates.length < 2) continue;
        const victim = rng.pick(candidates);
        victim.frozen = true;
        this.counters.frozen += 1;
        victim.handle.child.kill('SIGSTOP');
        await sleep(rng.int(opts.freezeMs[0], opts.freezeMs[1]));
        if (victim.handle.alive()) victim.handle.child.kill('SIGCONT');
        victim.frozen = false;
      }
    })();
  }

  async stopChaos(): Promise<void> {
    this.running = false;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.freezeLoop;
  }

  /** Stops the chaos and kills every agent of the pool. */
  async close(): Promise<void> {
    await this.stopChaos();
    await Promise.all(this.agents.splice(0).map((a) => kill(a.handle)));
  }
}

type AgentSocket = Socket<ServerToAgentEvents, AgentToServerEvents>;

/** A dishonest agent: correct answers, except a wrong one for every `everyNth` task it finishes. */
export class LyingAgent {
  readonly socket: AgentSocket;
  tasks = 0;
  lies = 0;
  quarantinedReason: string | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    url: string,
    readonly id: string,
    concurrency: number,
    private readonly everyNth = 10,
  ) {
    this.socket = io(`${url}/agents`, {
      auth: { agentId: id, name: id, kind: 'node', concurrency, protocol: AGENT_PROTOCOL },
      transports: ['websocket'],
      reconnectionDelay: 250,
      reconnectionDelayMax: 1000,
    });
    this.socket.on('tasks', (tasks) => {
      for (const task of tasks) this.run(task);
    });
    this.socket.on('quarantined', (reason) => {
      this.quarantinedReason = String(reason);
      this.socket.io.reconnection(false);
    });
  }

  private run(task: Task): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.tasks += 1;
      let result: TaskResult;
      try {
        let value = execute(task.op, task.a, task.b);
        if (this.tasks % this.everyNth === 0) {
          value = execute('+', value, '1');
          this.lies += 1;
        }
        result = { taskId: task.taskId, attempt: task.attempt, value };
      } catch (err) {
        result = {
          taskId: task.taskId,
          attempt: task.attempt,
          error: { code: 'INTERNAL', message: String(err) },
        };
      }
      if (this.socket.connected) this.socket.emit('results', [result]);
    }, task.durationMs);
    this.timers.add(timer);
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.socket.io.reconnection(false);
    this.socket.close();
  }
}
