/**
 * Reads V8 CPU profiles (`--cpu-prof`) of the orchestrator: hot spots and inclusive times.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const CpuProfileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
      hitCount: z.number().optional(),
      children: z.array(z.number()).optional(),
    }),
  ),
  samples: z.array(z.number()).optional(),
});

export interface HotSpot {
  /** `file:function` (file relative to the repository's node_modules or workspace). */
  name: string;
  /** Share of the non-idle samples, percent. */
  percent: number;
}

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const clean = url.replace(/^file:\/\//, '');
  const nm = clean.lastIndexOf('node_modules/');
  if (nm >= 0) return clean.slice(nm + 'node_modules/'.length);
  const ws = /\/(core|server|agent-node|bench)\/(dist|src)\/.*$/.exec(clean);
  if (ws) return ws[0].slice(1);
  return clean.startsWith('node:') ? clean : path.basename(clean);
}

/** Self time by `file:function` from a `.cpuprofile` written by `node --cpu-prof`. */
export function hotSpots(
  file: string,
  top = 15,
): { spots: HotSpot[]; idlePercent: number; gcPercent: number } {
  const profile = CpuProfileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const hits = new Map<number, number>();
  if (profile.samples) for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const byName = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (const node of profile.nodes) {
    const count = profile.samples ? (hits.get(node.id) ?? 0) : (node.hitCount ?? 0);
    if (count === 0) continue;
    total += count;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') {
      idle += count;
      continue;
    }
    if (fn === '(garbage collector)') gc += count;
    // V8's pseudo-frames ((program), (garbage collector)) have no url; anonymous JS functions do.
    const name =
      fn.startsWith('(') && node.callFrame.url === ''
        ? fn
        : `${shortUrl(node.callFrame.url)}:${fn || `(anonymous, line ${node.callFrame.lineNumber + 1})`}`;
    byName.set(name, (byName.get(name) ?? 0) + count);
  }
  const busy = Math.max(1, total - idle);
  const spots = [...byName.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, count]) => ({ name, percent: (100 * count) / busy }));
  return { spots, idlePercent: (100 * idle) / Math.max(1, total), gcPercent: (100 * gc) / busy };
}

/** The newest `.cpuprofile` in a directory. */
export function newestProfile(dir: string): string | undefined {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  const last = files.at(-1);
  return last === undefined ? undefined : path.join(dir, last);
}

/**
 * Inclusive time (the function and everything it called) of the given functions, each named
 * `functionName@fileSuffix` (e.g. `dispatch@scheduler/scheduler.js`), in % of non-idle samples.
 */
export function inclusive(file: string, names: readonly string[]): Map<string, number> {
  const profile = CpuProfileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const hits = new Map<number, number>();
  for (const id of profile.samples ?? []) hits.set(id, (hits.get(id) ?? 0) + 1);
  const wanted = names.map((name) => {
    const [fn, suffix] = name.split('@') as [string, string | undefined];
    return { name, fn, suffix: suffix ?? '' };
  });
  const totals = new Map<string, number>(names.map((name) => [name, 0]));
  let busy = 0;
  for (const [id, count] of hits) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    busy += count;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      for (const w of wanted) {
        if (!seen.has(w.name) && frame.functionName === w.fn && frame.url.endsWith(w.suffix)) {
          seen.add(w.name);
          totals.set(w.name, totals.get(w.name)! + count);
        }
      }
    }
  }
  for (const [name, count] of totals) totals.set(name, (100 * count) / Math.max(1, busy));
  return totals;
}
