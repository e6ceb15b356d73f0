/**
 * The real orchestrator in-process, on port 0 with a temp embedded store: tests reach into it
 * (`orch.scheduler.views.agentView(id)`, `stats()`) as well as talking to it over HTTP and sockets.
 *
 * Why this one helper is here and not in @expressionist/testkit: it imports the server, and the
 * server tests import `../src/...` (vitest runs the TypeScript sources, no build needed). If the
 * kit imported the server too, it would import the built `dist` — a second copy of every server
 * module beside the one the test imports, which could be stale, whose classes would not be the
 * test's classes (instanceof fails), and which would make testkit depend on the server while the
 * server's tests depend on testkit. Kept here, the server is imported once, from its sources,
 * by every test that uses this (agent-node's tests included).
 */
import path from 'node:path';
import { pino } from 'pino';
import { tempDir } from '@expressionist/testkit';
import { loadConfig } from '../src/config.js';
import { startOrchestrator, type Orchestrator } from '../src/main.js';

export interface TestOrchestrator extends Orchestrator {
  dataDir: string;
  /** Stops the orchestrator and removes its data dir. */
  close(): Promise<void>;
}

export async function startTestOrchestrator(
  env: Record<string, string> = {},
  options: { setupSliceOps?: number } = {},
): Promise<TestOrchestrator> {
  const data = tempDir();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: data.dir,
    LOG_LEVEL: 'silent',
    // The engine's suites run anonymous, as the course's earlier stages do; the accounts suites
    // pass AUTH_MODE=accounts.
    AUTH_MODE: 'open',
    TIME_ADDITION_MS: '0',
    TIME_SUBTRACTION_MS: '0',
    TIME_MULTIPLICATIONS_MS: '0',
    TIME_DIVISIONS_MS: '0',
    WEB_DIR: path.join(data.dir, 'no-web'),
    ...env,
  });
  const orchestrator = await startOrchestrator(config, {
    log: pino({ level: env.LOG_LEVEL ?? 'silent' }),
    ...options,
  });
  return {
    ...orchestrator,
    dataDir: data.dir,
    close: async () => {
      await orchestrator.stop();
      data.remove();
    },
  };
}
