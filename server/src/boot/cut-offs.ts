/**
 * What ends when access ends: a revoked credential's agents, a disabled or deleted user's agents
 * and unfinished work, and (every hour) sign-outs that have expired anyway.
 */
import type { Logger } from 'pino';
import type { AuthService } from '../auth/service.js';
import type { Scheduler } from '../scheduler/scheduler.js';

const PRUNE_EVERY_MS = 3_600_000;

/** Wires the cut-offs; `close` stops the hourly pruning. */
export function cutOffsOnRevocation(
  auth: AuthService,
  scheduler: Scheduler,
  log: Logger,
): { close(): void } {
  // Revoking a credential cuts off every agent holding it (socket and course), at once.
  auth.onRevoked((credentialId) => {
    const cut = scheduler.agents.revoke(`cred-${credentialId}`, 'its credential was revoked');
    log.info({ credential: credentialId, agents: cut }, 'agents of a revoked credential cut off');
  });
  // A disabled or deleted user is cut off at once: their agents (browser tabs) leave the
  // registry and their unfinished work is canceled, here where the scheduler runs (the API that
  // changes accounts is the leader's); every instance cuts off its own sockets (SessionWatch).
  auth.onAccountEvent((event, here) => {
    if (!here || event.t !== 'user-changed') return;
    if (event.change !== 'disabled' && event.change !== 'deleted') return;
    const reason = `its user was ${event.change}`;
    const agents = scheduler.agents.revoke(`user-${event.userId}`, reason);
    const canceled = scheduler.cancelAllOf(event.userId);
    log.info({ user: event.userId, agents, canceled }, 'user cut off');
  });
  const pruneRevoked = setInterval(() => {
    auth.pruneRevokedTokens().catch((err: unknown) => {
      log.warn({ err }, 'pruning expired sign-outs failed');
    });
  }, PRUNE_EVERY_MS);
  pruneRevoked.unref();
  return { close: () => clearInterval(pruneRevoked) };
}
