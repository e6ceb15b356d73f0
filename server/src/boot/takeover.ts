/**
 * Taking over, with several orchestrators: what the instance that wins the leader lease loads
 * before it leads (accounts and the setup link, the stored settings, the scheduler's recovery).
 */
import type { Logger } from 'pino';
import type { AuthService } from '../auth/service.js';
import type { Config } from '../config.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { Store } from '../store/store.js';

export interface TakeoverParts {
  auth: AuthService;
  store: Store;
  scheduler: Scheduler;
  log: Logger;
  /** `auth.admin` (the first admin); `initialSettings` fill what stored settings lack. */
  config: Pick<Config, 'auth' | 'initialSettings'>;
  /** This instance's base URL, for the setup link. */
  url: () => string;
}

/** Loads the leader's state; the one-time setup token while no admin exists, else null. */
export async function takeOver(p: TakeoverParts): Promise<string | null> {
  const t0 = performance.now();
  const setupToken = await p.auth.start(p.config.auth.admin);
  if (setupToken)
    p.log.warn(`No admin account yet: open ${p.url()}/setup#${setupToken} to create it`);
  const stored = await p.store.getSettings();
  if (stored) p.scheduler.adoptSettings({ ...p.config.initialSettings, ...stored });
  const t1 = performance.now();
  await p.scheduler.start();
  p.log.info(
    {
      accountsMs: Math.round(t1 - t0),
      recoveryMs: Math.round(performance.now() - t1),
    },
    'takeover: state loaded',
  );
  return setupToken;
}
