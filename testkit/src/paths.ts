/**
 * Where the repository's built entry points are, for tests that spawn them.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from testkit/dist). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The orchestrator's process entry (`npm start` and the Docker image run the same file). */
export const SERVER_CLI = path.join(ROOT, 'server/dist/cli.js');
/** The Node agent's process entry. */
export const AGENT_CLI = path.join(ROOT, 'agent-node/dist/cli.js');
