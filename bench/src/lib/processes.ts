/**
 * Bench helper processes (bench/src/children): spawned with an IPC channel, asked for receipts.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track, type ChildHandle } from '@expressionist/testkit';
import { nextMessage } from './ipc.js';
import { max } from './stats.js';

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

/**
 * Asks every connection helper (bench/src/children) for its receipts: each connection's receipt
 * time of the settings push with `additionMs` (-1: none), its disconnects and their reasons, and
 * the longest gap between two pings (which the ask resets).
 */
export async function helperReceipts(
  helpers: readonly ChildHandle[],
  additionMs: number,
): Promise<{
  at: number[];
  disconnects: number;
  reasons: Map<string, number>;
  firstDisconnectAt: number;
  maxPingGapMs: number;
}> {
  const replies = await Promise.all(
    helpers.map((h) => {
      const reply = nextMessage(
        h.child,
        (m) => (m.type === 'receipts' ? m : undefined),
        30_000,
        'settings receipts',
      );
      h.child.send?.({ type: 'receipts', additionMs });
      return reply;
    }),
  );
  return {
    at: replies.flatMap((r) => r.at),
    disconnects: replies.reduce((sum, r) => sum + r.disconnects, 0),
    reasons: replies.reduce((all, r) => {
      for (const [reason, n] of Object.entries(r.reasons))
        all.set(reason, (all.get(reason) ?? 0) + n);
      return all;
    }, new Map<string, number>()),
    maxPingGapMs: max(replies.map((r) => r.maxPingGapMs)),
    firstDisconnectAt: Math.min(
      Infinity,
      ...replies.map((r) => r.firstDisconnectAt).filter((t) => t >= 0),
    ),
  };
}

/** The connection helpers' counters, summed (see the `stats` message in ipc.ts). */
export interface HelperStats {
  connected: number;
  /** When (epoch ms) the latest (re)connection of any helper registered. */
  lastConnectAt: number;
  disconnects: number;
  reasons: Map<string, number>;
  refusals: Map<string, number>;
  unreachable: number;
  retries: number;
  tasks: number;
  /** Probe operand → when its task arrived (epoch ms). */
  probes: Map<string, number>;
  maxPingGapMs: number;
}

/** Asks every connection helper (children/idle-agents) for its counters and sums them. */
export async function helperStats(helpers: readonly ChildHandle[]): Promise<HelperStats> {
  const replies = await Promise.all(
    helpers.map((h) => {
      const reply = nextMessage(
        h.child,
        (m) => (m.type === 'stats' ? m : undefined),
        30_000,
        'helper stats',
      );
      h.child.send?.({ type: 'stats' });
      return reply;
    }),
  );
  const sum = (
    pick: (r: (typeof replies)[number]) => Record<string, number>,
  ): Map<string, number> =>
    replies.reduce((all, r) => {
      for (const [key, n] of Object.entries(pick(r))) all.set(key, (all.get(key) ?? 0) + n);
      return all;
    }, new Map<string, number>());
  return {
    connected: replies.reduce((s, r) => s + r.connected, 0),
    lastConnectAt: max(replies.map((r) => r.lastConnectAt)),
    disconnects: replies.reduce((s, r) => s + r.disconnects, 0),
    reasons: sum((r) => r.reasons),
    refusals: sum((r) => r.refusals),
    unreachable: replies.reduce((s, r) => s + r.unreachable, 0),
    retries: replies.reduce((s, r) => s + r.retries, 0),
    tasks: replies.reduce((s, r) => s + r.tasks, 0),
    probes: new Map(replies.flatMap((r) => Object.entries(r.probes))),
    maxPingGapMs: max(replies.map((r) => r.maxPingGapMs)),
  };
}
