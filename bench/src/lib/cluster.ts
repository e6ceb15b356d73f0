/**
 * Starts a bench cluster: one orchestrator process and its agent processes, and stops them all.
 */
import {
  Api,
  killAll,
  spawnAgent,
  spawnOrchestrator,
  type AgentProcess,
  type OrchestratorProcess,
} from '@expressionist/testkit';

/** An orchestrator child process plus real agent-node processes, all with the same worker count. */
export interface Cluster {
  orchestrator: OrchestratorProcess;
  api: Api;
  agents: AgentProcess[];
  workersPerAgent: number;
  /** Total worker slots of the running agents. */
  readonly slots: number;
  /** Starts more agent processes until there are `count`, and waits until all are registered. */
  scale(count: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  agents: number;
  workersPerAgent: number;
  /** Duration of every operator, ms. */
  opMs: number;
  env?: Record<string, string>;
  nodeArgs?: string[];
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const ms = String(options.opMs);
  const orchestrator = await spawnOrchestrator({
    logLevel: 'warn',
    env: {
      TIME_ADDITION_MS: ms,
      TIME_SUBTRACTION_MS: ms,
      TIME_MULTIPLICATIONS_MS: ms,
      TIME_DIVISIONS_MS: ms,
      ...options.env,
    },
    ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
  });
  const api = new Api(orchestrator.url);
  const agents: AgentProcess[] = [];
  const cluster: Cluster = {
    orchestrator,
    api,
    agents,
    workersPerAgent: options.workersPerAgent,
    get slots() {
      return agents.length * options.workersPerAgent;
    },
    async scale(count: number) {
      while (agents.length < count) {
        agents.push(
          spawnAgent(orchestrator.url, {
            concurrency: options.workersPerAgent,
            id: `bench-agent-${agents.length + 1}`,
            logLevel: 'warn',
          }),
        );
      }
      await api.waitForAgents(agents.length, agents.length * options.workersPerAgent);
    },
    async stop() {
      await killAll(agents);
      await orchestrator.stop();
    },
  };
  try {
    await cluster.scale(options.agents);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
