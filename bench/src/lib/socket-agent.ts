import { io, type Socket } from 'socket.io-client';
import type {
  AgentHello,
  AgentToServerEvents,
  ServerToAgentEvents,
  Settings,
  Task,
} from '@expressionist/core';

export type AgentSocket = Socket<ServerToAgentEvents, AgentToServerEvents>;

/**
 * A hand-driven agent: a real socket.io-client speaking the agent protocol, with its own
 * connection (`forceNew`, so hundreds of them in one process are hundreds of connections).
 * Resolves once connected and registered (the orchestrator sends settings on registration).
 */
export async function connectSocketAgent(
  url: string,
  hello: Omit<AgentHello, 'kind'>,
  handlers: {
    /** Called with the socket as soon as it exists (before it is connected). */
    created?: (socket: AgentSocket) => void;
    tasks?: (tasks: Task[]) => void;
    settings?: (settings: Settings) => void;
  } = {},
  timeoutMs = 15_000,
): Promise<AgentSocket> {
  const socket: AgentSocket = io(`${url}/agents`, {
    auth: { ...hello, kind: 'node' },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  handlers.created?.(socket);
  if (handlers.tasks) socket.on('tasks', handlers.tasks);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`agent ${hello.agentId} not registered after ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('settings', (settings) => {
      clearTimeout(timer);
      handlers.settings?.(settings);
      resolve();
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  if (handlers.settings) socket.on('settings', handlers.settings);
  return socket;
}
