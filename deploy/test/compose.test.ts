/**
 * docker-compose.yml, checked without a Docker engine: the compose-spec JSON schema and dclint,
 * .env.example against every ${VAR} placeholder of both compose files, and every environment
 * variable against what the orchestrator and the agent actually read.
 */
import { describe, expect, it } from 'vitest';
import { AGENT_ENV_VARS, AgentEnvSchema } from '../../agent-node/src/env.js';
import { EnvSchema, loadConfig } from '../../server/src/config.js';
import {
  interpolateTree,
  environmentOf,
  healthcheckCommand,
  composeText,
  composeRaw,
  envExample,
  placeholders,
  composeResolved,
  compose,
  services,
  server,
  agent,
  mongo,
  clusterRaw,
  REQUIRED,
  clusterPlaceholders,
  clusterResolved,
  composeSpec,
  problems,
  dclintWrittenAndInterpolated,
} from './compose-model.js';

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
