import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import {
  AGENT_PROTOCOL,
  AgentHelloSchema,
  ExpressionistError,
  TaskResultBatchSchema,
  errorMessage,
} from '@expressionist/core';
import type { AgentChannel } from '../scheduler/agent-registry.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { addressOf, type AgentGate } from './agent-gate.js';

import { HandshakeRefused, agentsNamespace, type IoServer } from './io.js';

/**
 * The `/agents` namespace: agents introduce themselves in the handshake (validated) and prove who
 * they are with `auth.token` (see agent-gate.ts: a credential, a user's JWT, or none for a guest);
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
): void {
  const nsp = agentsNamespace(io);
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
    const address = addressOf(socket.request);
    gate.admitSocket(hello.data.token, address).then(
      (admission) => {
        // Refused here, as a connect_error the agent can print, rather than after connecting.
        const identity = admission.standing ? admission.standing.identity : hello.data.agentId;
        const refusal = scheduler.agents.refusal(hello.data.agentId, identity);
        if (refusal && !(refusal instanceof ExpressionistError)) {
          next(refusal);
          return;
        }
        socket.data.hello = hello.data;
        socket.data.admission = admission;
        socket.data.address = address;
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
    if (guest) gate.guestJoined(address);
    const channel: AgentChannel = {
      sendTasks: (tasks) => socket.emit('tasks', tasks),
      revoke: (taskIds) => socket.emit('revoke', taskIds),
      sendSettings: (settings) => socket.emit('settings', settings),
      quarantine: (reason) => {
        socket.emit('quarantined', reason);
        // Let the message leave before the socket closes.
        setTimeout(() => socket.disconnect(true), 50).unref();
      },
      close: () => socket.disconnect(true),
    };
    socket.on('disconnect', (reason) => {
      if (guest) gate.guestLeft(address);
      scheduler.agents.disconnect(hello.agentId, channel, reason);
    });
    // A credential revoked between the handshake and now is not admitted after all.
    if (admission.credentialId !== null && !gate.auth.isLive(admission.credentialId)) {
      socket.disconnect(true);
      return;
    }
    try {
      scheduler.agents.connect(hello, channel, admission.standing);
    } catch (err) {
      if (err instanceof ExpressionistError && err.code === 'AGENT_QUARANTINED')
        channel.quarantine(err.message);
      else socket.disconnect(true);
      return;
    }
    socket.conn.on('packet', (packet: { type: string }) => {
      if (packet.type === 'pong') scheduler.agents.seen(hello.agentId);
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
      try {
        scheduler.handleResults(hello.agentId, parsed.data);
      } catch (err) {
        // A fault here must never take the orchestrator down with it; the lease checker
        // requeues whatever this batch left leased.
        log.error({ err, agent: hello.agentId }, 'handling results failed');
      }
    });
    socket.on('drain', () => scheduler.agents.drain(hello.agentId));
  });
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
    const address = addressOf(raw.request);
    if (!gate.socketOpened(address)) {
      log.warn({ address }, 'too many sockets from one address; closed');
      raw.close();
      return;
    }
    raw.once('close', () => gate.socketClosed(address));
  });
}
