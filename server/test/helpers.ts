import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { execute } from '@expressionist/core';
import { io, type Socket } from 'socket.io-client';
import type {
  AgentToServerEvents,
  ExpressionView,
  OperationView,
  ServerToAgentEvents,
  Settings,
  Task,
} from '@expressionist/core';
import { loadConfig } from '../src/config.js';
import { startOrchestrator, type Orchestrator } from '../src/main.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const AGENT_CLI = path.join(ROOT, 'agent-node/dist/cli.js');
export const SERVER_CLI = path.join(ROOT, 'server/dist/cli.js');

/** Polls `check` until it returns a truthy value or the time is up. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  what = 'condition',
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
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function tempDir(prefix = 'expr-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A free TCP port on loopback (for processes restarted on the same port). */
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

export interface TestOrchestrator extends Orchestrator {
  dataDir: string;
  close(): Promise<void>;
}

/** The real orchestrator in-process on port 0 with a temp embedded store. */
export async function startTestOrchestrator(
  env: Record<string, string> = {},
): Promise<TestOrchestrator> {
  const data = tempDir();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: data.dir,
    LOG_LEVEL: 'silent',
    TIME_ADDITION_MS: '0',
    TIME_SUBTRACTION_MS: '0',
    TIME_MULTIPLICATIONS_MS: '0',
    TIME_DIVISIONS_MS: '0',
    WEB_DIR: path.join(data.dir, 'no-web'),
    ...env,
  });
  const orchestrator = await startOrchestrator(config, {
    log: pino({ level: env.LOG_LEVEL ?? 'silent' }),
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

/** Minimal JSON client for the REST API. */
export function api(base: string) {
  const call = async (method: string, url: string, body?: unknown, raw?: string) => {
    const res = await fetch(base + url, {
      method,
      headers:
        body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {},
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return {
      status: res.status,
      body: json as Record<string, unknown> & {
        error?: { code: string; message: string; position?: number; field?: string };
      },
    };
  };
  return {
    call,
    async submit(expression: string, id?: string): Promise<string> {
      const res = await call(
        'POST',
        '/api/v1/calculate',
        id === undefined ? { expression } : { expression, id },
      );
      if (res.status !== 201 && res.status !== 200)
        throw new Error(`submit failed ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    },
    async expression(id: string): Promise<ExpressionView> {
      const res = await call('GET', `/api/v1/expressions/${id}`);
      return res.body.expression as ExpressionView;
    },
    async operations(id: string): Promise<OperationView[]> {
      const res = await call('GET', `/api/v1/expressions/${id}/operations`);
      return res.body.operations as OperationView[];
    },
    async settings(patch: Partial<Settings>): Promise<Settings> {
      const res = await call('PUT', '/api/v1/settings', patch);
      if (res.status !== 200) throw new Error(`settings failed ${JSON.stringify(res.body)}`);
      return res.body.settings as Settings;
    },
    /** Waits until the expression has a final status. */
    async finished(id: string, timeoutMs = 30_000): Promise<ExpressionView> {
      return waitFor(
        async () => {
          const view = (await call('GET', `/api/v1/expressions/${id}`)).body
            .expression as ExpressionView;
          return ['done', 'error', 'canceled'].includes(view.status) ? view : null;
        },
        timeoutMs,
        `expression ${id} to finish`,
      );
    },
  };
}

export type AgentClient = Socket<ServerToAgentEvents, AgentToServerEvents>;

/** Makes a hand-driven agent answer every task at once, honestly (through core's `execute`). */
export function answerHonestly(agent: { socket: AgentClient }): void {
  agent.socket.on('tasks', (tasks) => {
    agent.socket.emit(
      'results',
      tasks.map((t) => ({ taskId: t.taskId, attempt: t.attempt, value: execute(t.op, t.a, t.b) })),
    );
  });
}

/**
 * A hand-driven agent speaking the real protocol over a real socket: the test decides when and
 * what it answers (stale attempts, wrong values).
 */
export async function manualAgent(
  url: string,
  agentId: string,
  concurrency = 1,
): Promise<{ socket: AgentClient; tasks: Task[]; settings: Settings[]; quarantined: string[] }> {
  const tasks: Task[] = [];
  const settings: Settings[] = [];
  const quarantined: string[] = [];
  const socket: AgentClient = io(`${url}/agents`, {
    auth: { agentId, name: agentId, kind: 'node', concurrency },
    transports: ['websocket'],
    reconnection: false,
  });
  socket.on('tasks', (batch) => tasks.push(...batch));
  socket.on('settings', (s) => settings.push(s));
  socket.on('quarantined', (reason) => quarantined.push(reason));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, tasks, settings, quarantined };
}

export interface AgentProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** A real agent-node process. */
export function spawnAgent(
  url: string,
  opts: { concurrency?: number; name?: string; id?: string } = {},
): AgentProcess {
  const args = [AGENT_CLI, '--server', url, '--concurrency', String(opts.concurrency ?? 2)];
  if (opts.name) args.push('--name', opts.name);
  if (opts.id) args.push('--id', opts.id);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, output: () => out, exited };
}

/** Kills every given process that is still running (cleanup). */
export function killAll(processes: { child: ChildProcess }[]): void {
  for (const { child } of processes) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }
}
