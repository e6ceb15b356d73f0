/**
 * The container setup, checked without a Docker engine: docker-compose.yml and the cluster override
 * docker-compose.cluster.yml against the official compose-spec JSON schema (as shipped by the
 * dclint package) and dclint's rules, the Dockerfile's targets against the entry points the test
 * suite runs, every environment variable against what the orchestrator and the agent actually
 * read, .env.example against every ${VAR} placeholder, the cluster's nginx configuration against
 * the services it fronts, and .dockerignore against what the image build needs.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml, parseDocument, visit, type CollectionTag, type ScalarTag } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERROR_CODES } from '@expressionist/core';
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
  deploy: z.looseObject({ replicas: z.union([z.string(), z.number()]).optional() }).optional(),
  healthcheck: z
    .looseObject({ test: z.union([z.string(), z.array(z.string())]).optional() })
    .optional(),
});
type Service = z.infer<typeof ServiceSchema>;
const ComposeSchema = z.looseObject({
  services: z.record(z.string(), ServiceSchema),
  volumes: z.record(z.string(), z.union([z.looseObject({}), z.null()])).optional(),
});

/**
 * Compose's `!reset` tag in an override file (https://docs.docker.com/reference/compose-file/merge/):
 * the attribute is removed from the merged model, whatever the base file set.
 */
const RESET = Symbol('!reset');
const composeTags: (ScalarTag | CollectionTag)[] = [
  { tag: '!reset', collection: 'seq', resolve: () => RESET },
  { tag: '!reset', collection: 'map', resolve: () => RESET },
  { tag: '!reset', resolve: () => RESET },
];
const isMapping = (node: unknown): node is Record<string, unknown> =>
  typeof node === 'object' && node !== null && !Array.isArray(node);

/** A file as written, with its `!reset` attributes left out (as the schema sees it merged). */
function withoutResets(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutResets);
  if (!isMapping(node)) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([, value]) => value !== RESET)
      .map(([key, value]) => [key, withoutResets(value)]),
  );
}

/**
 * Compose's merge of an override file into a base: mappings merge key by key, `!reset` removes a
 * key, sequences are appended to (without duplicates) except `command`, `entrypoint` and
 * `healthcheck.test`, which are replaced, and any other value is replaced.
 */
function mergeCompose(base: unknown, override: unknown, at: string[] = []): unknown {
  if (isMapping(base) && isMapping(override)) {
    const keys = new Set([...Object.keys(base), ...Object.keys(override)]);
    return Object.fromEntries(
      [...keys].flatMap((key): [string, unknown][] => {
        if (!(key in override)) return [[key, base[key]]];
        const value = override[key];
        if (value === RESET) return [];
        const merged = key in base ? mergeCompose(base[key], value, [...at, key]) : value;
        return [[key, withoutResets(merged)]];
      }),
    );
  }
  const last = at.at(-1) ?? '';
  const replaced =
    last === 'command' || last === 'entrypoint' || at.slice(-2).join('.') === 'healthcheck.test';
  if (Array.isArray(base) && Array.isArray(override) && !replaced) {
    const seen = new Set(base.map((item) => JSON.stringify(item)));
    return [...base, ...override.filter((item) => !seen.has(JSON.stringify(item)))];
  }
  return withoutResets(override);
}

