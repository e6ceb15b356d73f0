import type { Logger } from 'pino';
import { AgentHelloSchema, TaskResultBatchSchema } from '@expressionist/core';
import type { AgentChannel } from '../scheduler/agent-registry.js';
import type { Scheduler } from '../scheduler/scheduler.js';

import { agentsNamespace, type IoServer } from './io.js';

/**
 * The `/agents` namespace: agents introduce themselves in the handshake (validated), receive
 * pushed tasks and settings, and send batched results. A socket disconnect — including one
 * detected by Socket.IO's ping/pong when the agent froze — hands its work back at once.
 */
export function attachAgentNamespace(io: IoServer, scheduler: Scheduler, log: Logger): void {
  const nsp = agentsNamespace(io);
  nsp.use((socket, next) => {
    const hello = AgentHelloSchema.safeParse(socket.handshake.auth);
    if (!hello.success) {
      const issue = hello.error.issues[0];
      next(
        new Error(
          `invalid agent hello: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
        ),
      );
      return;
    }
    socket.data.hello = hello.data;
    next();
  });
  nsp.on('connection', (socket) => {
    const hello = socket.data.hello;
    if (!hello) return;
    const channel: AgentChannel = {
      sendTasks: (tasks) => socket.emit('tasks', tasks),
      revoke: (taskIds) => socket.emit('revoke', taskIds),
      sendSettings: (settings) => socket.emit('settings', settings),
      quarantine: (reason) => {
        socket.emit('quarantined', reason);
        // Let the message leave before the socket closes.
        setTimeout(() => socket.disconnect(true), 50).unref();
      },
    };
    try {
      scheduler.agents.connect(hello, channel);
    } catch (err) {
      channel.quarantine(err instanceof Error ? err.message : String(err));
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
    socket.on('disconnect', (reason) =>
      scheduler.agents.disconnect(hello.agentId, channel, reason),
    );
  });
}
