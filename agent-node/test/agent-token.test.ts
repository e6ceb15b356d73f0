/**
 * The agent CLI in accounts mode: a real agent process with `AGENT_TOKEN` / `--token` joins as
 * its credential; one refused for who it is (no token with guests off, a revoked token) prints
 * the orchestrator's reason and exits non-zero instead of retrying forever.
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_CLI,
  killAll,
  manualAgent,
  spawnAgent,
  track,
  waitFor,
  type ChildHandle,
} from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from '../../server/test/in-process.js';

let orch: TestOrchestrator;
const processes: ChildHandle[] = [];
beforeAll(async () => {
  orch = await startTestOrchestrator({ AUTH_MODE: 'accounts', GUEST_AGENTS: 'off' });
});
afterAll(async () => {
  await killAll(processes);
  await orch.close();
});

describe('agent-node with tokens', () => {
  it('documents --token in --help', () => {
    const res = spawnSync(process.execPath, [AGENT_CLI, '--help'], { encoding: 'utf8' });
    expect(res.stdout).toMatch(/--token <token>/);
    expect(res.stdout).toMatch(/AGENT_TOKEN/);
  });

  it('joins with AGENT_TOKEN as its credential, and exits non-zero once it is revoked', async () => {
    const { credential, token } = await orch.auth.issueCredential('cli-rack');
    const agent = spawnAgent(orch.url, { id: 'cli-cred', token });
    processes.push(agent);
    const view = await waitFor(
      () => orch.scheduler.views.agentView('cli-cred')?.status === 'active',
      10_000,
      'the agent to join',
    );
    expect(view).toBe(true);
    expect(orch.scheduler.views.agentView('cli-cred')?.trust).toBe('credential');
    await orch.auth.revokeCredential(credential.id);
    const code = await agent.exited;
    expect(code).toBe(4);
    expect(agent.output()).toMatch(/refused this agent: .*unknown or revoked/);
  });

  it('without a token (guests off) prints the reason and exits; --token wins over env', async () => {
    const guest = spawnAgent(orch.url, { id: 'cli-guest' });
    processes.push(guest);
    expect(await guest.exited).toBe(4);
    expect(guest.output()).toMatch(/GUEST_AGENTS=off/);
    const { token } = await orch.auth.issueCredential('flag-rack');
    const flagged = track(
      spawn(
        process.execPath,
        [AGENT_CLI, '--server', orch.url, '--id', 'cli-flag', '--token', token],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AGENT_TOKEN: 'eat_bad.bad' } },
      ),
    );
    processes.push(flagged);
    await waitFor(
      () => orch.scheduler.views.agentView('cli-flag')?.status === 'active',
      10_000,
      'the flagged agent to join',
    );
  });
});

describe('agent-node refused for a taken id', () => {
  let guests: TestOrchestrator;
  beforeAll(async () => {
    guests = await startTestOrchestrator({ AUTH_MODE: 'accounts', GUEST_AGENTS: 'on' });
  });
  afterAll(async () => {
    await guests.close();
  });

  it('retries with backoff (AGENT_ID_TAKEN) and joins once the id is free', async () => {
    // A live guest holds the id: another guest cannot replace it (it cannot prove it is the same
    // guest). Socket.IO does not retry a refused handshake by itself; without the agent's own
    // backoff it would wait forever.
    const holder = await manualAgent(guests.url, 'shared-id');
    await waitFor(
      () => guests.scheduler.views.agentView('shared-id')?.status === 'active',
      5000,
      'the first guest to join',
    );
    const agent = spawnAgent(guests.url, { id: 'shared-id', name: 'second' });
    processes.push(agent);
    await waitFor(
      () => /AGENT_ID_TAKEN/.test(agent.output()),
      10_000,
      'the second one to be refused',
    );
    holder.socket.close();
    await waitFor(
      () => guests.scheduler.views.agentView('shared-id')?.name === 'second',
      15_000,
      'the second one to join once the id is free',
    );
    expect(guests.scheduler.views.agentView('shared-id')?.status).toBe('active');
  });
});
