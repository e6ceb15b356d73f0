import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track, type ChildHandle } from '@expressionist/testkit';
import { nextMessage } from './ipc.js';

/** Spawns a bench helper script (bench/dist/children/*.js) with an IPC channel. */
export function spawnChild(
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
): ChildHandle {
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, ...env },
  });
  return track(child);
}

/** Path of a compiled helper script next to this library. */
export function childScript(name: string): string {
  return fileURLToPath(new URL(`../children/${name}.js`, import.meta.url));
}

/**
 * Starts `processes` helpers of `script` that each open agent connections, and resolves with
 * them once every one reported `connected` (the argument list of helper `p` is `argsOf(p)`).
 */
export async function spawnConnectedHelpers(
  script: string,
  processes: number,
  argsOf: (p: number) => string[],
  timeoutMs: number,
): Promise<ChildHandle[]> {
  const helpers = Array.from({ length: processes }, (_, p) =>
    spawnChild(childScript(script), argsOf(p)),
  );
  await Promise.all(
    helpers.map((h) =>
      nextMessage(
        h.child,
        (m) => (m.type === 'connected' ? m.count : undefined),
        timeoutMs,
        'agent connections',
      ),
    ),
  );
  return helpers;
}