/** One `${...}` placeholder of a compose file. */
interface Placeholder {
  name: string;
  /** The value used when the variable is unset (or empty, for `:-`). */
  fallback: string | undefined;
  /** `${VAR:?error}` / `${VAR?error}`: no default, Compose refuses to run without it. */
  required?: true;
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
          found.push({ name, fallback: undefined, required: true });
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
  if (node === RESET) return node;
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
const composeRaw: unknown = parseYaml(composeText, { uniqueKeys: true, customTags: composeTags });
const envExample = parseEnvExample(read('.env.example'));
const placeholders: Placeholder[] = [];
/** The file as compose sees it with `cp .env.example .env`. */
const composeResolved = interpolateTree(composeRaw, envExample.values, placeholders);
const compose = ComposeSchema.parse(composeResolved);
const services = compose.services;
const server = services.server!;
const agent = services.agent!;
const mongo = services.mongo!;

/** The cluster override, merged over docker-compose.yml as `docker compose -f … -f …` does. */
const CLUSTER_FILE = 'docker-compose.cluster.yml';
const clusterText = read(CLUSTER_FILE);
const clusterRaw: unknown = parseYaml(clusterText, { uniqueKeys: true, customTags: composeTags });
/**
 * The cluster refuses to start without JWT_SECRET and REDIS_PASSWORD (`${…:?…}`): stand-ins for
 * .env.
 */
const TEST_JWT_SECRET = 'a-test-secret-of-at-least-32-characters-0123456789';
const TEST_REDIS_PASSWORD = '0123456789abcdef0123456789abcdef';
const REQUIRED = { JWT_SECRET: TEST_JWT_SECRET, REDIS_PASSWORD: TEST_REDIS_PASSWORD };
const clusterVars = { ...envExample.values, ...REQUIRED };
const clusterPlaceholders: Placeholder[] = [];
const clusterResolved = interpolateTree(clusterRaw, clusterVars, clusterPlaceholders);
const cluster = ComposeSchema.parse(mergeCompose(composeResolved, clusterResolved));
const clusterServices = cluster.services;

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

// ---------------------------------------------------------------------------------------------
// The compose-spec JSON schema and dclint, for both compose files.

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
const problems = (doc: unknown): string[] =>
  validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);

