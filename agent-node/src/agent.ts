/**
 * The headless agent: one Socket.IO connection to the orchestrator's `/agents` namespace, worker
 * slots through core's TaskRunner, reconnects with full-jitter backoff keeping its running tasks.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import {
  AGENT_PROTOCOL,
  AgentSession,
  Reconnector,
  SettingsSchema,
  type AgentHello,
  type BackoffOptions,
  type AgentToServerEvents,
  type ServerToAgentEvents,
} from '@expressionist/core';

export interface AgentOptions {
  /**
   * Orchestrator URLs. One: the agent reconnects to it with backoff. Several (instances of one
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
  /** Reconnection backoff (default: full jitter from 0.5 s up to 10 s). */
  reconnect?: BackoffOptions;
}

type AgentSocket = Socket<ServerToAgentEvents, AgentToServerEvents>;

/** What the orchestrator attaches to a refused handshake (`connect_error`'s `data`). */
const RefusalSchema = z.object({
  code: z.string(),
  /** AGENT_ADMISSION_BUSY: spread the retry over at least this long. */
  retryAfterMs: z.number().int().min(0).max(600_000).optional(),
});

/** Reconnection attempts: full jitter from a 0.5 s window, doubling per failure, up to 10 s. */
const RECONNECT = { baseMs: 500, capMs: 10_000 };

/**
 * A headless agent: one Socket.IO connection to `/agents`, N worker slots through core's
 * TaskRunner (the same execution path as the browser agent). Reconnects with full-jitter backoff
 * (core's `Reconnector`, Socket.IO's own reconnection is off); tasks running when the connection
 * drops go on, and their results are sent once it is back within `KEEP_TASKS_MS` (core's
 * `AgentSession`, whose hello tells the orchestrator what it holds).
 */
export class Agent {
  readonly id: string;
  private socket: AgentSocket;
  private server = 0;
  private readonly hello: AgentHello;
  private readonly session: AgentSession;
  private readonly reconnector: Reconnector;
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
  private quarantinedResolve: (reason: string) => void = () => undefined;
  private refusedResolve: (reason: string) => void = () => undefined;

  constructor(private readonly o: AgentOptions) {
    this.id = o.id ?? `node-${randomBytes(4).toString('hex')}`;
    this.hello = {
      agentId: this.id,
      name: o.name,
      kind: 'node',
      concurrency: o.concurrency,
      protocol: AGENT_PROTOCOL,
      ...(o.token ? { token: o.token } : {}),
    };
    this.session = new AgentSession({
      emit: (results) => {
        if (!this.socket.connected) return false;
        this.socket.emit('results', results);
        return true;
      },
      concurrency: o.concurrency,
      onInvalid: (reason) => o.log.warn({ reason }, 'ignored an invalid message'),
    });
    this.reconnector = new Reconnector(o.reconnect ?? RECONNECT, () => this.reconnect());
    this.quarantined = new Promise((resolve) => (this.quarantinedResolve = resolve));
    this.refused = new Promise((resolve) => (this.refusedResolve = resolve));
    this.socket = this.open();
  }

  /**
   * The next attempt: the same server again, or (several servers) the next one in turn, since a
   * failed or lost connection may mean that instance is gone.
   */
  private reconnect(): void {
    if (this.leaving) return;
    if (this.o.servers.length > 1) {
      this.socket.removeAllListeners();
      this.socket.disconnect();
      this.server += 1;
      this.socket = this.open();
    }
    this.socket.connect();
  }

  /** A socket to the current server with every handler attached (not connected yet). */
  private open(): AgentSocket {
    const o = this.o;
    const server = o.servers[this.server % o.servers.length]!;
    const socket: AgentSocket = io(new URL('/agents', server).toString(), {
      // Asked for at each handshake: it lists what the agent holds at that moment.
      auth: (send) => send(this.session.hello(this.hello)),
      transports: ['websocket'],
      // Socket.IO's backoff randomizes ±50 % around an exponential delay: a fleet refused
      // together comes back in a clump. `Reconnector` spreads it over the whole window instead.
      reconnection: false,
      autoConnect: false,
      forceNew: true,
    });
    socket.on('connect', () => {
      this.reconnector.succeeded();
      this.session.connected();
      o.log.info({ id: this.id, server, running: this.session.runner.running }, 'connected');
    });
    socket.on('disconnect', (reason) => {
      if (this.leaving) {
        this.session.stop();
        return;
      }
      // Told to go (replaced, kicked, shutting down): its tasks were handed back at once.
      this.session.disconnected(reason === 'io server disconnect');
      o.log.warn({ reason, running: this.session.runner.running }, 'disconnected');
      if (reason !== 'io client disconnect') this.reconnector.schedule();
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
        this.refusedResolve(err.message);
        return;
      }
      if (this.leaving) return;
      this.session.disconnected(false);
      // Anything else may lift (an id still held by a connection the orchestrator has not seen
      // close, a rate limit, admissions busy after a restart, the orchestrator down): back off.
      const delay = this.reconnector.schedule(refusal.success ? refusal.data.retryAfterMs : 0);
      if (refusal.success)
        o.log.warn(
          { code: refusal.data.code, reason: err.message, retryInMs: delay },
          'refused for now; retrying',
        );
      else
        o.log.warn(
          { err: err.message, server, retryInMs: delay },
          'cannot reach the orchestrator; retrying',
        );
    });
    socket.on('tasks', (tasks) => {
      if (!this.draining) this.session.runner.accept(tasks);
    });
    socket.on('revoke', (ids) => this.session.runner.revoke(ids));
    // Durations travel with each task, so the pushed settings are only worth a log line.
    socket.on('settings', (payload) => {
      const parsed = SettingsSchema.safeParse(payload);
      if (parsed.success) o.log.info({ settings: parsed.data }, 'settings received');
    });
    socket.on('quarantined', (reason) => {
      o.log.error({ reason }, 'quarantined by the orchestrator');
      this.leaving = true;
      this.reconnector.cancel();
      socket.disconnect();
      this.session.stop();
      this.quarantinedResolve(String(reason));
    });
    return socket;
  }

  start(): void {
    this.socket.connect();
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Tasks being worked on now (they go on while the connection is down). */
  get running(): number {
    return this.session.runner.running;
  }

  /** Tasks computed since start. */
  get completed(): number {
    return this.session.runner.completed;
  }

  /** Finishes running tasks, takes no new ones, then disconnects. */
  async drain(): Promise<void> {
    this.draining = true;
    if (this.socket.connected) this.socket.emit('drain');
    this.o.log.info({ running: this.session.runner.running }, 'draining');
    await this.session.runner.idle();
    // Give the last results a moment to leave the socket buffer.
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.leaving = true;
    this.reconnector.cancel();
    this.socket.disconnect();
  }

  /** Stops at once; the orchestrator requeues whatever was running. */
  close(): void {
    this.leaving = true;
    this.reconnector.cancel();
    this.session.stop();
    this.socket.disconnect();
  }
}
