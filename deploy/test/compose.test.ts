/**
 * The container setup, checked without a Docker engine: docker-compose.yml against the official
 * compose-spec JSON schema (as shipped by the dclint package) and dclint's rules, the Dockerfile's
 * targets against the entry points the test suite runs, every environment variable against what
 * the orchestrator and the agent actually read, .env.example against every ${VAR} placeholder, and
 * .dockerignore against what the image build needs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml, parseDocument, visit } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AGENT_ENV_VARS, AgentEnvSchema } from '../../agent-node/src/env.js';
import { EnvSchema, loadConfig } from '../../server/src/config.js';
import { DEFAULT_WEB_DIR } from '../../server/src/main.js';
import { AGENT_CLI, ROOT, SERVER_CLI } from '@expressionist/testkit';

const require = createRequire(import.meta.url);
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');
/** A repository path as seen from the repository root, with forward slashes. */
const rel = (absolute: string): string => path.relative(ROOT, absolute).split(path.sep).join('/');

// ---------------------------------------------------------------------------------------------
// Compose: the subset of the file this test reads (the full file is checked by the JSON schema).

const EnvironmentSchema = z.union([
  z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  z.array(z.string()),
]);
const ServiceSchema = z.looseObject({
  image: z.string().optional(),
  build: z
    .union([
      z.string(),
      z.looseObject({
        context: z.string().optional(),
        dockerfile: z.string().optional(),
        target: z.string().optional(),
      }),
    ])
    .optional(),
  command: z.unknown().optional(),
  entrypoint: z.unknown().optional(),
  container_name: z.string().optional(),
  hostname: z.string().optional(),
  depends_on: z
    .union([z.array(z.string()), z.record(z.string(), z.looseObject({ condition: z.string() }))])
    .optional(),
  volumes: z.array(z.union([z.string(), z.looseObject({})])).optional(),
  environment: EnvironmentSchema.optional(),
  ports: z.array(z.union([z.string(), z.number(), z.looseObject({})])).optional(),
  restart: z.string().optional(),
  healthcheck: z
    .looseObject({ test: z.union([z.string(), z.array(z.string())]).optional() })
    .optional(),
});
type Service = z.infer<typeof ServiceSchema>;
const ComposeSchema = z.looseObject({
  services: z.record(z.string(), ServiceSchema),
  volumes: z.record(z.string(), z.union([z.looseObject({}), z.null()])).optional(),
});

/** One `${...}` placeholder of the compose file. */
interface Placeholder {
  name: string;
  /** The value used when the variable is unset (or empty, for `:-`). */
  fallback: string | undefined;
}

/**
 * Compose's interpolation (https://docs.docker.com/reference/compose-file/interpolation/) for the
 * forms a compose file may use: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}`, `${VAR?error}`, `${VAR:+replacement}`, `${VAR+replacement}`. Nested
 * placeholders in defaults are refused (this file has none); so is a stray `$`.
 */
function interpolate(
  text: string,
  vars: Record<string, string>,
  found: Placeholder[] = [],
): string {
  return text.replace(
    /\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$/g,
    (token, braced: string | undefined, bare: string | undefined) => {
      if (token === '$$') return '$';
      if (bare !== undefined) {
        found.push({ name: bare, fallback: undefined });
        return vars[bare] ?? '';
      }
      if (braced === undefined) throw new Error(`stray "$" in ${JSON.stringify(text)}`);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?|:\+|\+)(.*))?$/s.exec(braced);
      if (!m) throw new Error(`invalid placeholder ${token}`);
      const [, name = '', op, arg = ''] = m;
      if (arg.includes('$')) throw new Error(`nested placeholder in ${token}`);
      const value = vars[name];
      const unset = value === undefined;
      const empty = unset || value === '';
      switch (op) {
        case undefined:
          found.push({ name, fallback: undefined });
          return value ?? '';
        case ':-':
          found.push({ name, fallback: arg });
          return empty ? arg : value!;
        case '-':
          found.push({ name, fallback: arg });
          return unset ? arg : value;
        case ':?':
        case '?':
          found.push({ name, fallback: undefined });
          if (op === ':?' ? empty : unset) throw new Error(`${name}: ${arg}`);
          return value!;
        default:
          // ':+' / '+': the replacement when set
          found.push({ name, fallback: '' });
          return (op === ':+' ? empty : unset) ? '' : arg;
      }
    },
  );
}

/** Compose interpolates values, never keys. */
function interpolateTree(
  node: unknown,
  vars: Record<string, string>,
  found: Placeholder[],
): unknown {
  if (typeof node === 'string') return interpolate(node, vars, found);
  if (Array.isArray(node)) return node.map((item) => interpolateTree(item, vars, found));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, interpolateTree(value, vars, found)]),
    );
  }
  return node;
}

/** A service's `environment:` as a map; a bare `KEY` (pass-through from the shell) is refused. */
function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  const entries = Array.isArray(env)
    ? env.map((line) => {
        const eq = line.indexOf('=');
        if (eq < 0) throw new Error(`pass-through variable ${line}: set a value`);
        return [line.slice(0, eq), line.slice(eq + 1)] as const;
      })
    : Object.entries(env).map(([key, value]) => {
        if (value === null) throw new Error(`pass-through variable ${key}: set a value`);
        return [key, String(value)] as const;
      });
  return Object.fromEntries(entries);
}

