import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_CLI,
  api,
  freePort,
  killAll,
  spawnAgent,
  waitFor,
  type AgentProcess,
} from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from '../../server/test/in-process.js';

let orch: TestOrchestrator;
const processes: AgentProcess[] = [];
beforeAll(async () => {
  orch = await startTestOrchestrator();
});
afterAll(async () => {
  await killAll(processes);
  await orch.close();
});

describe('agent-node CLI', () => {
  it('documents its options in --help', () => {
    const res = spawnSync(process.execPath, [AGENT_CLI, '--help'], { encoding: 'utf8' });
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/--server <urls>/);
    expect(res.stdout).toMatch(/--concurrency <n>/);
    expect(res.stdout).toMatch(/--name <name>/);
  });

  it('rejects bad options and environment with a clear message', () => {
    const badConcurrency = spawnSync(process.execPath, [AGENT_CLI, '--concurrency', 'zero'], {
      encoding: 'utf8',
    });
    expect(badConcurrency.status).not.toBe(0);
    expect(badConcurrency.stderr).toMatch(/integer from 1 to 256/);
    const badUrl = spawnSync(process.execPath, [AGENT_CLI], {
      encoding: 'utf8',
      env: { ...process.env, ORCHESTRATOR_URL: 'ftp://x' },
    });
    expect(badUrl.status).toBe(2);
    expect(badUrl.stderr).toMatch(/ORCHESTRATOR_URL/);
    // Several URLs: each one is checked, and the bad one is named.
    const badOfSeveral = spawnSync(
      process.execPath,
      [AGENT_CLI, '--server', 'http://a.example:8080, ftp://b.example'],
      { encoding: 'utf8' },
    );
    expect(badOfSeveral.status).not.toBe(0);
    expect(badOfSeveral.stderr).toMatch(/ftp:\/\/b\.example: must be an http\(s\) URL/);
  });

  it('with several server URLs, moves on past one that does not answer', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const agent = spawnAgent(`${dead},${orch.url}`, { name: 'rotator', id: 'rotator-1' });
    processes.push(agent);
    const view = await waitFor(
      () => orch.scheduler.views.agentView('rotator-1'),
      15_000,
      'rotator',
    );
    expect(view.status).toBe('active');
    expect(agent.output()).toContain(dead);
    // Gone before the next tests, which count on their own agent getting the work.
    await killAll([agent]);
    await waitFor(
      () => orch.scheduler.views.agentView('rotator-1')?.status !== 'active',
      10_000,
      'rotator gone',
    );
  });

  it('joins with its name and concurrency, computes, and drains on SIGTERM', async () => {
    const client = api(orch.url);
    await client.settings({ multiplicationMs: 1500 });
    const agent = spawnAgent(orch.url, { concurrency: 3, name: 'drainer', id: 'drainer-1' });
    processes.push(agent);
    const view = await waitFor(
      () => orch.scheduler.views.agentView('drainer-1'),
      10_000,
      'agent to join',
    );
    expect(view).toMatchObject({ name: 'drainer', kind: 'node', concurrency: 3, status: 'active' });
    const id = await client.submit('6*7');
    await waitFor(
      () => orch.scheduler.views.agentView('drainer-1')?.running.length === 1,
      10_000,
      'task running',
    );
    agent.child.kill('SIGTERM');
    // Draining: it finishes the running multiplication instead of dropping it.
    await waitFor(
      () => orch.scheduler.views.agentView('drainer-1')?.status === 'draining',
      5000,
      'draining status',
    );
    const code = await agent.exited;
    expect(code).toBe(0);
    const done = await client.finished(id);
    expect(done.value).toBe('42');
    const ops = await client.operations(id);
    expect(ops[0]).toMatchObject({ attempt: 1, agentId: 'drainer-1', reassigned: 0 });
    await client.settings({ multiplicationMs: 0 });
  });

  it('exits at once on a second signal; the orchestrator requeues its task', async () => {
    const client = api(orch.url);
    await client.settings({ additionMs: 5000 });
    const agent = spawnAgent(orch.url, { concurrency: 1, id: 'impatient-1' });
    processes.push(agent);
    await waitFor(() => orch.scheduler.views.agentView('impatient-1'), 10_000, 'agent to join');
    const id = await client.submit('40+2');
    await waitFor(
      () => orch.scheduler.views.agentView('impatient-1')?.running.length === 1,
      10_000,
      'task running',
    );
    agent.child.kill('SIGTERM');
    await waitFor(
      () => orch.scheduler.views.agentView('impatient-1')?.status === 'draining',
      5000,
      'draining',
    );
    agent.child.kill('SIGINT');
    expect(await agent.exited).toBe(130);
    await waitFor(
      async () => (await client.operations(id))[0]!.state === 'ready',
      5000,
      'requeued',
    );
    await client.settings({ additionMs: 0 });
    const helper = spawnAgent(orch.url, { concurrency: 1 });
    processes.push(helper);
    expect((await client.finished(id)).value).toBe('42');
  });

  it('reconnects by itself when the orchestrator comes back', async () => {
    const { startOrchestrator } = await import('../../server/src/main.js');
    const { loadConfig } = await import('../../server/src/config.js');
    const port = await freePort();
    const config = loadConfig({
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: `${orch.dataDir}/second`,
      LOG_LEVEL: 'silent',
      TIME_ADDITION_MS: '0',
      MONGODB_URI: '',
      AUTH_MODE: 'open',
    });
    const first = await startOrchestrator(config);
    const agent = spawnAgent(first.url, { concurrency: 1, id: 'comeback-1' });
    processes.push(agent);
    await waitFor(
      () => first.scheduler.views.agentView('comeback-1')?.status === 'active',
      10_000,
      'joined',
    );
    await first.stop();
    const second = await startOrchestrator(config);
    await waitFor(
      () => second.scheduler.views.agentView('comeback-1')?.status === 'active',
      15_000,
      'rejoined',
    );
    const id = await api(second.url).submit('1+2');
    expect((await api(second.url).finished(id)).value).toBe('3');
    await second.stop();
  });
});
