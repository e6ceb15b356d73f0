/**
 * The orchestrator's Prometheus metrics (`GET /metrics`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus series of the orchestrator (`GET /metrics`). One registry per orchestrator instance. */
export class Metrics {
  readonly registry = new Registry();
  readonly expressionsByStatus = new Gauge({
    name: 'expressionist_expressions',
    help: 'Expressions by status (stored totals)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly expressionsSubmitted = new Counter({
    name: 'expressionist_expressions_submitted_total',
    help: 'Expressions accepted, by whether the cache answered them',
    labelNames: ['cached'] as const,
    registers: [this.registry],
  });
  readonly opsDispatched = new Counter({
    name: 'expressionist_operations_dispatched_total',
    help: 'Operation attempts handed to agents',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly opsCompleted = new Counter({
    name: 'expressionist_operations_completed_total',
    help: 'Operation results verified and stored',
    registers: [this.registry],
  });
  readonly opsRequeued = new Counter({
    name: 'expressionist_operations_requeued_total',
    help: 'Operation attempts taken back and queued again',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly opsFailed = new Counter({
    name: 'expressionist_operations_failed_total',
    help: 'Operations that ended their expression with an error (last attempt used up, or a result no retry can change)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly opsRejected = new Counter({
    name: 'expressionist_operations_rejected_total',
    help: 'Results not accepted',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly readyQueue = new Gauge({
    name: 'expressionist_ready_queue_depth',
    help: 'Operations in the ready queue, waiting for a worker slot',
    registers: [this.registry],
  });
  readonly leasesExpired = new Counter({
    name: 'expressionist_leases_expired_total',
    help: 'Leases that expired without an answer, by the kind of agent that held them',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly agentStrikes = new Counter({
    name: 'expressionist_agent_strikes_total',
    help: 'Strikes against agents (a lease of theirs expired unanswered), by agent kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly agentsUnresponsive = new Gauge({
    name: 'expressionist_agents_unresponsive',
    help: 'Agents in their unresponsive cool-down, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly agentsConnected = new Gauge({
    name: 'expressionist_agents_connected',
    help: 'Active agents by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly agentsLost = new Counter({
    name: 'expressionist_agents_lost_total',
    help: 'Agents lost (socket closed or silent past the heartbeat timeout; not a drained leave), by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly tasksResent = new Counter({
    name: 'expressionist_tasks_resent_total',
    help: 'Tasks sent again to an agent back within its reconnect grace that did not hold them (lost with its connection)',
    registers: [this.registry],
  });
  readonly eventLoopStalls = new Counter({
    name: 'expressionist_event_loop_stalls_total',
    help: 'Times the orchestrator event loop stood still (a tick over 200 ms late): no agent is judged for that time',
    registers: [this.registry],
  });
  readonly eventLoopLongestStall = new Gauge({
    name: 'expressionist_event_loop_longest_stall_seconds',
    help: 'Longest event-loop stall since the orchestrator started',
    registers: [this.registry],
  });
  readonly opLatency = new Histogram({
    name: 'expressionist_operation_latency_seconds',
    help: 'From dispatch of an attempt to its verified result',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly expressionLatency = new Histogram({
    name: 'expressionist_expression_latency_seconds',
    help: 'From submission to final status',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly storeWriteLatency = new Histogram({
    name: 'expressionist_store_write_latency_seconds',
    help: 'Duration of one batched result write',
    labelNames: ['ok'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly storeWriteRows = new Counter({
    name: 'expressionist_store_result_rows_total',
    help: 'Operation result rows written',
    registers: [this.registry],
  });

  readonly clusterRole = new Gauge({
    name: 'expressionist_cluster_role',
    help: "This instance's role: 1 for the current one (single = no Redis; leader; gateway)",
    labelNames: ['role'] as const,
    registers: [this.registry],
  });
  readonly clusterEpoch = new Gauge({
    name: 'expressionist_cluster_leader_epoch',
    help: 'Epoch of the leader lease this instance last saw (several orchestrators)',
    registers: [this.registry],
  });
  readonly clusterTakeovers = new Counter({
    name: 'expressionist_cluster_takeovers_total',
    help: 'Times this instance acquired the leader lease',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
