/**
 * Throughput helper: a bare Socket.IO client for the ceiling measurement. Answers every task
 * message at once with one results message.
 *
 *   node sio-client.js <url>
 */
import { io, type Socket } from 'socket.io-client';
import type { CeilingServerToClient, CeilingClientToServer } from './ceiling-protocol.js';
import { onParent } from '../lib/ipc.js';

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: sio-client.js <url>\n');
  process.exit(2);
}
const socket: Socket<CeilingServerToClient, CeilingClientToServer> = io(url, {
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
