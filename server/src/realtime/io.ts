/**
 * Typed Socket.IO server, namespaces and per-socket data (`/agents`, `/ui`, instance events).
 */
import type { Namespace, Server } from 'socket.io';
import type {
  AgentHello,
  AgentToServerEvents,
  ServerToAgentEvents,
  ServerToUiEvents,
  UiToServerEvents,
} from '@expressionist/core';
import type { Principal } from '../auth/policy.js';
import type { Session } from '../auth/service.js';
import type { Admission } from '../auth/agent-gate.js';

/**
 * Events between orchestrator instances (several orchestrators, `serverSideEmit`): one event whose
 * payload is validated on receipt (cluster/messages.ts).
 */
export interface ServerSideEvents {
  cluster: (message: unknown) => void;
}

/**
 * Per-socket data on `/agents`: the validated hello, who it is, and where it connects from; a
 * browser tab that signed in with a user's token also its session (cut off when it ends).
 */
export interface AgentSocketData {
  hello?: AgentHello;
  admission?: Admission;
  address?: string;
  session?: Session;
}

/** Per-socket data on `/ui`: who is watching, and their session (cut off when it ends). */
export interface UiSocketData {
  principal?: Principal;
  session?: Session;
}

/** `/agents`: hears agent events, emits agent events, nothing else. */
export type AgentsNamespace = Namespace<
  AgentToServerEvents,
  ServerToAgentEvents,
  ServerSideEvents,
  AgentSocketData
>;

/** `/ui`: hears dashboard events, emits snapshots and deltas, nothing else. */
export type UiNamespace = Namespace<
  UiToServerEvents,
  ServerToUiEvents,
  ServerSideEvents,
  UiSocketData
>;

/**
 * One Socket.IO server hosts both namespaces. Socket.IO types event maps per server, not per
 * namespace, so the server itself is typed with no events at all: nothing can be emitted on it
 * directly, and each namespace is reached through `agentsNamespace` / `uiNamespace`, which give
 * it its own maps. An `/agents` socket emitting `snapshot` then fails to compile.
 */
export type IoServer = Server<
  Record<string, never>,
  Record<string, never>,
  ServerSideEvents,
  unknown
>;

/** The `/agents` namespace of `io`, typed with the agent event maps only. */
export function agentsNamespace(io: IoServer): AgentsNamespace {
  // The one place the per-namespace maps are asserted: Socket.IO has no per-namespace generics.
  return io.of('/agents') as AgentsNamespace;
}

/** The `/ui` namespace of `io`, typed with the dashboard event maps only. */
export function uiNamespace(io: IoServer): UiNamespace {
  return io.of('/ui') as UiNamespace;
}

/**
 * A refused handshake as the client sees it: `connect_error` with the message, and the error
 * code in `data` (e.g. `{code: 'UNAUTHENTICATED'}`), so an agent can tell "give up" from
 * "retry later" without parsing words.
 */
export class HandshakeRefused extends Error {
  readonly data: { code: string; retryAfterMs?: number };

  /** `retryAfterMs`: AGENT_ADMISSION_BUSY's window for the retry (agents spread over it). */
  constructor(code: string, message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'HandshakeRefused';
    this.data = retryAfterMs === undefined ? { code } : { code, retryAfterMs };
  }
}
