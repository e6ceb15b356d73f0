/**
 * Agents driven by hand: real socket.io-clients speaking the real agent protocol, for tests that
 * decide when and what an agent answers (stale attempts, wrong values) and for benches that need
 * hundreds of agents in one process.
 */
import { io, type Socket } from 'socket.io-client';
import {
  AGENT_PROTOCOL,
  execute,
  type AgentHello,
  type AgentToServerEvents,
  type ServerToAgentEvents,
  type Settings,
  type Task,
} from '@expressionist/core';

export type AgentSocket = Socket<ServerToAgentEvents, AgentToServerEvents>;

/**
 * Its own connection (`forceNew`: hundreds of agents in one process are hundreds of
 * connections), no reconnection (a test decides when an agent comes back).
 */
function agentSocket(url: string, hello: Omit<AgentHello, 'kind'>): AgentSocket {
  return io(`${url}/agents`, {
    auth: { ...hello, kind: 'node', protocol: AGENT_PROTOCOL },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
}

export interface ManualAgent {
  socket: AgentSocket;
  /** Every task received, in order. */
  tasks: Task[];
  /** Every settings message received. */
  settings: Settings[];
  /** Every quarantine reason received. */
  quarantined: string[];
}

/**
 * A hand-driven agent that records what it receives. Resolves once connected (not registered:
 * a test may expect the registration to be refused); rejects on a refused connection.
 */
export async function manualAgent(
  url: string,
  agentId: string,
  concurrency = 1,
  /** Agent token (accounts mode): a credential or a user's JWT; none for a guest. */
  token?: string,
): Promise<ManualAgent> {
  const agent: ManualAgent = {
    socket: agentSocket(url, {
      agentId,
      name: agentId,
      concurrency,
      ...(token === undefined ? {} : { token }),
    }),
    tasks: [],
    settings: [],
    quarantined: [],
  };
  agent.socket.on('tasks', (batch) => agent.tasks.push(...batch));
  agent.socket.on('settings', (s) => agent.settings.push(s));
  agent.socket.on('quarantined', (reason) => agent.quarantined.push(reason));
  await new Promise<void>((resolve, reject) => {
    agent.socket.once('connect', () => resolve());
    agent.socket.once('connect_error', reject);
  });
  return agent;
}

/**
 * Makes a hand-driven agent answer every task at once, honestly (through core's `execute`),
 * including the tasks it received before this was called (the orchestrator may push work the
 * moment the agent connects).
 */
export function answerHonestly(agent: { socket: AgentSocket; tasks?: readonly Task[] }): void {
  const answer = (tasks: readonly Task[]): void => {
    if (tasks.length === 0) return;
    agent.socket.emit(
      'results',
      tasks.map((t) => ({ taskId: t.taskId, attempt: t.attempt, value: execute(t.op, t.a, t.b) })),
    );
  };
  answer(agent.tasks ?? []);
  agent.socket.on('tasks', answer);
}

/**
 * A hand-driven agent for benches: resolves once connected and registered (the orchestrator
 * sends settings on registration), with handlers attached before any message can arrive.
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
  const socket = agentSocket(url, hello);
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
