/**
 * A redis-server of our own for the several-orchestrators suites, benches and chaos: a free
 * loopback port, no persistence — never the machine's shared Redis on 6379.
 */
import { spawn, spawnSync } from 'node:child_process';
import { freePort } from './net.js';
import { stopProcess, track, type ChildHandle } from './processes.js';
import { waitFor } from './wait.js';

export interface PrivateRedis {
  url: string;
  handle: ChildHandle;
  stop(): Promise<void>;
}

/**
 * Why several orchestrators cannot run here (no MongoDB URI, no redis-server binary), or null
 * when they can; suites print it when they skip.
 */
export function clusterUnavailable(mongodbUri: string | undefined): string | null {
  if (mongodbUri === undefined || mongodbUri === '')
    return 'set MONGODB_URI (eval "$(scripts/ferretdb.sh start)" provisions FerretDB)';
  if (spawnSync('redis-server', ['--version']).status !== 0)
    return 'no redis-server binary (apt-get install -y redis-server)';
  return null;
}

/** Starts redis-server on a free loopback port and waits until it accepts connections. */
export async function startRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const handle = track(child);
  await waitFor(
    () => handle.output().includes('Ready to accept connections'),
    10_000,
    'redis-server',
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    handle,
    stop: () => stopProcess(handle, 'SIGTERM', 3000),
  };
}
