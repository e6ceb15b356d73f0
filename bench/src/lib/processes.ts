import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track, type ChildHandle } from '@expressionist/testkit';

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
