/**
 * Throughput helper: one BullMQ worker process with `concurrency` slots running trivial jobs
 * (a + b), reporting its completion count to the parent.
 *
 *   node bullmq-worker.js <queue> <concurrency> <redis host> <redis port>
 */
import { Worker } from 'bullmq';
import { onParent, toParent } from '../lib/ipc.js';

const [queueName, concurrencyArg, host = '127.0.0.1', portArg = '6379'] = process.argv.slice(2);
if (!queueName || !concurrencyArg) {
  process.stderr.write('usage: bullmq-worker.js <queue> <concurrency> [host] [port]\n');
  process.exit(2);
}

let count = 0;
let lastAt = 0;
let reported = 0;
const worker = new Worker<{ a: number; b: number }, number>(
  queueName,
  async (job) => job.data.a + job.data.b,
  {
    connection: { host, port: Number(portArg) },
    concurrency: Number(concurrencyArg),
  },
);
worker.on('completed', () => {
  count += 1;
  lastAt = Date.now();
});
worker.on('error', (err) => toParent({ type: 'error', message: err.message }));
const timer = setInterval(() => {
  if (count === reported) return;
  reported = count;
  toParent({ type: 'progress', count, lastAt });
}, 20);

onParent((message) => {
  if (message.type !== 'close') return;
  clearInterval(timer);
  void worker.close().then(() => process.exit(0));
});

await worker.waitUntilReady();
toParent({ type: 'ready' });
