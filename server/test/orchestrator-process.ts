import { spawn, type ChildProcess } from 'node:child_process';
import { SERVER_CLI, waitFor } from './helpers.js';

export interface OrchestratorProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts the real orchestrator CLI as a child process and waits for its "listening" log line. */
export async function spawnOrchestrator(env: Record<string, string>): Promise<OrchestratorProcess> {
  const child = spawn(process.execPath, [SERVER_CLI], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOST: '127.0.0.1', AGENTS: '0', LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`orchestrator exited: ${out}`);
      for (const line of out.split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        return (JSON.parse(line) as { url: string }).url;
      }
      return null;
    },
    30_000,
    'orchestrator to listen',
  );
  return { child, url, output: () => out, exited };
}
