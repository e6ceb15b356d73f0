/**
 * Sockets whose session ends are cut off: every `/ui` and `/agents` socket that signed in with a
 * user's token is watched until it disconnects.
 *
 * It is disconnected when its token expires (a timer
 * per socket), at once when this instance hears that its session ended (signed out, password
 * changed, account disabled or deleted — from here or, through the cluster, from another
 * instance), and by a sweep every `sweepMs` that re-checks every watched session against the
 * store (what a lost cluster message would have missed, at most the cache's age late).
 */
import type { Logger } from 'pino';
import type { AccountEvent, AuthService, Session } from '../auth/service.js';
import { agentsNamespace, uiNamespace, type IoServer } from './io.js';

/** setTimeout cannot wait longer than this (about 24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;
export const SESSION_SWEEP_MS = 30_000;

interface Watched {
  session: Session;
  cut: () => void;
  timer: NodeJS.Timeout | undefined;
}

export class SessionWatch {
  /** By namespace and socket id. */
  private readonly watched = new Map<string, Watched>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    io: IoServer,
    private readonly auth: AuthService,
    private readonly log: Logger,
    sweepMs = SESSION_SWEEP_MS,
  ) {
    const ui = uiNamespace(io);
    ui.on('connection', (socket) => {
      const session = socket.data.session;
      // Refused by an earlier listener (its 'disconnect' has fired already): nothing to watch.
      if (!session || socket.disconnected) return;
      const key = `ui#${socket.id}`;
      socket.on('disconnect', () => this.unwatch(key));
      this.watch(key, session, () => socket.disconnect(true));
    });
    const agents = agentsNamespace(io);
    agents.on('connection', (socket) => {
      const session = socket.data.session;
      // Refused by an earlier listener (its 'disconnect' has fired already): nothing to watch.
      if (!session || socket.disconnected) return;
      const key = `agents#${socket.id}`;
      socket.on('disconnect', () => this.unwatch(key));
      this.watch(key, session, () => socket.disconnect(true));
    });
    auth.onAccountEvent((event) => this.ended(event));
    this.sweeper = setInterval(() => void this.sweep(), sweepMs);
    this.sweeper.unref();
  }

  /** How many sockets are watched (for tests and metrics). */
  get size(): number {
    return this.watched.size;
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const w of this.watched.values()) clearTimeout(w.timer);
    this.watched.clear();
  }

  private watch(key: string, session: Session, cut: () => void): void {
    const w: Watched = { session, cut, timer: undefined };
    this.watched.set(key, w);
    this.armExpiry(key, w);
  }

  private unwatch(key: string): void {
    const w = this.watched.get(key);
    if (!w) return;
    clearTimeout(w.timer);
    this.watched.delete(key);
  }

  private armExpiry(key: string, w: Watched): void {
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, w.session.expiresAt - Date.now()));
    w.timer = setTimeout(() => {
      if (w.session.expiresAt <= Date.now()) this.cutOff(key, 'its token expired');
      else this.armExpiry(key, w);
    }, wait);
    w.timer.unref();
  }

  private cutOff(key: string, why: string): void {
    const w = this.watched.get(key);
    if (!w) return;
    this.unwatch(key);
    this.log.info(
      { socket: key, user: w.session.userId, why },
      'socket of an ended session cut off',
    );
    w.cut();
  }

  private ended(event: AccountEvent): void {
    if (event.t === 'signed-out') {
      for (const [key, w] of this.watched)
        if (w.session.jti === event.jti) this.cutOff(key, 'signed out');
      return;
    }
    for (const [key, w] of this.watched)
      if (w.session.userId === event.userId) void this.recheck(key, w, event.change);
  }

  private async recheck(key: string, w: Watched, why: string): Promise<void> {
    try {
      if (!(await this.auth.isSessionLive(w.session))) this.cutOff(key, why);
    } catch (err) {
      // The store is unreachable: keep the socket; the next sweep asks again.
      this.log.warn({ err, socket: key }, 'checking a session failed');
    }
  }

  private async sweep(): Promise<void> {
    for (const [key, w] of [...this.watched]) await this.recheck(key, w, 'its session ended');
  }
}
