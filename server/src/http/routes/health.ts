/**
 * Health, readiness and metrics: `/healthz`, `/readyz` and `/metrics`, served by every instance
 * itself (a gateway does not forward them to the leader).
 */
import { Router } from 'express';
import { authorize } from '../../auth/policy.js';
import type { AppDeps } from '../app-deps.js';
import { bearer } from '../request-context.js';
import { isLoopback } from '../security.js';

export function healthRoutes(deps: AppDeps): Router {
  const { scheduler, store, metrics, log, auth } = deps;
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const ok = await store.ping();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'store unreachable' });
  });
  router.get('/readyz', async (_req, res) => {
    const storeOk = await store.ping();
    const cluster = deps.cluster;
    if (!cluster) {
      const ready = storeOk && scheduler.isAccepting;
      res
        .status(ready ? 200 : 503)
        .json({ ready, role: 'single', store: storeOk, accepting: scheduler.isAccepting });
      return;
    }
    const redis = await cluster.redisOk();
    const leader = cluster.leaderInfo;
    // A gateway is ready when it can reach a leader to forward to; the leader when it accepts.
    const serving = cluster.role === 'leader' ? scheduler.isAccepting : leader !== null;
    const ready = storeOk && redis && serving;
    res.status(ready ? 200 : 503).json({
      ready,
      role: cluster.role,
      instance: cluster.instance,
      store: storeOk,
      redis,
      leader,
      accepting: cluster.role === 'leader' && scheduler.isAccepting,
    });
  });
  // Admins, or anything on this machine: a local Prometheus or sidecar scrapes without a token.
  // Behind a trusted proxy, `req.ip` is the forwarded client, not the proxy.
  router.get('/metrics', async (req, res) => {
    if (!isLoopback(req.ip)) authorize(await auth.principalOf(bearer(req)), 'read-metrics');
    try {
      const counts = await store.countByStatus();
      for (const status of ['pending', 'in_progress', 'done', 'error', 'canceled'] as const) {
        metrics.expressionsByStatus.set({ status }, counts[status] ?? 0);
      }
    } catch (err) {
      log.warn({ err }, 'counting expressions for /metrics failed');
    }
    scheduler.stats();
    res.setHeader('content-type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  return router;
}
