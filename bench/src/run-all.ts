/**
 * `npm run bench -w bench`: every bench in sequence, each in its own process (so one's
 * leftovers cannot skew the next), with the machine described first. `--quick` is passed on.
 */
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchArgs, runMain } from './lib/cli.js';
import { describeMachine } from './lib/machine.js';

const BENCHES = [
  'makespan',
  'throughput',
  'failover',
  'capacity',
  'settings',
  'store-throughput',
  'silent-agent',
  'planning',
  'idle-agents',
  'cluster',
  'retention',
  'strangers',
  'big-inputs',
] as const;

function run(script: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL(`./${script}.js`, import.meta.url)), ...args],
      { stdio: 'inherit' },
    );
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<void> {
  const { quick, profile } = benchArgs();
  const args = [...(quick ? ['--quick'] : [])];
  console.log(describeMachine());
  try {
    console.log(execFileSync('free', ['-g'], { encoding: 'utf8' }).trimEnd());
  } catch {
    // `free` is not everywhere; describeMachine already gave the totals
  }
  const started = performance.now();
  const failed: string[] = [];
  for (const bench of BENCHES) {
    const code = await run(
      bench,
      bench === 'throughput' && profile ? [...args, '--profile'] : args,
    );
    if (code !== 0) failed.push(bench);
  }
  console.log(
    `\nall benches: ${((performance.now() - started) / 1000).toFixed(0)} s${failed.length > 0 ? `; FAILED: ${failed.join(', ')}` : ''}`,
  );
  if (failed.length > 0) process.exitCode = 1;
}

runMain(main);
