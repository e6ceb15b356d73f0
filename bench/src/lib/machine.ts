/**
 * What machine a bench ran on (CPUs, model, memory), for the report beside its numbers.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  cpus: number;
  model: string;
  memTotalGiB: number;
  memFreeGiB: number;
  node: string;
  platform: string;
}

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return os.availableParallelism();
  }
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) return match[1].trim();
  } catch {
    // not Linux: fall through
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/** What the numbers were measured on: `nproc`, the CPU model, memory and Node version. */
export function machineInfo(): MachineInfo {
  const gib = 1024 ** 3;
  return {
    cpus: nproc(),
    model: cpuModel(),
    memTotalGiB: os.totalmem() / gib,
    memFreeGiB: os.freemem() / gib,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

export function describeMachine(m: MachineInfo = machineInfo()): string {
  return `machine: ${m.cpus} CPUs (nproc), ${m.model}, ${m.memTotalGiB.toFixed(1)} GiB RAM (${m.memFreeGiB.toFixed(1)} GiB free), node ${m.node}, ${m.platform}`;
}
