import type { Server } from 'socket.io';
import type {
  AgentHello,
  AgentToServerEvents,
  ServerToAgentEvents,
  ServerToUiEvents,
  UiToServerEvents,
} from '@expressionist/core';

/** Per-socket data: agents carry their validated hello. */
export interface SocketData {
  hello?: AgentHello;
}

/**
 * One Socket.IO server hosts `/agents` and `/ui`. Socket.IO types event maps per server, so the
 * server is typed with both maps; each namespace only ever uses its own half.
 */
export type IoServer = Server<
  AgentToServerEvents & UiToServerEvents,
  ServerToAgentEvents & ServerToUiEvents,
  Record<string, never>,
  SocketData
>;
