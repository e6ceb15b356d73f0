/**
 * The one kit of test helpers for every workspace's tests, the benches and the chaos suite.
 * Everything here drives real things (processes, sockets, HTTP); nothing mocks our code.
 * Exact reference arithmetic is a separate entry: `@expressionist/testkit/rational`.
 */
export { Api, api, FINAL_STATUSES, type ApiReply } from './api.js';
export { killEverything, tempDir } from './cleanup.js';
export {
  CourseClient,
  floatResult,
  type CourseClientOptions,
  type CourseReply,
} from './course-client.js';
export { request, type HttpAnswer, type RequestOptions } from './http.js';
export { metricValue } from './metrics.js';
export { freePort } from './net.js';
export { AGENT_CLI, ROOT, SERVER_CLI } from './paths.js';
export { breakableProxy, type BreakableProxy, type ProxyDirection } from './proxy.js';
export {
  kill,
  killAll,
  spawnAgent,
  spawnOrchestrator,
  stopProcess,
  track,
  type AgentOptions,
  type AgentProcess,
  type ChildHandle,
  type OrchestratorOptions,
  type OrchestratorProcess,
} from './processes.js';
export { rng, Rng, seedOf } from './random.js';
export { clusterUnavailable, startRedis, type PrivateRedis } from './redis.js';
export {
  answerHonestly,
  connectSocketAgent,
  manualAgent,
  type AgentSocket,
  type ManualAgent,
} from './socket-agent.js';
export {
  AgentViewSchema,
  checkedView,
  ExpressionViewSchema,
  OperationViewSchema,
} from './view-schemas.js';
export { sleep, waitFor } from './wait.js';
