/**
 * The `/agents` Socket.IO namespace: the agents' handshake, pushed tasks, results and
 * disconnects, and the per-address socket cap.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import {
  AGENT_PROTOCOL,
  AgentHelloSchema,
  ExpressionistError,
  TaskResultBatchSchema,
  errorMessage,
  type AgentHello,
  type TaskResultBatch,
} from '@expressionist/core';
import { actorOf, type AgentStanding } from '../scheduler/agent-lifecycle.js';
import type { AgentChannel } from '../scheduler/agent-registry.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { AgentGate } from '../auth/agent-gate.js';
import { HandshakeRefused, agentsNamespace, type IoServer } from './io.js';

/** The Socket.IO room of an address's guest agents (counted across instances when clustered). */
export const guestRoom = (address: string): string => `guests:${address}`;

/**
 * The `/agents` namespace: agents introduce themselves in the handshake (validated) and prove who
 * they are with `auth.token` (see auth/agent-gate.ts: a credential, a user's JWT, or none for a guest);
 * a refused handshake is a `connect_error` carrying the reason. They receive pushed tasks and
 * settings, and send batched results. A socket disconnect — including one detected by
 * Socket.IO's ping/pong when the agent froze — hands its work back at once, and so does revoking
 * the credential it holds.
 */
