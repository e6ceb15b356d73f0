/**
 * The headless agent: one Socket.IO connection to the orchestrator's `/agents` namespace, worker
 * slots through core's TaskRunner, reconnects with backoff.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import {
  AGENT_PROTOCOL,
  SettingsSchema,
  TaskRunner,
  type AgentHello,
  type AgentToServerEvents,
  type ServerToAgentEvents,
} from '@expressionist/core';

export interface AgentOptions {
  /**
   * Orchestrator URLs. One: Socket.IO reconnects to it with backoff. Several (instances of one
   * service): after a failed connection or a lost one, the next is tried in turn.
   */
  servers: string[];
  concurrency: number;
  name: string;
  /** Stable for the agent's lifetime; generated when absent. */
  id?: string;
  /** Agent token (accounts mode): sent as `auth.token`; a guest without one. */
  token?: string;
  log: Logger;
}

type AgentSocket = Socket<ServerToAgentEvents, AgentToServerEvents>;

/** What the orchestrator attaches to a refused handshake (`connect_error`'s `data`). */
const RefusalSchema = z.object({ code: z.string() });

/**
 * A headless agent: one Socket.IO connection to `/agents`, N worker slots through core's
 * TaskRunner (the same execution path as the browser agent). Reconnects with backoff; on a
 * disconnect it drops its running tasks, since the orchestrator has already requeued them.
 */
export class Agent {
  readonly id: string;
  private socket: AgentSocket;
  private server = 0;
  private rotations = 0;
  /** Handshakes refused in a row (their retries back off). */
  private refusals = 0;
  private readonly runner: TaskRunner;
  private draining = false;
  /** Set once the agent is quarantined, drained or closed: no reconnecting any more. */
  private leaving = false;
  /** Resolves when the orchestrator quarantined this agent. */
  readonly quarantined: Promise<string>;
  /**
   * Resolves with the orchestrator's reason when it refuses who this agent is (UNAUTHENTICATED:
   * no token where one is needed, or a wrong or revoked one): retrying cannot help.
   */
  readonly refused: Promise<string>;

  constructor(private readonly o: AgentOptions) {
    this.id = o.id ?? `node-${randomBytes(4).toString('hex')}`;
    const hello: AgentHello = {
      agentId: this.id,
      name: o.name,
      kind: 'node',
      concurrency: o.concurrency,
      protocol: AGENT_PROTOCOL,
      ...(o.token ? { token: o.token } : {}),
    };
    this.runner = new TaskRunner({
      send: (results) => this.socket.emit('results', results),
      concurrency: o.concurrency,
      onInvalid: (reason) => o.log.warn({ reason }, 'ignored an invalid message'),
    });
    let quarantinedResolve: (reason: string) => void = () => undefined;
    this.quarantined = new Promise((resolve) => (quarantinedResolve = resolve));
    let refusedResolve: (reason: string) => void = () => undefined;
    this.refused = new Promise((resolve) => (refusedResolve = resolve));
    this.socket = this.open(hello, quarantinedResolve, refusedResolve);
  }

  /** A socket to the current server with every handler attached (not connected yet). */
  private open(
    hello: AgentHello,
    quarantinedResolve: (reason: string) => void,
    refusedResolve: (reason: string) => void,
  ): AgentSocket {
    const o = this.o;
    const server = o.servers[this.server % o.servers.length]!;
    const several = o.servers.length > 1;
    const socket: AgentSocket = io(new URL('/agents', server).toString(), {
      auth: hello,
      transports: ['websocket'],
      // Several servers: this agent moves on to the next one itself (see `rotate`).
      reconnection: !several,
      reconnectionDelay: 250,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.5,
      autoConnect: false,
      forceNew: true,
    });
    const rotate = (): void => {
      if (this.leaving || socket !== this.socket) return;
      socket.removeAllListeners();
      socket.disconnect();
      this.server += 1;
      this.rotations += 1;
      // A full round of failures backs off (up to 5 s); moving on after a loss is quick.
      const wait = Math.min(5000, 250 * 2 ** Math.floor(this.rotations / o.servers.length));
      setTimeout(() => {
        if (this.leaving) return;
        this.socket = this.open(hello, quarantinedResolve, refusedResolve);
        this.socket.connect();
      }, wait);
    };
    socket.on('connect', () => {
      this.rotations = 0;
      this.refusals = 0;
      o.log.info({ id: this.id, server }, 'connected');
    });
    socket.on('disconnect', (reason) => {
      o.log.warn({ reason, dropped: this.runner.running }, 'disconnected');
      this.runner.stop();
      if (this.leaving) return;
      if (several && reason !== 'io client disconnect') {
        rotate();
        return;
      }
      // Socket.IO does not retry a disconnect the server asked for (an orchestrator shutting
      // down); an agent should wait for the orchestrator to come back, unless it is leaving.
      if (reason === 'io server disconnect') {
        setTimeout(() => {
          if (!this.leaving) socket.connect();
        }, 500);
      }
    });
    socket.on('connect_error', (err) => {
      const refusal = RefusalSchema.safeParse((err as Error & { data?: unknown }).data);
      // Retrying cannot change who this agent is, nor the protocol it speaks.
      if (
        refusal.success &&
        (refusal.data.code === 'UNAUTHENTICATED' || refusal.data.code === 'AGENT_PROTOCOL_MISMATCH')
      ) {
        o.log.error({ reason: err.message }, 'the orchestrator refused this agent');
        this.close();
        refusedResolve(err.message);
        return;
      }
      if (refusal.success)
        o.log.warn({ code: refusal.data.code, reason: err.message }, 'refused for now; retrying');
      else o.log.warn({ err: err.message, server }, 'cannot reach the orchestrator; retrying');
      if (several) rotate();
      else if (!socket.active && !this.leaving) {
        // A refused handshake (an id still held by a connection the orchestrator has not seen
        // close, a rate limit) is not retried by Socket.IO itself: try again after a jittered
        // backoff, so a fleet refused together does not come back together.
        this.refusals += 1;
        const ceiling = Math.min(10_000, 500 * 2 ** Math.min(this.refusals, 5));
        setTimeout(
          () => {
            if (!this.leaving && socket === this.socket) socket.connect();
          },
          ceiling / 2 + Math.random() * (ceiling / 2),
        );
      }
    });
    socket.on('tasks', (tasks) => {
      if (!this.draining) this.runner.accept(tasks);
    });
    socket.on('revoke', (ids) => this.runner.revoke(ids));
    // Durations travel with each task, so the pushed settings are only worth a log line.
    socket.on('settings', (payload) => {
      const parsed = SettingsSchema.safeParse(payload);
      if (parsed.success) o.log.info({ settings: parsed.data }, 'settings received');
    });
    socket.on('quarantined', (reason) => {
      o.log.error({ reason }, 'quarantined by the orchestrator');
      this.leaving = true;
      socket.disconnect();
      this.runner.stop();
      quarantinedResolve(String(reason));
    });
    return socket;
  }

  start(): void {
    this.socket.connect();
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Finishes running tasks, takes no new ones, then disconnects. */
  async drain(): Promise<void> {
    this.draining = true;
    if (this.socket.connected) this.socket.emit('drain');
    this.o.log.info({ running: this.runner.running }, 'draining');
    await this.runner.idle();
    // Give the last results a moment to leave the socket buffer.
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.leaving = true;
    this.socket.disconnect();
  }

  /** Stops at once; the orchestrator requeues whatever was running. */
  close(): void {
    this.leaving = true;
    this.runner.stop();
    this.socket.disconnect();
  }
}
