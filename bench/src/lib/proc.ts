/**
 * CPU time and resident memory of processes, read from /proc, for the benches' resource columns.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Kernel clock ticks per second (`getconf CLK_TCK`), the unit of utime/stime in /proc. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / ticksPerSecond();
}

/** Resident set size of a process in MiB, from /proc/<pid>/status. */
export function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Measures the CPU use of one or more processes (summed) over a window: call `stop()` at the end. */
export function cpuMeter(pids: number | readonly number[]): {
  stop(): { cpuMs: number; wallMs: number; percent: number };
} {
  const list = typeof pids === 'number' ? [pids] : pids;
  const total = (): number => list.reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
  const cpu0 = total();
  const wall0 = performance.now();
  return {
    stop() {
      const cpuMs = total() - cpu0;
      const wallMs = performance.now() - wall0;
      return { cpuMs, wallMs, percent: (100 * cpuMs) / wallMs };
    },
  };
}