export function attachAgentNamespace(
  io: IoServer,
  scheduler: Scheduler,
  gate: AgentGate,
  log: Logger,
  route: AgentRoute = directRoute(scheduler, log),
): void {
  const nsp = agentsNamespace(io);
  // First of all, before any token is checked: at most AGENT_ADMISSIONS_PER_SECOND new agents a
  // second, so a storm of reconnections (a restart under 10,000 agents) cannot starve the agents
  // already working. Refused ones back off with full jitter within the window they are given.
  nsp.use((_socket, next) => {
    const busy = gate.admitHandshake();
    next(busy ? new HandshakeRefused(busy.code, busy.message, busy.retryAfterMs) : undefined);
  });
  nsp.use((socket, next) => {
    const hello = AgentHelloSchema.safeParse(socket.handshake.auth);
    if (!hello.success) {
      const issue = hello.error.issues[0];
      next(
        new HandshakeRefused(
          'BODY_INVALID',
          `invalid agent hello: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
        ),
      );
      return;
    }
    if (hello.data.protocol !== AGENT_PROTOCOL) {
      const got = hello.data.protocol === undefined ? 'none' : String(hello.data.protocol);
      next(
        new HandshakeRefused(
          'AGENT_PROTOCOL_MISMATCH',
          errorMessage('AGENT_PROTOCOL_MISMATCH', { expected: AGENT_PROTOCOL, got }),
        ),
      );
      return;
    }
    const address = gate.clientAddress(socket.request);
    gate.admitSocket(hello.data.token, address).then(
      (admission) => {
        // Refused here, as a connect_error the agent can print, rather than after connecting.
        // (On a gateway of several orchestrators the registry is the leader's: it refuses later.)
        const identity = admission.standing ? admission.standing.identity : hello.data.agentId;
        const actor = actorOf(hello.data.agentId, admission.standing);
        const refusal = scheduler.agents.refusal(hello.data.agentId, identity, actor);
        // A quarantined agent connects to be told so (and cut off); any other refusal is final.
        if (refusal && !(refusal instanceof ExpressionistError)) {
          next(refusal);
          return;
        }
        if (refusal && refusal.code !== 'AGENT_QUARANTINED') {
          log.info({ address, agent: hello.data.agentId, code: refusal.code }, 'agent refused');
          next(new HandshakeRefused(refusal.code, refusal.message));
          return;
        }
        socket.data.hello = hello.data;
        socket.data.admission = admission;
        socket.data.address = address;
        if (admission.session) socket.data.session = admission.session;
        next();
      },
      (err: unknown) => {
        if (err instanceof ExpressionistError) {
          log.info({ address, agent: hello.data.agentId, code: err.code }, 'agent refused');
          next(new HandshakeRefused(err.code, err.message));
        } else {
          log.error({ err }, 'admitting an agent failed');
          next(new Error('internal error while admitting the agent'));
        }
      },
    );
  });
  nsp.on('connection', (socket) => {
    const { hello, admission, address } = socket.data;
    if (!hello || !admission || address === undefined) return;
    const guest = admission.standing?.trust === 'guest';
    if (guest) {
      gate.guestJoined(address);
      void socket.join(guestRoom(address));
    }
    const link: AgentLink = {
      socketId: socket.id,
      hello,
      standing: admission.standing,
      credentialId: admission.credentialId,
      channel: {
        sendTasks: (tasks) => socket.emit('tasks', tasks),
        revoke: (taskIds) => socket.emit('revoke', taskIds),
        sendSettings: (settings) => socket.emit('settings', settings),
        quarantine: (reason) => {
          socket.emit('quarantined', reason);
          // Let the message leave before the socket closes.
          setTimeout(() => socket.disconnect(true), 50).unref();
        },
        close: () => socket.disconnect(true),
      },
    };
    socket.on('disconnect', (reason) => {
      if (guest) gate.guestLeft(address);
      route.leave(link, reason);
    });
    // A credential revoked between the handshake and now is not admitted after all.
    if (admission.credentialId !== null && !gate.auth.isLive(admission.credentialId)) {
      socket.disconnect(true);
      return;
    }
    route.join(link);
    socket.conn.on('packet', (packet: { type: string }) => {
      if (packet.type === 'pong') route.seen(link);
    });
    socket.on('results', (payload: unknown) => {
      const parsed = TaskResultBatchSchema.safeParse(payload);
      if (!parsed.success) {
        log.warn(
          { agent: hello.agentId, issue: parsed.error.issues[0]?.message },
          'invalid results message ignored',
        );
        return;
      }
      route.results(link, parsed.data);
    });
    socket.on('drain', () => route.drain(link));
  });
}

/** One agent connection as the scheduler sees it, wherever its socket is held. */
export interface AgentLink {
  socketId: string;
  hello: AgentHello;
  standing: AgentStanding | undefined;
  credentialId: string | null;
  channel: AgentChannel;
}

/**
 * Where an agent socket's events go: straight into this process's scheduler (one orchestrator,
 * or the leader of several), or to the leader through the cluster (a gateway).
 */
export interface AgentRoute {
  join(link: AgentLink): void;
  results(link: AgentLink, batch: TaskResultBatch): void;
  leave(link: AgentLink, reason: string): void;
  drain(link: AgentLink): void;
  seen(link: AgentLink): void;
}

/**
 * The scheduler of this process takes the agent's events. Results, drain and pongs count only
 * from the socket that holds the agent's registration (its channel): any other is dropped, and
 * logged once per socket.
 */
export function directRoute(scheduler: Scheduler, log: Logger): AgentRoute {
  const warned = new WeakSet<AgentLink>();
  const stray = (link: AgentLink, what: string): void => {
    if (warned.has(link)) return;
    warned.add(link);
    log.warn(
      { agent: link.hello.agentId, socket: link.socketId, what },
      'a message from a socket that does not hold the agent registration was dropped',
    );
  };
  return {
    join: (link) => {
      try {
        scheduler.agents.connect(link.hello, link.channel, link.standing);
      } catch (err) {
        if (err instanceof ExpressionistError && err.code === 'AGENT_QUARANTINED')
          link.channel.quarantine(err.message);
        else link.channel.close(err instanceof Error ? err.message : 'refused');
      }
    },
    results: (link, batch) => {
      try {
        if (!scheduler.handleResults(link.hello.agentId, link.channel, batch))
          stray(link, 'results');
      } catch (err) {
        // A fault here must never take the orchestrator down with it; the lease checker
        // requeues whatever this batch left leased.
        log.error({ err, agent: link.hello.agentId }, 'handling results failed');
      }
    },
    leave: (link, reason) =>
      scheduler.agents.disconnect(link.hello.agentId, link.channel, reason, dropped(reason)),
    drain: (link) => {
      if (scheduler.agents.holder(link.hello.agentId, link.channel))
        scheduler.agents.drain(link.hello.agentId, link.channel);
      else stray(link, 'drain');
    },
    seen: (link) => scheduler.agents.seen(link.hello.agentId, link.channel),
  };
}

/**
 * Whether Socket.IO's disconnect `reason` says the connection broke under a live agent (a network
 * blip, a proxy reload, or a killed process: they look alike), which may be back at once: its
 * leases wait out the reconnect grace. Not a ping timeout (the agent was silent: a frozen one must
 * be reassigned within the heartbeat), nor a disconnect either side asked for.
 */
function dropped(reason: string): boolean {
  return reason === 'transport close' || reason === 'transport error';
}

/** The part of an engine.io socket (one client connection) this reads. */
interface EngineConnection {
  request: IncomingMessage;
  close(): void;
  once(event: 'close', listener: () => void): void;
}

/**
 * At most MAX_SOCKETS_PER_ADDRESS open Socket.IO connections per client address, whatever
 * namespace they join: `allowRequest` refuses the handshake (HTTP 403) once an address is at the
 * cap, and the count is kept from the engine's open and close events (a burst of simultaneous
 * handshakes that all passed `allowRequest` is trimmed there).
 */
export function limitSocketsPerAddress(io: IoServer, gate: AgentGate, log: Logger): void {
  io.engine.on('connection', (raw: EngineConnection) => {
    const address = gate.clientAddress(raw.request);
    if (!gate.socketOpened(address)) {
      log.warn({ address }, 'too many sockets from one address; closed');
      raw.close();
      return;
    }
    raw.once('close', () => gate.socketClosed(address));
  });
}
