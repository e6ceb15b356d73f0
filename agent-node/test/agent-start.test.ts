// `npm run agent` must start an agent in about a second on a built tree: it compiles only
// agent-node (incremental, a no-op when up to date) and never builds the dashboard. Two started
// at once must both come up (they used to race each other's full builds for minutes).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentView } from '@expressionist/core';
import { ROOT, waitFor } from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from '../../server/test/in-process.js';

let orch: TestOrchestrator;
const children: ChildProcess[] = [];

beforeAll(async () => {
  orch = await startTestOrchestrator();
});
afterAll(async () => {
  // npm runs a shell that runs node: each was started as its own process group, killed whole.
  for (const child of children) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await orch.close();
});

function npmRunAgent(name: string): { output: () => string } {
  const child = spawn(
    'npm',
    ['run', 'agent', '--', '--server', orch.url, '--name', name, '--concurrency', '1'],
    { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return { output: () => out };
}

async function activeAgentNames(): Promise<string[]> {
  const res = await fetch(`${orch.url}/api/v1/agents`);
  const body = (await res.json()) as { agents: AgentView[] };
  return body.agents.filter((a) => a.status === 'active').map((a) => a.name);
}

describe('starting agents', () => {
  it('two `npm run agent` started at once are both active within 10 s', async () => {
    const names = [`start-a-${process.pid}`, `start-b-${process.pid}`];
    const started = performance.now();
    const runs = names.map((name) => npmRunAgent(name));
    await waitFor(
      async () => {
        const active = await activeAgentNames();
        return names.every((n) => active.includes(n));
      },
      10_000,
      'both agents active',
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${runs.map((r) => r.output()).join('\n---\n')}`);
    });
    console.log(
      `two concurrent \`npm run agent\`: both active ${Math.round(performance.now() - started)} ms after spawn`,
    );
    for (const run of runs) expect(run.output()).not.toMatch(/vite|svelte/i);
  }, 20_000);

  it('the expressionist-agent bin is linked, executable and runs the CLI', () => {
    const res = spawnSync(path.join(ROOT, 'node_modules/.bin/expressionist-agent'), ['--help'], {
      encoding: 'utf8',
    });
    expect(res.error).toBeUndefined();
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/Usage: expressionist-agent/);
  });

  it('npm start skips the dashboard build when web/build is newer than its sources', () => {
    const res = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build-web-if-stale.mjs')], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(res.status).toBe(0);
    expect(res.stdout.trim()).toMatch(/^web: build is up to date .*skipped$/);
  });
});
