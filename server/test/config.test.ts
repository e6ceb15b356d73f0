import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('configuration checked at start-up', () => {
  it('one orchestrator needs no Redis; REDIS_URL turns several on, with what they share', () => {
    expect(loadConfig({}).cluster).toBeNull();
    const secret = 'x'.repeat(32);
    const cluster = loadConfig({
      REDIS_URL: 'redis://redis:6379',
      MONGODB_URI: 'mongodb://mongo:27017',
      JWT_SECRET: secret,
    }).cluster;
    expect(cluster).toEqual({
      redisUrl: 'redis://redis:6379',
      advertiseUrl: undefined,
      leaseMs: 3000,
    });
    // Without a shared store and a shared secret the instances could not be one service.
    expect(problems({ REDIS_URL: 'redis://redis:6379' })).toEqual([
      expect.stringMatching(/^REDIS_URL is set, so set MONGODB_URI/),
      expect.stringMatching(/^REDIS_URL is set, so set JWT_SECRET/),
    ]);
    expect(problems({ REDIS_URL: 'http://redis:6379' })[0]).toMatch(/REDIS_URL=.*redis:\/\//);
    expect(problems({ LEADER_LEASE_MS: '100' })[0]).toMatch(/^LEADER_LEASE_MS=/);
  });

  it('a weak ADMIN_PASSWORD is refused before anything starts', () => {
    expect(problems({ ADMIN_LOGIN: 'admin', ADMIN_PASSWORD: 'my-admin-pass' })).toEqual([
      'ADMIN_PASSWORD: must not contain the login',
    ]);
    expect(problems({ ADMIN_LOGIN: 'admin', ADMIN_PASSWORD: 'Str0ng-pass-here' })).toEqual([]);
  });
});
