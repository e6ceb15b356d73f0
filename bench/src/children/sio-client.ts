/**
 * Throughput helper: a bare Socket.IO client for the ceiling measurement. Answers every task
 * message at once with one results message.
 *
 *   node sio-client.js <url>
 */
import { io, type Socket } from 'socket.io-client';
import { onParent } from '../lib/ipc.js';

interface CeilingTask {
  id: number;
  a: number;
  b: number;
}
interface CeilingResult {
  id: number;
  value: number;
}
interface ServerToClient {
  tasks: (tasks: CeilingTask[]) => void;
}
interface ClientToServer {
  results: (results: CeilingResult[]) => void;
}

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: sio-client.js <url>\n');
  process.exit(2);
}
const socket: Socket<ServerToClient, ClientToServer> = io(url, {
  transports: ['websocket'],
  reconnection: false,
});
socket.on('tasks', (tasks) => {
  socket.emit(
    'results',
    tasks.map((t) => ({ id: t.id, value: t.a + t.b })),
  );
});
socket.on('disconnect', () => process.exit(0));
onParent(() => {
  socket.disconnect();
  process.exit(0);
});
