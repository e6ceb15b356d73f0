/**
 * The browser agent: a module Web Worker with its own Socket.IO connection to `/agents`. It runs
 * tasks through core's `TaskRunner`, the same execution path as the Node agent, so a browser tab
 * is an agent like any other. Computing off the main thread keeps the dashboard responsive and
 * keeps timers running at full rate.
 */
import { io, type Socket } from 'socket.io-client';
import {
  SettingsSchema,
  TaskRunner,
  type AgentHello,
  type AgentToServerEvents,
  type RunningTask,
  type ServerToAgentEvents,
} from '@expressionist/core';
import { PageToWorkerSchema, type WorkerConnection, type WorkerToPage } from './messages';

/** Status messages are coalesced: with 0 ms operations the runner changes thousands of times a second. */
const STATUS_INTERVAL_MS = 100;

let socket: Socket<ServerToAgentEvents, AgentToServerEvents> | null = null;
let runner: TaskRunner | null = null;
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
  runner = new TaskRunner({
    send: (results) => {
      // Results of a previous connection are stale: the orchestrator already requeued them.
      if (socket?.connected) socket.emit('results', results);
    },
    onActivity: (running, done) => {
      lastRunning = running;
      completed = done;
      postStatus();
    },
    onInvalid: (reason) => post({ type: 'error', message: reason }),
    concurrency: hello.concurrency,
  });
  const s: Socket<ServerToAgentEvents, AgentToServerEvents> = io(`${origin}/agents`, {
    auth: hello,
    transports: ['websocket'],
    reconnectionDelay: 500,
    reconnectionDelayMax: 3000,
  });
  socket = s;
  /** Handshakes refused in a row (their retries back off). */
  let refusals = 0;
  s.on('connect', () => {
    refusals = 0;
    connection = 'connected';
    postStatus();
  });
  s.on('disconnect', (reason) => {
    connection = 'disconnected';
    // Whatever was running has been requeued by the orchestrator; finishing it would be waste.
    runner?.stop();
    postStatus();
    if (reason === 'io server disconnect') setTimeout(() => s.connect(), 1000);
  });
  s.on('connect_error', (err) => {
    connection = 'disconnected';
    postStatus();
    if (s.active) return;
    // A middleware rejection is not retried by socket.io. One that time may lift (its id still
    // held by a connection the orchestrator has not yet seen close, a rate limit) is retried with
    // a jittered backoff; anything else (bad hello, protocol, credentials) is shown.
    const code = (err as Error & { data?: { code?: unknown } }).data?.code;
    if (code === 'AGENT_ID_TAKEN' || code === 'RATE_LIMITED') {
      refusals += 1;
      const ceiling = Math.min(10_000, 500 * 2 ** Math.min(refusals, 5));
      setTimeout(
        () => {
          if (socket === s) s.connect();
        },
        ceiling / 2 + Math.random() * (ceiling / 2),
      );
      return;
    }
    post({ type: 'error', message: err.message });
  });
  s.on('tasks', (tasks) => runner?.accept(tasks));
  s.on('revoke', (ids) => runner?.revoke(ids));
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
  runner?.stop();
  runner = null;
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
