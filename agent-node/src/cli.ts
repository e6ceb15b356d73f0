#!/usr/bin/env node
/**
 * The `expressionist-agent` command: flags and environment to an `Agent`, and a clean stop on
 * SIGINT/SIGTERM.
 */
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { Agent } from './agent.js';
import { AgentEnvSchema } from './env.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new InvalidArgumentError('must be an integer from 1 to 256');
  return n;
}

/** One URL, or several separated by commas (instances of one service, tried in turn). */
function serverUrls(value: string): string[] {
  const urls = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (urls.length === 0) throw new InvalidArgumentError('must name at least one URL');
  return urls.map((v) => {
    try {
      const url = new URL(v);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
      return url.origin;
    } catch {
      throw new InvalidArgumentError(
        `${v}: must be an http(s) URL such as http://localhost:8080 (several: comma-separated)`,
      );
    }
  });
}

const program = new Command()
  .name('expressionist-agent')
  .description(
    'Connects to an Expressionist orchestrator and computes operations with N parallel workers.',
  )
  .option(
    '-s, --server <urls>',
    'orchestrator URL, or several instances of one service comma-separated (env ORCHESTRATOR_URL)',
    serverUrls,
  )
  .option('-c, --concurrency <n>', 'parallel workers (env COMPUTING_POWER)', positiveInt)
  .option('-n, --name <name>', 'display name (env AGENT_NAME; default: host name + pid)')
  .option('--id <id>', 'stable agent id (default: random per process)')
  .option(
    '-t, --token <token>',
    'agent token from an admin (env AGENT_TOKEN; without one it joins as a guest, if allowed)',
  )
  .showHelpAfterError();

program.parse();
const opts = program.opts<{
  server?: string[];
  concurrency?: number;
  name?: string;
  id?: string;
  token?: string;
}>();

const env = AgentEnvSchema.safeParse(process.env);
if (!env.success) {
  process.stderr.write(
    `Invalid environment: ${env.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`,
  );
  process.exit(2);
}

let servers: string[];
let concurrency: number;
try {
  servers = opts.server ?? serverUrls(env.data.ORCHESTRATOR_URL ?? 'http://localhost:8080');
  concurrency = opts.concurrency ?? positiveInt(env.data.COMPUTING_POWER ?? '4');
} catch (err) {
  process.stderr.write(
    `Invalid configuration (ORCHESTRATOR_URL / COMPUTING_POWER): ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(2);
}
const name = (
  opts.name ??
  env.data.AGENT_NAME ??
  `${(process.env.HOSTNAME ?? 'agent').slice(0, 40)}-${process.pid}`
).slice(0, 64);
if (opts.id !== undefined && !/^[A-Za-z0-9._:-]{1,64}$/.test(opts.id)) {
  process.stderr.write('--id: letters, digits and . _ : - only (max 64)\n');
  process.exit(2);
}

const token = opts.token ?? env.data.AGENT_TOKEN ?? '';
if (token !== '' && !/^[\x21-\x7e]{1,4096}$/.test(token)) {
  process.stderr.write('--token / AGENT_TOKEN: printable characters without spaces (max 4096)\n');
  process.exit(2);
}

const log = pino({ level: env.data.LOG_LEVEL, base: { svc: 'agent', name } });
const agent = new Agent({
  servers,
  concurrency,
  name,
  log,
  ...(opts.id ? { id: opts.id } : {}),
  ...(token ? { token } : {}),
});
agent.start();

void agent.quarantined.then(() => process.exit(3));
void agent.refused.then((reason) => {
  process.stderr.write(`The orchestrator refused this agent: ${reason}\n`);
  process.exit(4);
});

// Started by `npm start`: the orchestrator holds an IPC channel; if it dies, so do we (its
// successor would not know us, and our tasks are requeued anyway).
if (process.channel) {
  process.channel.unref();
  process.on('disconnect', () => {
    log.warn('parent orchestrator is gone; exiting');
    agent.close();
    process.exit(1);
  });
}

let signals = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  signals += 1;
  if (signals > 1) {
    log.warn({ signal }, 'second signal: exiting now');
    agent.close();
    process.exit(130);
  }
  log.info({ signal }, 'draining: finishing running tasks (signal again to exit now)');
  void agent.drain().then(() => {
    log.info('drained; bye');
    process.exit(0);
  });
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