/** dclint's findings on one file, as `rule: message` lines. */
function dclint(file: string, ...flags: string[]): Promise<string[]> {
  const bin = path.join(path.dirname(require.resolve('dclint/package.json')), 'bin/dclint.cjs');
  return new Promise<string[]>((resolve, reject) => {
    execFile(
      process.execPath,
      [bin, file, '-f', 'json', '--max-warnings', '0', ...flags],
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
}

/**
 * dclint on a compose file as written (literal placeholders are not addresses: the bound interface
 * is checked after interpolation) and on a copy interpolated with `vars`.
 */
async function dclintWrittenAndInterpolated(
  file: string,
  text: string,
  vars: Record<string, string>,
): Promise<{ written: string[]; interpolated: string[] }> {
  const written = await dclint(
    path.join(ROOT, file),
    '--disable-rule',
    'no-unbound-port-interfaces',
  );
  const doc = parseDocument(text);
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string') node.value = interpolate(node.value, vars);
    },
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'expr-compose-'));
  try {
    writeFileSync(path.join(dir, file), doc.toString());
    return { written, interpolated: await dclint(path.join(dir, file)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('docker-compose.yml', () => {
  it('is the official compose-spec schema', () => {
    expect(composeSpec.title).toBe('Compose Specification');
    expect(composeSpec.$id).toBe('compose_spec.json');
  });

  it('validates against the compose-spec JSON schema, as written and interpolated', () => {
    expect(problems(composeRaw)).toEqual([]);
    expect(problems(composeResolved)).toEqual([]);
    // and the validator does reject a broken file
    expect(problems({ services: { agent: { image: 'x', container_nam: 'y' } } })).not.toEqual([]);
  });

  it('passes dclint, as written and interpolated with .env.example', async () => {
    expect(
      await dclintWrittenAndInterpolated('docker-compose.yml', composeText, envExample.values),
    ).toEqual({ written: [], interpolated: [] });
  });

  it('documents every ${VAR} of both compose files in .env.example, with the same defaults', () => {
    const all = [...placeholders, ...clusterPlaceholders];
    const names = [...new Set(all.map((p) => p.name))].sort();
    expect(names.length).toBeGreaterThan(0);
    expect(Object.keys(envExample.values).sort()).toEqual(names);
    expect(envExample.undocumented).toEqual([]);
    for (const p of placeholders) {
      expect(p.fallback, `${p.name} needs a default in the compose file`).toBeDefined();
      expect(envExample.values[p.name], `.env.example ${p.name}`).toBe(p.fallback);
    }
    // A variable required anywhere (JWT_SECRET, REDIS_PASSWORD) is required everywhere it is used.
    const required = new Set(clusterPlaceholders.filter((p) => p.required).map((p) => p.name));
    for (const p of clusterPlaceholders) {
      // a required one is listed in .env.example, empty
      if (required.has(p.name))
        expect(envExample.values, `.env.example ${p.name}`).toHaveProperty(p.name);
      else expect(envExample.values[p.name], `.env.example ${p.name}`).toBe(p.fallback);
    }
    // so `cp .env.example .env` and no .env at all give the same configuration
    expect(interpolateTree(composeRaw, {}, [])).toEqual(composeResolved);
    expect(interpolateTree(clusterRaw, REQUIRED, [])).toEqual(clusterResolved);
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

// ---------------------------------------------------------------------------------------------
// deploy/cluster/nginx.conf: the cluster's load balancer (service `lb`).

interface NginxDirective {
  name: string;
  args: string[];
  block?: NginxDirective[];
}

/** nginx's configuration syntax: directives ending in `;` or a `{ … }` block, `#` comments. */
function parseNginx(text: string): NginxDirective[] {
  const root: NginxDirective[] = [];
  const stack = [root];
  let words: string[] = [];
  const token = /\s+|#[^\n]*|'([^']*)'|"([^"]*)"|([{};])|([^\s{};'"#]+)/gy;
  let m: RegExpExecArray | null;
  while ((m = token.exec(text)) !== null) {
    const [, single, double, punct, word] = m;
    const top = stack.at(-1)!;
    if (punct === ';') {
      if (words.length === 0) throw new Error('nginx.conf: empty directive');
      top.push({ name: words[0]!, args: words.slice(1) });
      words = [];
    } else if (punct === '{') {
      if (words.length === 0) throw new Error('nginx.conf: block without a name');
      const block: NginxDirective[] = [];
      top.push({ name: words[0]!, args: words.slice(1), block });
      stack.push(block);
      words = [];
    } else if (punct === '}') {
      if (words.length > 0 || stack.length === 1) throw new Error('nginx.conf: unexpected }');
      stack.pop();
    } else if (single !== undefined || double !== undefined || word !== undefined) {
      words.push(single ?? double ?? word!);
    }
  }
  if (token.lastIndex !== 0 && token.lastIndex !== text.length)
    throw new Error('nginx.conf: syntax');
  if (stack.length !== 1 || words.length > 0) throw new Error('nginx.conf: unclosed block');
  return root;
}

const allNamed = (block: NginxDirective[], name: string): NginxDirective[] =>
  block.filter((d) => d.name === name);
function oneNamed(block: NginxDirective[], name: string, ...args: string[]): NginxDirective {
  const found = allNamed(block, name).filter((d) => args.every((a, i) => d.args[i] === a));
  if (found.length !== 1)
    throw new Error(`nginx.conf: ${found.length} × ${[name, ...args].join(' ')}`);
  return found[0]!;
}
/** A directive as a location sees it: its own, else its server's, else http's (nginx inheritance). */
function effective(levels: NginxDirective[][], name: string): NginxDirective[] {
  for (const level of [...levels].reverse()) {
    const found = allNamed(level, name);
    if (found.length > 0) return found;
  }
  return [];
}
/** nginx time (`1h`, `60s`, `500ms`, `30`) in seconds. */
function nginxSeconds(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value);
  if (!m) throw new Error(`not an nginx time: ${value}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] ?? 's']!;
  return Number(m[1]) * unit;
}
/** nginx size (`2m`, `512k`, `1024`) in bytes. */
function nginxBytes(value: string): number {
  const m = /^(\d+)([kKmMgG])?$/.exec(value);
  if (!m) throw new Error(`not an nginx size: ${value}`);
  return Number(m[1]) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()]!;
}

const NGINX_CONF = 'deploy/cluster/nginx.conf';

describe('docker-compose.cluster.yml (override of docker-compose.yml)', () => {
  const lb = clusterServices.lb!;
  const redis = clusterServices.redis!;
  const replicas = clusterServices.server!;
  const clusterAgent = clusterServices.agent!;
  /** The port nginx listens on inside lb: the container side of its published port. */
  const lbPort = String(lb.ports?.[0] ?? '')
    .split(':')
    .at(-1)!;

  it('validates against the compose-spec JSON schema: as written, interpolated and merged', () => {
    expect(problems(withoutResets(clusterRaw))).toEqual([]);
    expect(problems(withoutResets(clusterResolved))).toEqual([]);
    expect(problems(mergeCompose(composeResolved, clusterResolved))).toEqual([]);
  });

  it('passes dclint, as written and interpolated with .env.example and the required secrets', async () => {
    expect(await dclintWrittenAndInterpolated(CLUSTER_FILE, clusterText, clusterVars)).toEqual({
      written: [],
      interpolated: [],
    });
  });

  it('refuses to start without JWT_SECRET or REDIS_PASSWORD (the single-server file needs neither)', () => {
    expect(() =>
      interpolateTree(clusterRaw, { ...envExample.values, REDIS_PASSWORD: 'x' }, []),
    ).toThrow(/^JWT_SECRET: /);
    expect(() =>
      interpolateTree(clusterRaw, { ...envExample.values, JWT_SECRET: TEST_JWT_SECRET }, []),
    ).toThrow(/^REDIS_PASSWORD: /);
    expect(envExample.values.JWT_SECRET).toBe('');
    expect(envExample.values.REDIS_PASSWORD).toBe('');
    expect(() => interpolateTree(composeRaw, envExample.values, [])).not.toThrow();
  });

  it('adds redis and lb; every service has a restart policy; only lb publishes a port', () => {
    expect(Object.keys(clusterServices).sort()).toEqual([
      'agent',
      'lb',
      'mongo',
      'redis',
      'server',
    ]);
    for (const [name, service] of Object.entries(clusterServices)) {
      expect(['always', 'unless-stopped'], name).toContain(service.restart);
      if (name !== 'lb') expect(service.ports, name).toBeUndefined();
    }
  });

  it('redis: official image, nothing persisted, a required password, redis-cli ping healthcheck', () => {
    expect(redis.image).toBe('redis:7');
    expect(redis.command).toEqual([
      'redis-server',
      '--save',
      '',
      '--appendonly',
      'no',
      '--requirepass',
      TEST_REDIS_PASSWORD,
    ]);
    // redis-cli (the healthcheck) authenticates from REDISCLI_AUTH.
    expect(environmentOf(redis).REDISCLI_AUTH).toBe(TEST_REDIS_PASSWORD);
    expect(redis.volumes).toBeUndefined();
    expect(healthcheckCommand(redis)).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('server: scalable replicas without a published port, healthy mongo and redis first, /readyz', () => {
    expect(replicas.build).toEqual(server.build);
    expect(replicas.ports).toBeUndefined();
    expect(replicas.container_name).toBeUndefined();
    expect(replicas.hostname).toBeUndefined();
    expect(replicas.deploy?.replicas).toBe(envExample.values.SERVER_REPLICAS);
    expect(Number(envExample.values.SERVER_REPLICAS)).toBeGreaterThanOrEqual(2);
    expect(replicas.restart).toBe('unless-stopped');
    expect(replicas.depends_on).toEqual({
      mongo: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    const health = healthcheckCommand(replicas);
    expect(health[0]).toBe('CMD');
    expect(health.join(' ')).toContain(`http://127.0.0.1:${environmentOf(replicas).PORT}/readyz`);
  });

  it('server: only EnvSchema variables, loading in cluster mode with Redis and a shared secret', () => {
    const env = environmentOf(replicas);
    const known = Object.keys(EnvSchema.shape);
    for (const key of Object.keys(env)) expect(known, `server ${key}`).toContain(key);
    const config = loadConfig(env);
    expect(config.cluster).toEqual({
      redisUrl: `redis://:${TEST_REDIS_PASSWORD}@redis:6379`,
      advertiseUrl: undefined,
      leaseMs: Number(envExample.values.LEADER_LEASE_MS),
    });
    expect(config.auth.jwtSecret).toBe(TEST_JWT_SECRET);
    expect(config.mongodbUri).toBe('mongodb://mongo:27017');
    expect(config.agents).toBe(0);
    // REDIS_URL names the redis service on the port it listens on (no --port in its command)
    const redisUrl = new URL(env.REDIS_URL!);
    expect(clusterServices[redisUrl.hostname]?.image).toMatch(/^redis:/);
    expect(redisUrl.port).toBe('6379');
    // with the password Redis requires
    expect(redisUrl.password).toBe(TEST_REDIS_PASSWORD);
    // and the orchestrator itself refuses REDIS_URL without a JWT_SECRET
    expect(() => loadConfig({ ...env, JWT_SECRET: '' })).toThrow(/JWT_SECRET/);
  });

  it('server: trusts X-Forwarded-For from the Compose network only (its fixed subnet)', () => {
    const network = z
      .object({
        networks: z.object({
          default: z.object({
            ipam: z.object({ config: z.array(z.object({ subnet: z.string() })).length(1) }),
          }),
        }),
      })
      .parse(cluster);
    const subnet = network.networks.default.ipam.config[0]!.subnet;
    expect(subnet).toBe(envExample.values.CLUSTER_SUBNET);
    expect(loadConfig(environmentOf(replicas)).trustedProxies).toEqual([subnet]);
  });

  it('lb: pinned nginx on the address the single server published, deploy/cluster/nginx.conf', () => {
    expect(lb.image).toMatch(/^nginx:\d+\.\d+(\.\d+)?-alpine$/);
    expect(lb.ports).toEqual(server.ports);
    expect(lb.volumes).toEqual([`./${NGINX_CONF}:/etc/nginx/nginx.conf:ro`]);
    expect(existsSync(path.join(ROOT, NGINX_CONF))).toBe(true);
    expect(lb.depends_on).toEqual({ server: { condition: 'service_healthy' } });
    expect(healthcheckCommand(lb)).toEqual([
      'CMD',
      'wget',
      '-q',
      '-O',
      '/dev/null',
      `http://127.0.0.1:${lbPort}/healthz`,
    ]);
  });

  it('agent: connects through lb, after it is healthy', () => {
    const env = environmentOf(clusterAgent);
    expect(env.ORCHESTRATOR_URL).toBe(`http://lb:${lbPort}`);
    expect(clusterAgent.depends_on).toEqual({
      server: { condition: 'service_healthy' },
      lb: { condition: 'service_healthy' },
    });
    for (const key of Object.keys(env)) expect(AGENT_ENV_VARS, `agent ${key}`).toContain(key);
    expect(AgentEnvSchema.safeParse(env).success).toBe(true);
  });

  describe(NGINX_CONF, () => {
    const conf = parseNginx(read(NGINX_CONF));
    const http = oneNamed(conf, 'http').block!;
    const site = oneNamed(http, 'server').block!;
    const locations = allNamed(site, 'location');
    const sockets = oneNamed(site, 'location', '/socket.io/').block!;
    const proxied = locations.filter((l) => l.block?.some((d) => d.name === 'proxy_pass'));
    const headers = (block: NginxDirective[]): Record<string, string> =>
      Object.fromEntries(
        effective([http, site, block], 'proxy_set_header').map((d) => [
          d.args[0]!.toLowerCase(),
          d.args.slice(1).join(' '),
        ]),
      );

    it('listens on the port lb publishes, with room for many sockets', () => {
      expect(oneNamed(site, 'listen').args).toEqual([lbPort]);
      const events = oneNamed(conf, 'events').block!;
      expect(Number(oneNamed(events, 'worker_connections').args[0])).toBeGreaterThanOrEqual(4096);
    });

    it('finds replicas through Docker DNS at request time, so scaled and restarted ones count', () => {
      const resolver = oneNamed(http, 'resolver').args;
      expect(resolver[0]).toBe('127.0.0.11');
      expect(resolver).toContain('ipv6=off');
      const valid = resolver.find((a) => a.startsWith('valid='));
      expect(valid).toBeDefined();
      expect(nginxSeconds(valid!.slice('valid='.length))).toBeLessThanOrEqual(30);
      // a static upstream{} would be resolved once, at start-up
      expect(allNamed(http, 'upstream')).toEqual([]);
      expect(proxied.map((l) => l.args[0]).sort()).toEqual(['/', '/socket.io/']);
      const [, variable, value] = /^set \$(\w+) (\S+)$/.exec(
        ['set', ...oneNamed(site, 'set').args].join(' '),
      )!;
      expect(clusterServices).toHaveProperty(value!);
      expect(value).toBe('server');
      for (const location of proxied) {
        expect(oneNamed(location.block!, 'proxy_pass').args).toEqual([
          `http://$${variable}:${environmentOf(replicas).PORT}`,
        ]);
      }
    });

    it('passes WebSocket upgrades through, and keeps sockets open for an hour', () => {
      const map = oneNamed(http, 'map', '$http_upgrade', '$connection_upgrade').block!;
      expect(map.map((d) => [d.name, ...d.args])).toEqual([
        ['default', 'upgrade'],
        ['', 'close'],
      ]);
      for (const location of proxied) {
        expect(effective([http, site, location.block!], 'proxy_http_version')[0]?.args).toEqual([
          '1.1',
        ]);
        expect(headers(location.block!)).toMatchObject({
          upgrade: '$http_upgrade',
          connection: '$connection_upgrade',
        });
      }
      for (const name of ['proxy_read_timeout', 'proxy_send_timeout']) {
        const [timeout] = effective([http, site, sockets], name);
        expect(nginxSeconds(timeout!.args[0]!), name).toBeGreaterThanOrEqual(3600);
      }
    });

    it('forwards the client address (replacing any the client sent) and the Host the browser used', () => {
      for (const location of proxied) {
        expect(headers(location.block!)).toMatchObject({
          // Not $proxy_add_x_forwarded_for: the replicas trust this network's header, so a
          // client's own X-Forwarded-For must not reach them.
          'x-forwarded-for': '$remote_addr',
          host: '$http_host',
        });
      }
    });

    it('takes bodies up to BODY_LIMIT_BYTES and refuses bigger ones as the orchestrator does', () => {
      const limit = EnvSchema.shape.BODY_LIMIT_BYTES.parse(undefined);
      expect(nginxBytes(oneNamed(site, 'client_max_body_size').args[0]!)).toBe(limit);
      const [, target] = oneNamed(site, 'error_page').args;
      expect(oneNamed(site, 'error_page').args[0]).toBe('413');
      const refusal = oneNamed(oneNamed(site, 'location', target!).block!, 'return').args;
      expect(refusal[0]).toBe('413');
      expect(JSON.parse(refusal[1]!)).toEqual({
        error: { code: 'BODY_TOO_LARGE', message: ERROR_CODES.BODY_TOO_LARGE.message },
      });
    });

    const nginx = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
    it.runIf(nginx.status === 0)('passes `nginx -t` (when nginx is installed here)', () => {
      // Only what cannot work outside the container changes: the user, the pid, log and temp
      // paths (Docker's DNS address is not queried by nginx -t).
      const dir = mkdtempSync(path.join(tmpdir(), 'expr-nginx-'));
      try {
        const text = read(NGINX_CONF)
          .replace(/^user .*;$/m, '')
          .replace(/^pid .*;$/m, `pid ${dir}/nginx.pid;`)
          .replaceAll('/var/log/nginx/', `${dir}/`)
          .replace(
            /^http \{$/m,
            `http {\n${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
              .map((t) => `${t}_temp_path ${dir}/${t};`)
              .join('\n')}`,
          );
        writeFileSync(path.join(dir, 'nginx.conf'), text);
        const test = spawnSync(
          'nginx',
          ['-t', '-q', '-p', dir, '-c', path.join(dir, 'nginx.conf')],
          {
            encoding: 'utf8',
          },
        );
        expect(test.stderr).toBe('');
        expect(test.status).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
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
