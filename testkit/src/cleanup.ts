/**
 * What a test run leaves behind: child processes and temp dirs are registered here so that
 * they are removed whatever happens — by the owner, or, failing that, when this process exits
 * (a timed-out test or a crashed bench must not leave orchestrators running).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;
let closing = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous work only: process.kill and rmSync both work inside 'exit'.
  process.on('exit', () => {
    killEverything();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** SIGKILLs a child unless it is gone (continuing a stopped one first, so the kill lands). */
export function hardKill(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  } catch {
    // already gone
  }
}

/** Registers a child to be killed at exit; forgets it once it exited. */
export function register(child: ChildProcess): void {
  installExitHook();
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (closing) hardKill(child);
}

/**
 * Kills every registered child still running, and any started later in this process: a run
 * abandoned by a timed-out test cannot leave new processes behind. Call it only at the very end.
 */
export function killEverything(): void {
  closing = true;
  for (const child of live) hardKill(child);
}

/** A temporary directory, removed by `remove()` or, failing that, when this process exits. */
export function tempDir(prefix = 'expr-test-'): { dir: string; remove: () => void } {
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
