#!/usr/bin/env node
/**
 * `npm start` and the `expressionist` command: the orchestrator from the environment, plus local
 * agent processes when AGENTS is set.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from './config.js';
import { applyHeapGrowing } from './heap.js';
import { startOrchestrator, type Orchestrator } from './main.js';
import { isLoopbackHost } from './http/security.js';

const AGENT_CLI = fileURLToPath(new URL('../../agent-node/dist/cli.js', import.meta.url));
/** The credential `npm start` gives its own agent processes (a new one per start). */
const LOCAL_AGENTS_CREDENTIAL = 'npm start (local agents)';

/**
 * A fresh agent credential for the local agents, the previous starts' ones revoked: their
 * tokens lived only in the environment of processes that are gone.
 */
async function localAgentToken(orchestrator: Orchestrator): Promise<string> {
  const { auth } = orchestrator;
  for (const c of auth.listCredentials())
    if (c.name === LOCAL_AGENTS_CREDENTIAL && c.revokedAt === null)
      await auth.revokeCredential(c.id);
  return (await auth.issueCredential(LOCAL_AGENTS_CREDENTIAL)).token;
}

/**
 * `npm start`: the orchestrator plus AGENTS local agent processes. The first Ctrl-C (or SIGTERM)
 * stops everything gracefully; a second one exits at once.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // Before the heap has grown: bounds V8's heap slack under load (bench 4).
  const heapFlag = applyHeapGrowing(config.heapGrowingPercent);
  const orchestrator = await startOrchestrator(config);
  const { log } = orchestrator;
  if (heapFlag !== null) log.debug({ flag: heapFlag }, 'V8 heap growth bounded');
  const local = orchestrator.url.replace('127.0.0.1', 'localhost');
  if (orchestrator.setupToken) {
    const line = `Open ${local}/setup#${orchestrator.setupToken} to create the admin account`;
    process.stdout.write(`${line}\n`);
    log.info(line);
  }
  if (config.auth.mode === 'open' && !isLoopbackHost(config.host))
    log.warn(
      { host: config.host },
      'AUTH_MODE=open on a non-loopback address: anyone who can reach this port can submit, read everything, change settings and run agents. Use AUTH_MODE=accounts (the default) or HOST=127.0.0.1.',
    );
  const agentEnv =
    config.auth.mode === 'accounts' && config.agents > 0
      ? { AGENT_TOKEN: await localAgentToken(orchestrator) }
      : {};
  const children: ChildProcess[] = [];
  for (let i = 1; i <= config.agents; i += 1) {
    const child = spawn(
      process.execPath,
      [
        AGENT_CLI,
        '--server',
        orchestrator.url,
        '--concurrency',
        String(config.computingPower),
        '--name',
        `agent-${i}`,
      ],
      {
        // Own process group: a terminal's Ctrl-C reaches only the orchestrator, which then drains
        // each agent with exactly one SIGTERM (two signals would make an agent exit at once).
        // The IPC channel closes when the orchestrator dies, so no agent outlives it.
        detached: true,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: {
          ...process.env,
          LOG_LEVEL: process.env.AGENT_LOG_LEVEL ?? config.logLevel,
          ...agentEnv,
        },
      },
    );
    child.on('exit', (code, signal) =>
      log.info({ agent: `agent-${i}`, code, signal }, 'local agent process exited'),
    );
    children.push(child);
  }
  if (config.agents > 0)
    log.info({ agents: config.agents, concurrency: config.computingPower }, 'started local agents');
  log.info(`dashboard: ${local}/`);

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      for (const child of children) child.kill('SIGKILL');
      process.exit(130);
    }
    log.info({ signal }, 'stopping (send again to exit at once)');
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    const agentsDone = Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve()
          : new Promise((resolve) => child.once('exit', resolve)),
      ),
    );
    void Promise.race([agentsDone, new Promise((resolve) => setTimeout(resolve, 10_000))])
      .then(() => orchestrator.stop())
      .then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `orchestrator failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