function healthcheckCommand(service: Service): string[] {
  const test = service.healthcheck?.test;
  if (test === undefined) return [];
  return typeof test === 'string' ? ['CMD-SHELL', test] : test;
}

/** `.env.example`: KEY=value lines, each documented by a comment above its group. */
function parseEnvExample(text: string): { values: Record<string, string>; undocumented: string[] } {
  const values: Record<string, string> = {};
  const undocumented: string[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`.env.example line ${index + 1}: not KEY=value: ${raw}`);
    const [, key = '', value = ''] = m;
    if (key in values) throw new Error(`.env.example: ${key} twice`);
    values[key] = value;
    let above = index - 1;
    while (above >= 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(lines[above]!.trim())) above -= 1;
    if (above < 0 || !lines[above]!.trim().startsWith('#')) undocumented.push(key);
  });
  return { values, undocumented };
}

const composeText = read('docker-compose.yml');
const composeRaw: unknown = parseYaml(composeText, { uniqueKeys: true });
const envExample = parseEnvExample(read('.env.example'));
const placeholders: Placeholder[] = [];
/** The file as compose sees it with `cp .env.example .env`. */
const composeResolved = interpolateTree(composeRaw, envExample.values, placeholders);
const compose = ComposeSchema.parse(composeResolved);
const services = compose.services;
const server = services.server!;
const agent = services.agent!;
const mongo = services.mongo!;

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

