/**
 * The browser agent: a module Web Worker with its own Socket.IO connection to `/agents`. It runs
 * tasks through core's `TaskRunner`, the same execution path as the Node agent, so a browser tab
 * is an agent like any other. Computing off the main thread keeps the dashboard responsive and
 * keeps timers running at full rate.
 */
import { io, type Socket } from 'socket.io-client';
import {
  AgentSession,
  Reconnector,
  SettingsSchema,
  type AgentHello,
  type AgentToServerEvents,
  type RunningTask,
  type ServerToAgentEvents,
} from '@expressionist/core';
import { PageToWorkerSchema, type WorkerConnection, type WorkerToPage } from './messages';

/** Status messages are coalesced: with 0 ms operations the runner changes thousands of times a second. */
const STATUS_INTERVAL_MS = 100;
/** Reconnection attempts: full jitter from a 0.5 s window, doubling per failure, up to 10 s. */
const RECONNECT = { baseMs: 500, capMs: 10_000 };

let socket: Socket<ServerToAgentEvents, AgentToServerEvents> | null = null;
let reconnector: Reconnector | null = null;
let session: AgentSession | null = null;
let connection: WorkerConnection = 'connecting';
let lastRunning: readonly RunningTask[] = [];
let completed = 0;
let statusTimer: ReturnType<typeof setTimeout> | null = null;
let lastStatusAt = 0;

function post(message: WorkerToPage): void {
  self.postMessage(message);
}

function postStatusNow(): void {
  statusTimer = null;
  lastStatusAt = Date.now();
  post({
    type: 'status',
    connection,
    completed,
    running: lastRunning.map(({ task, startedAt }) => ({
      taskId: task.taskId,
      attempt: task.attempt,
      op: task.op,
      a: task.a,
      b: task.b,
      durationMs: task.durationMs,
      startedAt,
    })),
  });
}

function postStatus(): void {
  if (statusTimer !== null) return;
  const wait = Math.max(0, STATUS_INTERVAL_MS - (Date.now() - lastStatusAt));
  if (wait === 0) postStatusNow();
  else statusTimer = setTimeout(postStatusNow, wait);
}

function start(origin: string, hello: AgentHello): void {
  if (socket) return;
  // Tasks go on while the connection is down, within KEEP_TASKS_MS (core's `AgentSession`, the
  // Node agent's too): results are kept for the next connection, whose hello lists what it holds.
  const own = new AgentSession({
    emit: (results) => {
      if (!socket?.connected) return false;
      socket.emit('results', results);
      return true;
    },
    onActivity: (running, done) => {
      lastRunning = running;
      completed = done;
      postStatus();
    },
    onInvalid: (reason) => post({ type: 'error', message: reason }),
    concurrency: hello.concurrency,
  });
  session = own;
  const s: Socket<ServerToAgentEvents, AgentToServerEvents> = io(`${origin}/agents`, {
    // Asked for at each handshake: it lists what the agent holds at that moment.
    auth: (send) => send(own.hello(hello)),
    transports: ['websocket'],
    // Socket.IO's backoff randomizes ±50 % around an exponential delay: a classroom refused
    // together comes back in a clump. `Reconnector` spreads it over the whole window instead.
    reconnection: false,
  });
  socket = s;
  reconnector = new Reconnector(RECONNECT, () => {
    if (socket === s) s.connect();
  });
  s.on('connect', () => {
    reconnector?.succeeded();
    own.connected();
    connection = 'connected';
    postStatus();
  });
  s.on('disconnect', (reason) => {
    connection = 'disconnected';
    // Told to go (replaced, kicked, shutting down): its tasks were handed back at once. After a
    // dropped connection they go on: the orchestrator keeps them for a reconnection in its grace.
    own.disconnected(reason === 'io server disconnect');
    postStatus();
    if (reason !== 'io client disconnect') reconnector?.schedule();
  });
  s.on('connect_error', (err) => {
    connection = 'disconnected';
    own.disconnected(false);
    postStatus();
    // Bad hello, protocol or credentials: retrying cannot help, the page shows why. Anything
    // else may lift (an id still held by a connection the orchestrator has not yet seen close,
    // a rate limit, admissions busy after a restart, the orchestrator down): back off.
    const data = (err as Error & { data?: { code?: unknown; retryAfterMs?: unknown } }).data;
    const code = data?.code;
    if (
      code === 'UNAUTHENTICATED' ||
      code === 'AGENT_PROTOCOL_MISMATCH' ||
      code === 'BODY_INVALID'
    ) {
      post({ type: 'error', message: err.message });
      return;
    }
    const hint = typeof data?.retryAfterMs === 'number' ? data.retryAfterMs : 0;
    reconnector?.schedule(Math.min(600_000, Math.max(0, hint)));
  });
  s.on('tasks', (tasks) => own.runner.accept(tasks));
  s.on('revoke', (ids) => own.runner.revoke(ids));
  s.on('settings', (payload) => {
    const settings = SettingsSchema.safeParse(payload);
    if (settings.success) post({ type: 'settings', settings: settings.data });
  });
  s.on('quarantined', (reason) => {
    post({ type: 'quarantined', reason: String(reason) });
    stop();
  });
}

function stop(): void {
  reconnector?.cancel();
  reconnector = null;
  session?.stop();
  session = null;
  socket?.removeAllListeners();
  socket?.disconnect();
  socket = null;
  connection = 'disconnected';
  if (statusTimer !== null) clearTimeout(statusTimer);
  postStatusNow();
  post({ type: 'stopped' });
}

self.addEventListener('message', (event: MessageEvent<unknown>) => {
  const parsed = PageToWorkerSchema.safeParse(event.data);
  if (!parsed.success) {
    post({ type: 'error', message: 'invalid message from the page' });
    return;
  }
  const message = parsed.data;
  if (message.type === 'start') start(message.origin, message.hello);
  else stop();
});
