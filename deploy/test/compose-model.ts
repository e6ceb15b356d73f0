/**
 * The compose files as Docker Compose reads them, without a Docker engine: YAML with compose's own
 * tags (`!reset`), `${VAR}` interpolation against .env.example, override merging, and the
 * compose-spec JSON schema and dclint. Shared by the compose, cluster and Dockerfile tests.
 */
import path from 'node:path';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { Ajv } from 'ajv';
import { parse as parseYaml, parseDocument, visit, type CollectionTag, type ScalarTag } from 'yaml';
import { z } from 'zod';
import { ROOT } from '@expressionist/testkit';

export const require = createRequire(import.meta.url);
export const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');
/** A repository path as seen from the repository root, with forward slashes. */
export const rel = (absolute: string): string =>
  path.relative(ROOT, absolute).split(path.sep).join('/');

// ---------------------------------------------------------------------------------------------
// Compose: the subset of the file this test reads (the full file is checked by the JSON schema).

export const EnvironmentSchema = z.union([
  z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  z.array(z.string()),
]);
export const ServiceSchema = z.looseObject({
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
export type Service = z.infer<typeof ServiceSchema>;
export const ComposeSchema = z.looseObject({
  services: z.record(z.string(), ServiceSchema),
  volumes: z.record(z.string(), z.union([z.looseObject({}), z.null()])).optional(),
});

/**
 * Compose's `!reset` tag in an override file (https://docs.docker.com/reference/compose-file/merge/):
 * the attribute is removed from the merged model, whatever the base file set.
 */
export const RESET = Symbol('!reset');
export const composeTags: (ScalarTag | CollectionTag)[] = [
  { tag: '!reset', collection: 'seq', resolve: () => RESET },
  { tag: '!reset', collection: 'map', resolve: () => RESET },
  { tag: '!reset', resolve: () => RESET },
];
export const isMapping = (node: unknown): node is Record<string, unknown> =>
  typeof node === 'object' && node !== null && !Array.isArray(node);

/** A file as written, with its `!reset` attributes left out (as the schema sees it merged). */
export function withoutResets(node: unknown): unknown {
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
export function mergeCompose(base: unknown, override: unknown, at: string[] = []): unknown {
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
export interface Placeholder {
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
export function interpolate(
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
export function interpolateTree(
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
export function environmentOf(service: Service): Record<string, string> {
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

export function healthcheckCommand(service: Service): string[] {
  const test = service.healthcheck?.test;
  if (test === undefined) return [];
  return typeof test === 'string' ? ['CMD-SHELL', test] : test;
}

/** `.env.example`: KEY=value lines, each documented by a comment above its group. */
export function parseEnvExample(text: string): {
  values: Record<string, string>;
  undocumented: string[];
} {
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

export const composeText = read('docker-compose.yml');
export const composeRaw: unknown = parseYaml(composeText, {
  uniqueKeys: true,
  customTags: composeTags,
});
export const envExample = parseEnvExample(read('.env.example'));
export const placeholders: Placeholder[] = [];
/** The file as compose sees it with `cp .env.example .env`. */
export const composeResolved = interpolateTree(composeRaw, envExample.values, placeholders);
export const compose = ComposeSchema.parse(composeResolved);
export const services = compose.services;
export const server = services.server!;
export const agent = services.agent!;
export const mongo = services.mongo!;

/** The cluster override, merged over docker-compose.yml as `docker compose -f … -f …` does. */
export const CLUSTER_FILE = 'docker-compose.cluster.yml';
export const clusterText = read(CLUSTER_FILE);
export const clusterRaw: unknown = parseYaml(clusterText, {
  uniqueKeys: true,
  customTags: composeTags,
});
/**
 * The cluster refuses to start without JWT_SECRET and REDIS_PASSWORD (`${…:?…}`): stand-ins for
 * .env.
 */
export const TEST_JWT_SECRET = 'a-test-secret-of-at-least-32-characters-0123456789';
export const TEST_REDIS_PASSWORD = '0123456789abcdef0123456789abcdef';
export const REQUIRED = { JWT_SECRET: TEST_JWT_SECRET, REDIS_PASSWORD: TEST_REDIS_PASSWORD };
export const clusterVars = { ...envExample.values, ...REQUIRED };
export const clusterPlaceholders: Placeholder[] = [];
export const clusterResolved = interpolateTree(clusterRaw, clusterVars, clusterPlaceholders);
export const cluster = ComposeSchema.parse(mergeCompose(composeResolved, clusterResolved));
export const clusterServices = cluster.services;

// ---------------------------------------------------------------------------------------------
// The compose-spec JSON schema and dclint, for both compose files.

export const schemaPath = path.join(
  path.dirname(require.resolve('dclint/package.json')),
  'schemas/compose.schema.json',
);
export const JsonObject = z.record(z.string(), z.unknown());
export const composeSpec = JsonObject.parse(JSON.parse(readFileSync(schemaPath, 'utf8')));
export const draft07 = JsonObject.parse(require('ajv/dist/refs/json-schema-draft-07.json'));
// The compose-spec names its meta-schema https://json-schema.org/draft-07/schema (no '#').
export const ajv = new Ajv({
  allErrors: true,
  strict: true,
  strictTypes: false,
  allowUnionTypes: true,
});
ajv.addMetaSchema({ ...draft07, $id: String(composeSpec.$schema) });
export const validate = ajv.compile(composeSpec);
export const problems = (doc: unknown): string[] =>
  validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);

/** dclint's findings on one file, as `rule: message` lines. */
export function dclint(file: string, ...flags: string[]): Promise<string[]> {
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
export async function dclintWrittenAndInterpolated(
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
