/**
 * Child processes of the chaos suite: the real orchestrator CLI and real agent-node processes.
 * Every child is registered so that it is killed whatever happens — at the end of a run, in a
 * test's afterAll, or when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repository root, from bench/chaos (sources run by vitest) or bench/chaos/dist (compiled). */
export const ROOT = path.resolve(HERE, path.basename(HERE) === 'dist' ? '../../..' : '../..');
export const SERVER_CLI = path.join(ROOT, 'server/dist/cli.js');
export const AGENT_CLI = path.join(ROOT, 'agent-node/dist/cli.js');

export interface ChildHandle {
  child: ChildProcess;
  /** Everything written to stdout and stderr (capped at the last few megabytes). */
  output(): string;
  exited: Promise<void>;
  alive(): boolean;
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous work only: process.kill and rmSync both work inside 'exit'.
  process.on('exit', () => {
    killEverything();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

let closing = false;

/**
 * Kills every child still running (continuing stopped ones first so the kill lands), and any
 * started later: a run abandoned by a timed-out test cannot leave new processes behind.
 */
export function killEverything(): void {
  closing = true;
  for (const child of live) hardKill(child);
}

function hardKill(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  } catch {
    // already gone
  }
}

const OUTPUT_CAP = 4 * 1024 * 1024;

function track(child: ChildProcess): ChildHandle {
  installExitHook();
  live.add(child);
  if (closing) hardKill(child);
  let out = '';
  const append = (chunk: Buffer): void => {
    out += chunk.toString();
    if (out.length > OUTPUT_CAP) out = out.slice(out.length - OUTPUT_CAP / 2);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  return {
    child,
    output: () => out,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

/** SIGKILLs one child and waits for it to be gone. */
export async function kill(handle: ChildHandle): Promise<void> {
  hardKill(handle.child);
  await handle.exited;
}

/** Polls until `check` returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** A free TCP port on loopback, so an orchestrator can be restarted on the same one. */
export async function freePort(): Promise<number> {
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

/** A temporary directory, removed by `remove()` or, failing that, when this process exits. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  installExitHook();
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };
}

export interface OrchestratorHandle extends ChildHandle {
  url: string;
}

/**
 * The real orchestrator CLI (`server/dist/cli.js`); resolves once it logged "listening" (after
 * resuming unfinished expressions, which takes a while on a big store).
 */
export async function spawnOrchestrator(
  env: Record<string, string>,
  listenTimeoutMs = 30_000,
): Promise<OrchestratorHandle> {
  const child = spawn(process.execPath, [SERVER_CLI], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOST: '127.0.0.1', AGENTS: '0', LOG_LEVEL: 'info', ...env },
  });
  const handle = track(child);
  try {
    const outcome = await waitFor(
      () => {
        if (!handle.alive()) return { exited: true as const };
        for (const line of handle.output().split('\n')) {
          if (line.includes('"msg":"listening"'))
            return { url: (JSON.parse(line) as { url: string }).url };
        }
        return null;
      },
      listenTimeoutMs,
      'the orchestrator to listen',
      25,
    );
    if (outcome.url === undefined)
      throw new Error(`the orchestrator exited: ${handle.output().slice(-2000)}`);
    return { ...handle, url: outcome.url };
  } catch (err) {
    await kill(handle);
    throw err;
  }
}

/** A real agent-node process. */
export function spawnAgent(url: string, opts: { concurrency: number; name: string }): ChildHandle {
  const child = spawn(
    process.execPath,
    [AGENT_CLI, '--server', url, '--concurrency', String(opts.concurrency), '--name', opts.name],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'warn' },
    },
  );
  return track(child);
}
