/**
 * docker-compose.cluster.yml (an override of docker-compose.yml) and the cluster's nginx
 * configuration, checked without a Docker engine against the services they front.
 */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERROR_CODES } from '@expressionist/core';
import { AGENT_ENV_VARS, AgentEnvSchema } from '../../agent-node/src/env.js';
import { EnvSchema, loadConfig } from '../../server/src/config.js';
import { ROOT } from '@expressionist/testkit';
import {
  read,
  withoutResets,
  mergeCompose,
  interpolateTree,
  environmentOf,
  healthcheckCommand,
  composeRaw,
  envExample,
  composeResolved,
  server,
  CLUSTER_FILE,
  clusterText,
  clusterRaw,
  TEST_JWT_SECRET,
  TEST_REDIS_PASSWORD,
  clusterVars,
  clusterResolved,
  cluster,
  clusterServices,
  problems,
  dclintWrittenAndInterpolated,
} from './compose-model.js';
import {
  type NginxDirective,
  parseNginx,
  allNamed,
  oneNamed,
  effective,
  nginxSeconds,
  nginxBytes,
  NGINX_CONF,
} from './nginx-model.js';

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
    if (nginx.status !== 0) console.log('compose: `nginx -t` skipped: no nginx installed here');
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
