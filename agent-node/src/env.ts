/**
 * The agent CLI's environment variables, checked with zod (command-line flags win over them).
 */
import { z } from 'zod';

/**
 * Every environment variable the agent CLI reads (command-line flags win over them).
 * docker-compose.yml's `agent` service is checked against this list by deploy/test/compose.test.ts.
 */
export const AGENT_ENV_VARS = [
  'ORCHESTRATOR_URL',
  'COMPUTING_POWER',
  'AGENT_NAME',
  'AGENT_TOKEN',
  'LOG_LEVEL',
] as const;
export type AgentEnvVar = (typeof AGENT_ENV_VARS)[number];

export const LogLevelSchema = z.enum([
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]);

/** The agent's environment; ORCHESTRATOR_URL and COMPUTING_POWER are validated further by the CLI. */
export const AgentEnvSchema = z.object({
  ORCHESTRATOR_URL: z.string().optional(),
  COMPUTING_POWER: z.string().optional(),
  AGENT_NAME: z.string().max(64).optional(),
  /** An admin-issued agent token; empty means none (compose passes `${AGENT_TOKEN:-}`). */
  AGENT_TOKEN: z.string().max(4096).optional(),
  LOG_LEVEL: LogLevelSchema.default('info'),
} satisfies Record<AgentEnvVar, z.ZodType>);
