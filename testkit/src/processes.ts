/**
 * Real child processes: the orchestrator CLI and agent-node processes, as tests, benches and the
 * chaos suite start them. Every child is registered for cleanup at exit (see cleanup.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { hardKill, register, tempDir } from './cleanup.js';
import { freePort } from './net.js';
import { AGENT_CLI, SERVER_CLI } from './paths.js';
import { waitFor } from './wait.js';

export interface ChildHandle {
  child: ChildProcess;
  pid: number;
  /** Everything written to stdout and stderr (capped at the last few megabytes). */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  alive(): boolean;
}

const OUTPUT_CAP = 4 * 1024 * 1024;

/** Registers a child for cleanup and captures its output. */
export function track(child: ChildProcess): ChildHandle {
  register(child);
  let out = '';
  const append = (chunk: Buffer): void => {
    out += chunk.toString();
    if (out.length > OUTPUT_CAP) out = out.slice(out.length - OUTPUT_CAP / 2);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  return {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

/** Resolves once the child has exited (at once if it already has). */
function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGKILLs one child and waits for it to be gone. */
export async function kill({ child }: { child: ChildProcess }): Promise<void> {
  const exited = exitOf(child);
  hardKill(child);
  await exited;
}

/** SIGKILLs every given child still running and waits for them (cleanup; work is requeued). */
export async function killAll(handles: readonly { child: ChildProcess }[]): Promise<void> {
  await Promise.all(handles.map(kill));
}

/** Sends `signal` (after SIGCONT), then SIGKILL if the child has not exited after `graceMs`. */
export async function stopProcess(
  { child }: { child: ChildProcess },
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = exitOf(child);
  child.kill('SIGCONT');
  child.kill(signal);
  const timer = setTimeout(() => hardKill(child), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface OrchestratorOptions {
  /**
   * Environment on top of the defaults (loopback, no local agents, info logs, the embedded store
   * in a fresh temp dir). PORT and DATA_DIR, when given, are kept: that is how a test restarts
   * an orchestrator on the same port and store.
   */
  env?: Record<string, string>;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Working directory (where `--cpu-prof` writes its profile). */
  cwd?: string;
  /** How long it may take to become ready (resuming a big store takes a while). */
  readyTimeoutMs?: number;
  /** LOG_LEVEL (default info; benches use warn: nothing is logged per operation then). */
  logLevel?: string;
}

export interface OrchestratorProcess extends ChildHandle {
  url: string;
  port: number;
  dataDir: string;
  /** Graceful stop (SIGTERM, SIGKILL after 10 s); removes the data dir if it made it. */
  stop(): Promise<void>;
}

/**
 * The real orchestrator CLI (`server/dist/cli.js`) as a child process. Resolves once
 * `GET /readyz` answers 200 — store reachable and unfinished expressions resumed — which, unlike
 * a log line, does not depend on the log level or the log format.
 */
export async function spawnOrchestrator(
  options: OrchestratorOptions = {},
): Promise<OrchestratorProcess> {
  const env = options.env ?? {};
  const port = env.PORT && env.PORT !== '0' ? Number(env.PORT) : await freePort();
  const own = env.DATA_DIR ? null : tempDir('expr-orch-');
  const dataDir = env.DATA_DIR ?? own!.dir;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), SERVER_CLI], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd ?? process.cwd(),
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      AGENTS: '0',
      LOG_LEVEL: options.logLevel ?? 'info',
      // The embedded store unless the caller asks for MongoDB: an inherited MONGODB_URI would
      // point every orchestrator at a shared database (and its stored settings).
      MONGODB_URI: '',
      WEB_DIR: path.join(dataDir, 'no-web'),
      // Benches, chaos and the engine's suites run anonymous; accounts suites pass their own.
      AUTH_MODE: 'open',
      ...env,
      PORT: String(port),
      DATA_DIR: dataDir,
    },
  });
  const handle = track(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (!handle.alive()) throw new Error(`the orchestrator exited with ${child.exitCode}`);
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
        await res.body?.cancel();
        return res.status === 200;
      },
      options.readyTimeoutMs ?? 30_000,
      'the orchestrator to be ready',
      25,
    );
  } catch (err) {
    await kill(handle);
    own?.remove();
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\norchestrator output:\n${handle.output().slice(-4000)}`,
    );
  }
  return {
    ...handle,
    url,
    port,
    dataDir,
    stop: async () => {
      await stopProcess(handle);
      own?.remove();
    },
  };
}

export interface AgentOptions {
  /** Worker slots (default 2). */
  concurrency?: number;
  id?: string;
  name?: string;
  /** LOG_LEVEL of the agent (default info; benches use warn). */
  logLevel?: string;
  /** Agent token, passed as AGENT_TOKEN (accounts mode); none: a guest. */
  token?: string;
}

export interface AgentProcess extends ChildHandle {
  id: string | undefined;
}

/** A real agent-node process (`node agent-node/dist/cli.js`). */
export function spawnAgent(url: string, opts: AgentOptions = {}): AgentProcess {
  const args = [AGENT_CLI, '--server', url, '--concurrency', String(opts.concurrency ?? 2)];
  if (opts.id !== undefined) args.push('--id', opts.id);
  if (opts.name !== undefined) args.push('--name', opts.name);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      LOG_LEVEL: opts.logLevel ?? 'info',
      ...(opts.token === undefined ? {} : { AGENT_TOKEN: opts.token }),
    },
  });
  return { ...track(child), id: opts.id };
}
