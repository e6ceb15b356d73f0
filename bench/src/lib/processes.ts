import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, waitFor } from './cli.js';

const require = createRequire(import.meta.url);
/** The orchestrator's process entry (`npm start` runs the same file). */
export const SERVER_CLI = require.resolve('@expressionist/server/dist/cli.js');
/** The Node agent's process entry. */
export const AGENT_CLI = require.resolve('@expressionist/agent-node/dist/cli.js');

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Keeps the tail of a child's output for error messages. */
function captureOutput(child: ChildProcess): () => string {
  let out = '';
  const keep = (chunk: Buffer): void => {
    out = (out + chunk.toString()).slice(-32_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Sends `signal`, then SIGKILL if the process has not exited after `graceMs`. */
export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = exitOf(child);
  child.kill('SIGCONT');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface OrchestratorProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  output(): string;
  /** Graceful stop (SIGTERM), then the temp data dir is removed. */
  stop(): Promise<void>;
}

export interface OrchestratorOptions {
  /** Extra environment (TIME_*_MS, MONGODB_URI, ...). */
  env?: Record<string, string>;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Working directory (where `--cpu-prof` writes its profile). */
  cwd?: string;
}

/**
 * The real orchestrator CLI as a child process, on a free port with a fresh embedded store, no
 * local agents and warn-level logs (nothing is logged per operation at that level).
 */
export async function spawnOrchestrator(
  options: OrchestratorOptions = {},
): Promise<OrchestratorProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'expr-bench-'));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), SERVER_CLI], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd ?? process.cwd(),
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      AGENTS: '0',
      LOG_LEVEL: 'warn',
      // The embedded store unless the caller asks for MongoDB: an inherited MONGODB_URI would
      // point every bench orchestrator at a shared database (and its stored settings).
      MONGODB_URI: '',
      WEB_DIR: path.join(dataDir, 'no-web'),
      ...options.env,
    },
  });
  const output = captureOutput(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`orchestrator exited with ${child.exitCode}: ${output()}`);
        const res = await fetch(`${url}/readyz`);
        return res.status === 200;
      },
      30_000,
      'the orchestrator to be ready',
      50,
    );
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\norchestrator output:\n${output().slice(-4000)}`,
    );
  }
  return {
    child,
    pid: child.pid!,
    url,
    output,
    stop: async () => {
      await stopProcess(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface AgentProcess {
  child: ChildProcess;
  pid: number;
  id: string;
  output(): string;
}

/** A real agent-node process (`node agent-node/dist/cli.js`). */
export function spawnAgent(
  url: string,
  opts: { concurrency: number; id: string; name?: string },
): AgentProcess {
  const child = spawn(
    process.execPath,
    [
      AGENT_CLI,
      '--server',
      url,
      '--concurrency',
      String(opts.concurrency),
      '--id',
      opts.id,
      '--name',
      opts.name ?? opts.id,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  return { child, pid: child.pid!, id: opts.id, output: captureOutput(child) };
}

/** SIGKILLs every process still running (cleanup; the orchestrator requeues their work). */
export async function killAll(children: readonly { child: ChildProcess }[]): Promise<void> {
  await Promise.all(children.map(({ child }) => stopProcess(child, 'SIGKILL', 5_000)));
}

/** Spawns a bench helper script (bench/dist/children/*.js) with an IPC channel. */
export function spawnChild(
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
): { child: ChildProcess; output(): string } {
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, ...env },
  });
  return { child, output: captureOutput(child) };
}

/** Path of a compiled helper script next to this library. */
export function childScript(name: string): string {
  return fileURLToPath(new URL(`../children/${name}.js`, import.meta.url));
}

export { sleep };
