/**
 * The orchestrator's event-loop stall monitor, wired to the metrics and the log: a stall shows as
 * `expressionist_event_loop_stalls_total` and "event loop stalled 2.4 s; no agent was judged…".
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { StallMonitor } from '../scheduler/stall-monitor.js';

/** A started stall monitor reporting each stall (stop it at shutdown). */
export function startStallMonitor(metrics: Metrics, log: Logger): StallMonitor {
  let longestMs = 0;
  const monitor = new StallMonitor(({ from, to }) => {
    const ms = to - from;
    metrics.eventLoopStalls.inc();
    if (ms > longestMs) {
      longestMs = ms;
      metrics.eventLoopLongestStall.set(ms / 1000);
    }
    // Deadlines of heartbeats, leases and HTTP agents count only running time (stall-monitor.ts).
    log.warn(
      { stalledMs: ms, from: new Date(from).toISOString() },
      `event loop stalled ${(ms / 1000).toFixed(1)} s; no agent was judged during it`,
    );
  });
  monitor.start();
  return monitor;
}