/** Instructions with line continuations joined; comments and parser directives dropped. */
function parseDockerfile(text: string): { stages: Stage[]; globalArgs: Record<string, string> } {
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

const dockerfileText = read('Dockerfile');
const { stages } = parseDockerfile(dockerfileText);
const stageNamed = (name: string): Stage => {
  const stage = stages.find((s) => s.name === name);
  if (!stage) throw new Error(`Dockerfile has no stage ${name}`);
  return stage;
};
/** The stages a target is built from, base first (FROM <stage> chains). */
function chainOf(name: string): Stage[] {
  const stage = stageNamed(name);
  const parent = stages.find((s) => s.name === stage.base.toLowerCase());
  return parent?.name ? [...chainOf(parent.name), stage] : [stage];
}
const instructionsOf = (target: string): Instruction[] =>
  chainOf(target).flatMap((stage) => stage.instructions);
const lastOf = (target: string, keyword: string): string | undefined =>
  instructionsOf(target)
    .filter((i) => i.keyword === keyword)
    .at(-1)?.args;
/** Where a target's files land: COPY destinations resolved against its WORKDIR. */
function copiedInto(target: string): string[] {
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
const workdirOf = (target: string): string => {
  const dir = lastOf(target, 'WORKDIR');
  if (!dir) throw new Error(`${target}: no WORKDIR`);
  return dir;
};
/** `npm ci` runs of the whole file, with the stage they are in. */
const npmCiRuns = stages.flatMap((stage) =>
  stage.instructions
    .filter((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))
    .map((i) => ({ stage, args: i.args })),
);

const TARGETS = { server: rel(SERVER_CLI), agent: rel(AGENT_CLI) } as const;

// ---------------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  const schemaPath = path.join(
    path.dirname(require.resolve('dclint/package.json')),
    'schemas/compose.schema.json',
  );
  const JsonObject = z.record(z.string(), z.unknown());
  const composeSpec = JsonObject.parse(JSON.parse(readFileSync(schemaPath, 'utf8')));
  const draft07 = JsonObject.parse(require('ajv/dist/refs/json-schema-draft-07.json'));
  // The compose-spec names its meta-schema https://json-schema.org/draft-07/schema (no '#').
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
  ajv.addMetaSchema({ ...draft07, $id: String(composeSpec.$schema) });
  const validate = ajv.compile(composeSpec);

  it('is the official compose-spec schema', () => {
    expect(composeSpec.title).toBe('Compose Specification');
    expect(composeSpec.$id).toBe('compose_spec.json');
  });

  it('validates against the compose-spec JSON schema, as written and interpolated', () => {
    const problems = (doc: unknown): string[] =>
      validate(doc)
        ? []
        : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
    expect(problems(composeRaw)).toEqual([]);
    expect(problems(composeResolved)).toEqual([]);
    // and the validator does reject a broken file
    expect(problems({ services: { agent: { image: 'x', container_nam: 'y' } } })).not.toEqual([]);
  });

  it('passes dclint, as written and interpolated with .env.example', async () => {
    const dclint = path.join(
      path.dirname(require.resolve('dclint/package.json')),
      'bin/dclint.cjs',
    );
    const lint = (file: string, ...flags: string[]) =>
      new Promise<string[]>((resolve, reject) => {
        execFile(
          process.execPath,
          [dclint, file, '-f', 'json', '--max-warnings', '0', ...flags],
          { cwd: path.dirname(file) },
          (err, stdout) => {
            try {
              const report = z
                .array(
                  z.object({
                    messages: z.array(z.object({ rule: z.string(), message: z.string() })),
                  }),
                )
                .parse(JSON.parse(stdout));
              resolve(report.flatMap((r) => r.messages.map((m) => `${m.rule}: ${m.message}`)));
            } catch (parseError) {
              reject(err ?? parseError);
            }
          },
        );
      });
    // Literal placeholders are not addresses: the bound interface is checked after interpolation.
    expect(
      await lint(
        path.join(ROOT, 'docker-compose.yml'),
        '--disable-rule',
        'no-unbound-port-interfaces',
      ),
    ).toEqual([]);
    const doc = parseDocument(composeText);
    visit(doc, {
      Scalar(_key, node) {
        if (typeof node.value === 'string') node.value = interpolate(node.value, envExample.values);
      },
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'expr-compose-'));
    try {
      writeFileSync(path.join(dir, 'docker-compose.yml'), doc.toString());
      expect(await lint(path.join(dir, 'docker-compose.yml'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('documents every ${VAR} in .env.example, with the same defaults', () => {
    const names = [...new Set(placeholders.map((p) => p.name))].sort();
    expect(names.length).toBeGreaterThan(0);
    expect(Object.keys(envExample.values).sort()).toEqual(names);
    expect(envExample.undocumented).toEqual([]);
    for (const p of placeholders) {
      expect(p.fallback, `${p.name} needs a default in the compose file`).toBeDefined();
      expect(envExample.values[p.name], `.env.example ${p.name}`).toBe(p.fallback);
    }
    // so `cp .env.example .env` and no .env at all give the same configuration
    expect(interpolateTree(composeRaw, {}, [])).toEqual(composeResolved);
  });

  it('has the services mongo, server and agent, each with a restart policy', () => {
    expect(Object.keys(services).sort()).toEqual(['agent', 'mongo', 'server']);
    for (const [name, service] of Object.entries(services)) {
      expect(['always', 'unless-stopped'], name).toContain(service.restart);
    }
  });

  it('mongo: official image, named volume, mongosh ping healthcheck', () => {
    expect(mongo.image).toBe('mongo:7');
    expect(mongo.volumes).toContain('mongo-data:/data/db');
    expect(compose.volumes).toHaveProperty('mongo-data');
    expect(healthcheckCommand(mongo)).toEqual([
      'CMD',
      'mongosh',
      '--quiet',
      '--eval',
      "db.adminCommand('ping').ok",
    ]);
  });

  it('server: built image, healthy mongo first, /healthz healthcheck on the published port', () => {
    expect(server.build).toMatchObject({
      context: '.',
      dockerfile: 'Dockerfile',
      target: 'server',
    });
    expect(server.command).toBeUndefined();
    expect(server.entrypoint).toBeUndefined();
    expect(server.depends_on).toEqual({ mongo: { condition: 'service_healthy' } });
    const env = environmentOf(server);
    expect(env.MONGODB_URI).toBe('mongodb://mongo:27017');
    expect(env.AGENTS).toBe('0');
    expect(server.ports).toEqual([`127.0.0.1:8080:${env.PORT}`]);
    const health = healthcheckCommand(server);
    expect(health[0]).toBe('CMD');
    expect(health.join(' ')).toContain(`http://127.0.0.1:${env.PORT}/healthz`);
  });

  it('agent: built image, talks to the server service, scalable (no name, no ports)', () => {
    expect(agent.build).toMatchObject({ context: '.', dockerfile: 'Dockerfile', target: 'agent' });
    expect(agent.command).toBeUndefined();
    expect(agent.entrypoint).toBeUndefined();
    expect(agent.depends_on).toEqual({ server: { condition: 'service_healthy' } });
    expect(agent.container_name).toBeUndefined();
    expect(agent.hostname).toBeUndefined();
    expect(agent.ports).toBeUndefined();
    const env = environmentOf(agent);
    // one AGENT_NAME for every replica would make them indistinguishable on the dashboard
    expect(env).not.toHaveProperty('AGENT_NAME');
    expect(env.ORCHESTRATOR_URL).toBe(`http://server:${environmentOf(server).PORT}`);
  });

  it('sets for the server only variables of its EnvSchema, and they load', () => {
    const env = environmentOf(server);
    const known = Object.keys(EnvSchema.shape);
    for (const key of Object.keys(env)) expect(known, `server ${key}`).toContain(key);
    const config = loadConfig(env);
    expect(config.port).toBe(8080);
    expect(config.agents).toBe(0);
    expect(config.mongodbUri).toBe('mongodb://mongo:27017');
  });

  it('sets for the agent only variables its CLI reads, and they parse', () => {
    const env = environmentOf(agent);
    for (const key of Object.keys(env)) expect(AGENT_ENV_VARS, `agent ${key}`).toContain(key);
    expect(AgentEnvSchema.safeParse(env).success).toBe(true);
    const power = Number(env.COMPUTING_POWER);
    expect(Number.isInteger(power) && power >= 1 && power <= 256).toBe(true);
    expect(new URL(env.ORCHESTRATOR_URL!).protocol).toBe('http:');
  });
});

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
