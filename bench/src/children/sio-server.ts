/**
 * Throughput helper: the bare Socket.IO ceiling. A minimal server that pushes trivial tasks
 * (`{id, a, b}`) to every connected client, keeping `inflight` tasks per client outstanding and
 * sending one more for every result — the same message pattern as the orchestrator, nothing else.
 *
 *   node sio-server.js <inflight per client>
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import type {
  CeilingTask,
  CeilingServerToClient,
  CeilingClientToServer,
} from './ceiling-protocol.js';
import { onParent, toParent } from '../lib/ipc.js';

const inflight = Number(process.argv[2] ?? '4');
const http = createServer();
const io = new Server<CeilingClientToServer, CeilingServerToClient>(http, {
  serveClient: false,
  maxHttpBufferSize: 16 * 1024 * 1024,
});
const sockets: Socket<CeilingClientToServer, CeilingServerToClient>[] = [];
let total = 0;
let issued = 0;
let done = 0;
let startedAt = 0;

function send(socket: Socket<CeilingClientToServer, CeilingServerToClient>, n: number): void {
  const tasks: CeilingTask[] = [];
  while (tasks.length < n && issued < total) {
    issued += 1;
    tasks.push({ id: issued, a: issued, b: 1 });
  }
  if (tasks.length > 0) socket.emit('tasks', tasks);
}

io.on('connection', (socket) => {
  sockets.push(socket);
  toParent({ type: 'connected', count: sockets.length });
  socket.on('results', (results) => {
    if (!Array.isArray(results)) return;
    done += results.length;
    if (done >= total) {
      toParent({ type: 'done', startedAt, finishedAt: Date.now(), count: done });
      return;
    }
    send(socket, results.length);
  });
});

onParent((message) => {
  if (message.type === 'start') {
    total = message.total;
    startedAt = Date.now();
    for (const socket of sockets) send(socket, inflight);
  } else {
    void io.close(() => process.exit(0));
  }
});

http.listen(0, '127.0.0.1', () =>
  toParent({ type: 'listening', port: (http.address() as AddressInfo).port }),
);
