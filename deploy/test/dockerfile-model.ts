/** The Dockerfile read as stages of instructions, for the tests of what each image holds. */
import path from 'node:path';
import { AGENT_CLI, SERVER_CLI } from '@expressionist/testkit';
import { read, rel } from './compose-model.js';

// ---------------------------------------------------------------------------------------------
// Dockerfile

export interface Instruction {
  keyword: string;
  args: string;
}
export interface Stage {
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

/** Instructions with line continuations joined; comments and parser directives dropped. */
export function parseDockerfile(text: string): {
  stages: Stage[];
  globalArgs: Record<string, string>;
} {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    if (line === '' && pending === '') continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(`${pending}${line}`.trim());
    pending = '';
  }
  if (pending !== '') logical.push(pending.trim());
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical.filter((l) => l !== '')) {
    const space = line.search(/\s/);
    const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const args = space < 0 ? '' : line.slice(space + 1).trim();
    if (keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!m) throw new Error(`FROM: cannot read ${args}`);
      const base = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => {
        const name = a ?? b ?? '';
        const value = globalArgs[name];
        if (value === undefined) throw new Error(`FROM uses ARG ${name} without a default`);
        return value;
      });
      stages.push({ name: m[2]?.toLowerCase(), base, instructions: [] });
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`${keyword} before the first FROM`);
      const [name = '', value] = args.split('=', 2);
      if (value !== undefined) globalArgs[name] = value;
    } else {
      stages.at(-1)!.instructions.push({ keyword, args });
    }
  }
  return { stages, globalArgs };
}

export const dockerfileText = read('Dockerfile');
export const { stages } = parseDockerfile(dockerfileText);
export const stageNamed = (name: string): Stage => {
  const stage = stages.find((s) => s.name === name);
  if (!stage) throw new Error(`Dockerfile has no stage ${name}`);
  return stage;
};
/** The stages a target is built from, base first (FROM <stage> chains). */
export function chainOf(name: string): Stage[] {
  const stage = stageNamed(name);
  const parent = stages.find((s) => s.name === stage.base.toLowerCase());
  return parent?.name ? [...chainOf(parent.name), stage] : [stage];
}
export const instructionsOf = (target: string): Instruction[] =>
  chainOf(target).flatMap((stage) => stage.instructions);
export const lastOf = (target: string, keyword: string): string | undefined =>
  instructionsOf(target)
    .filter((i) => i.keyword === keyword)
    .at(-1)?.args;
/** Where a target's files land: COPY destinations resolved against its WORKDIR. */
export function copiedInto(target: string): string[] {
  let workdir = '/';
  const out: string[] = [];
  for (const { keyword, args } of instructionsOf(target)) {
    if (keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, args);
    if (keyword !== 'COPY') continue;
    const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
    out.push(path.posix.resolve(workdir, words.at(-1)!));
  }
  return out;
}
export const workdirOf = (target: string): string => {
  const dir = lastOf(target, 'WORKDIR');
  if (!dir) throw new Error(`${target}: no WORKDIR`);
  return dir;
};
/** `npm ci` runs of the whole file, with the stage they are in. */
export const npmCiRuns = stages.flatMap((stage) =>
  stage.instructions
    .filter((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))
    .map((i) => ({ stage, args: i.args })),
);

export const TARGETS = { server: rel(SERVER_CLI), agent: rel(AGENT_CLI) } as const;
