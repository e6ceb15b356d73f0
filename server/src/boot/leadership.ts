/**
 * Several orchestrators, before the scheduler: the cluster bus and the leader lease, so that the
 * scheduler's store can be fenced by it from the first write.
 */
import type { Logger } from 'pino';
import { ClusterBus } from '../cluster/bus.js';
import { Leadership } from '../cluster/leadership.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { IoServer } from '../realtime/io.js';
import type { Addresses } from './addresses.js';
import type { ClusterRedis } from './redis.js';

export function createLeadership(
  clustered: NonNullable<Config['cluster']>,
  redis: ClusterRedis,
  io: IoServer,
  addresses: Addresses,
  metrics: Metrics,
  log: Logger,
): Leadership {
  return new Leadership({
    bus: new ClusterBus(io, log),
    redis: redis.client,
    prefix: redis.prefix,
    leaseMs: clustered.leaseMs,
    advertiseUrl: () => addresses.advertiseUrl(),
    metrics,
    log,
  });
}
