/**
 * The Dockerfile's targets against the entry points the test suite runs, what each image holds and
 * reads, and .dockerignore against what the image build needs.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AGENT_ENV_VARS } from '../../agent-node/src/env.js';
import { EnvSchema } from '../../server/src/config.js';
import { DEFAULT_WEB_DIR } from '../../server/src/main.js';
import { ROOT } from '@expressionist/testkit';
import { read, rel, server, agent } from './compose-model.js';
import {
  chainOf,
  instructionsOf,
  lastOf,
  copiedInto,
  workdirOf,
  npmCiRuns,
  TARGETS,
  stages,
} from './dockerfile-model.js';

describe('Dockerfile', () => {
  it('is multi-stage with the targets compose builds; server is the default (last) target', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    for (const service of [server, agent]) {
      const build = service.build;
      if (typeof build !== 'object') throw new Error('build must name a target');
      expect(
        existsSync(path.join(ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile')),
      ).toBe(true);
      expect(stages.map((s) => s.name)).toContain(build.target);
    }
    expect(stages.at(-1)!.name).toBe('server');
  });

  it.each(Object.entries(TARGETS))(
    '%s image runs the entry point the test suite spawns (%s)',
    (target, script) => {
      const cmd: unknown = JSON.parse(lastOf(target, 'CMD') ?? 'null');
      expect(cmd).toEqual(['node', script]);
      expect(lastOf(target, 'ENTRYPOINT')).toBeUndefined();
      // the script's package is copied to the same place relative to the working directory
      expect(copiedInto(target)).toContain(
        path.posix.join(workdirOf(target), path.posix.dirname(script)),
      );
    },
  );

  it('server image holds the dashboard where the orchestrator looks for it (web/build)', () => {
    const web = path.posix.join(workdirOf('server'), rel(DEFAULT_WEB_DIR));
    expect(rel(DEFAULT_WEB_DIR)).toBe('web/build');
    expect(copiedInto('server')).toContain(web);
    // and the agent CLI, which the orchestrator spawns when AGENTS > 0
    expect(copiedInto('server')).toContain(
      path.posix.join(workdirOf('server'), path.posix.dirname(TARGETS.agent)),
    );
  });

  it.each(Object.keys(TARGETS))('%s image runs as a non-root user on a slim base', (target) => {
    const user = lastOf(target, 'USER');
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user!.split(':')[0]);
    expect(chainOf(target)[0]!.base).toMatch(/^node:\d+-bookworm-slim$/);
    // nothing is installed or compiled in the slim image itself
    for (const { keyword, args } of instructionsOf(target)) {
      if (keyword === 'RUN') expect(args).not.toMatch(/\bnpm (ci|install|rebuild)\b/);
    }
  });

  it('sets in each image only variables its program reads', () => {
    const envKeys = (target: string): string[] =>
      instructionsOf(target)
        .filter((i) => i.keyword === 'ENV')
        .flatMap((i) => i.args.split(/\s+/).map((pair) => pair.split('=')[0]!));
    const node = ['NODE_ENV'];
    for (const key of envKeys('server')) {
      expect([...node, ...Object.keys(EnvSchema.shape)], `server ${key}`).toContain(key);
    }
    for (const key of envKeys('agent')) {
      expect([...node, ...AGENT_ENV_VARS], `agent ${key}`).toContain(key);
    }
    expect(envKeys('server')).toContain('PORT');
  });

  it('server image has a HEALTHCHECK on /healthz', () => {
    const health = lastOf('server', 'HEALTHCHECK');
    expect(health).toMatch(/\bCMD\b/);
    expect(health).toContain('/healthz');
    expect(lastOf('server', 'EXPOSE')).toBe('8080');
  });

  it('builds with dev dependencies, runs with production ones compiled on the runtime OS', () => {
    const full = npmCiRuns.filter((r) => !/--omit=dev/.test(r.args));
    const prod = npmCiRuns.filter((r) => /--omit=dev/.test(r.args));
    expect(full.length).toBe(1);
    expect(prod.length).toBe(1);
    const build = full[0]!.stage;
    expect(
      build.instructions.some((i) => i.keyword === 'RUN' && /npm run build/.test(i.args)),
    ).toBe(true);
    // better-sqlite3's native binary: same node major and Debian release as the slim runtime
    const deps = prod[0]!.stage;
    for (const target of Object.keys(TARGETS)) {
      expect(`${deps.base}-slim`).toBe(chainOf(target)[0]!.base);
      expect(
        instructionsOf(target).some(
          (i) => i.keyword === 'COPY' && i.args.includes(`--from=${deps.name}`),
        ),
      ).toBe(true);
    }
  });

  it('copies every workspace manifest before each npm ci', () => {
    const workspaces = z
      .object({ workspaces: z.array(z.string()) })
      .parse(JSON.parse(read('package.json'))).workspaces;
    for (const { stage, args } of npmCiRuns) {
      const before = stage.instructions.slice(
        0,
        stage.instructions.findIndex((i) => i.args === args),
      );
      const copied = before
        .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from'))
        .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
      for (const file of [
        'package.json',
        'package-lock.json',
        ...workspaces.map((w) => `${w}/package.json`),
      ]) {
        expect(copied, `${stage.name}: ${file}`).toContain(file);
      }
    }
  });
});

describe('.dockerignore', () => {
  /** Docker's rules: last matching pattern wins, `!` re-includes, a match on a parent counts. */
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negated = l.startsWith('!');
      const glob = path.posix.normalize(negated ? l.slice(1) : l).replace(/^\/+/, '');
      const source = glob
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) => {
          if (part === '**/') return '(?:.*/)?';
          if (part === '**') return '.*';
          if (part === '*') return '[^/]*';
          if (part === '?') return '[^/]';
          return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      return { negated, re: new RegExp(`^${source}$`) };
    });
  const ignored = (file: string): boolean => {
    const parts = file.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let result = false;
    for (const { negated, re } of patterns) {
      if (candidates.some((c) => re.test(c))) result = !negated;
    }
    return result;
  };

  it.each([
    'node_modules/zod/package.json',
    'server/node_modules/x/index.js',
    'core/dist/index.js',
    'server/dist/cli.js',
    'server/tsconfig.tsbuildinfo',
    'web/build/index.html',
    'web/.svelte-kit/tsconfig.json',
    '.git/HEAD',
    'data/expressionist.db',
    'artifacts/vitest.json',
    '.env',
  ])('excludes %s', (file) => expect(ignored(file)).toBe(true));

  it.each([
    'package.json',
    'package-lock.json',
    'tsconfig.base.json',
    'core/package.json',
    'core/tsconfig.json',
    'core/src/index.ts',
    'server/src/cli.ts',
    'agent-node/src/cli.ts',
    'web/package.json',
    'web/svelte.config.js',
    'web/vite.config.ts',
    'web/src/app.html',
    'web/static/favicon.svg',
    'bench/package.json',
  ])('keeps %s', (file) => expect(ignored(file)).toBe(false));
});
