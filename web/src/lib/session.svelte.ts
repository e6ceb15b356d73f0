/**
 * Who is using the dashboard: `me` (GET /api/v1/me, read at start and after every sign-in) and the
 * user's JWT, with beside it the device tokens of the logins that signed in on this browser (kept
 * across sign-outs: they make this a known device, which an attacker's failed guesses cannot
 * lock out — see README, "The edge").
 *
 * The token is kept in localStorage and sent as `Authorization: Bearer`, deliberately not in a
 * cookie: the browser never attaches it on its own, so a page on another site cannot make
 * requests as the user (no CSRF surface, no SameSite subtleties for the Socket.IO handshake).
 * The price is that script running in this page could read it; the Content-Security-Policy the
 * orchestrator sends (no inline or foreign scripts) is what guards against such injection, and
 * Svelte escapes every interpolated value. A token also expires (JWT_TTL): we drop it at its
 * `exp`, and at once on any UNAUTHENTICATED answer.
 */
import { goto } from '$app/navigation';
import { resolve } from '$app/paths';
import { z } from 'zod';
import type { LoginReply, MeReply, UserView } from '@expressionist/core';
import { getMe, logout, useAuth } from './api';
import { isExpired, isPublicPath, loginHref, tokenExpiresAt } from './auth';

const TOKEN_KEY = 'expressionist.token';
const DEVICES_KEY = 'expressionist.devices';
const DevicesSchema = z.record(z.string(), z.string());
/** setTimeout cannot wait longer than this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const ME_RETRY_MS = 2000;

function readToken(): string | null {
  try {
    const token = localStorage.getItem(TOKEN_KEY);
    return token && !isExpired(token, Date.now()) ? token : null;
  } catch {
    return null; // storage disabled: nobody stays signed in across reloads
  }
}

function writeToken(token: string | null): void {
  try {
    if (token === null) localStorage.removeItem(TOKEN_KEY);
    else localStorage.setItem(TOKEN_KEY, token);
  } catch {
    // not persisted: the session lasts as long as the page
  }
}

/** Device tokens by login (lower-case), as stored; an unreadable entry is no entry. */
function readDevices(): Record<string, string> {
  try {
    const parsed = DevicesSchema.safeParse(JSON.parse(localStorage.getItem(DEVICES_KEY) ?? '{}'));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

class Session {
  me = $state.raw<MeReply | null>(null);
  token = $state<string | null>(null);
  /** `loading` until the first `/me` answered; `offline` while it cannot be reached. */
  status = $state<'loading' | 'ready' | 'offline'>('loading');

  #expiryTimer: ReturnType<typeof setTimeout> | null = null;
  #started = false;

  /** The signed-in user, or null (also always null in open mode). */
  get user(): UserView | null {
    return this.me?.user ?? null;
  }

  /** Accounts mode: every page but the sign-in pages needs a signed-in user. */
  get accounts(): boolean {
    return this.me?.mode === 'accounts';
  }

  /** May change settings, release and kick agents, manage credentials (everyone in open mode). */
  get isAdmin(): boolean {
    return this.me?.mode === 'open' || this.user?.role === 'admin';
  }

  /** Whether the live connection may be opened: open mode, or signed in. */
  get canConnect(): boolean {
    return this.me !== null && (this.me.mode === 'open' || this.token !== null);
  }

  /** Reads the stored token and `/me` (call once, in the browser). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    useAuth({ token: () => this.token, unauthenticated: () => this.expire() });
    this.#setToken(readToken());
    void this.refresh();
  }

  /** Re-reads `/me`; retries quietly while the orchestrator is unreachable. */
  async refresh(): Promise<void> {
    try {
      const me = await getMe();
      // A stored token the server no longer accepts (expired, user gone): `/me` is public and
      // answers `user: null` instead of 401, so drop the token here.
      if (me.mode === 'accounts' && me.user === null && this.token !== null) this.#setToken(null);
      this.me = me;
      this.status = 'ready';
    } catch {
      if (this.me === null) this.status = 'offline';
      setTimeout(() => void this.refresh(), ME_RETRY_MS);
    }
  }

  /** This browser's device token for `login`, if it signed in here before. */
  deviceTokenFor(login: string): string | null {
    return readDevices()[login.toLowerCase()] ?? null;
  }

  /** Stores what a sign-in answered (login, register, setup) and learns who it belongs to. */
  async signIn(login: string, reply: LoginReply): Promise<void> {
    try {
      const devices = readDevices();
      devices[login.toLowerCase()] = reply.deviceToken;
      localStorage.setItem(DEVICES_KEY, JSON.stringify(devices));
    } catch {
      // Not kept: this browser stays an unknown device, which only matters during an attack.
    }
    await this.useToken(reply.token);
  }

  /** Replaces the JWT (a password change hands out a new one) and learns who it belongs to. */
  async useToken(token: string): Promise<void> {
    this.#setToken(token);
    await this.refresh();
  }

  /** Signs out on the server too (the token stops working everywhere), then here. */
  async logOut(): Promise<void> {
    try {
      if (this.token !== null) await logout();
    } catch {
      // Already ended (401) or unreachable: forgetting it here is all that is left to do.
    }
    this.signOut();
  }

  /** Forgets the token; the route guard takes the visitor to the login page. */
  signOut(): void {
    this.#setToken(null);
    if (this.me) this.me = { ...this.me, user: null };
  }

  /**
   * The server no longer accepts our token (or never got one): forget it and open the login page,
   * coming back here afterwards.
   */
  expire(): void {
    if (this.me?.mode === 'open') return;
    this.signOut();
    const here = `${location.pathname}${location.search}`;
    if (!isPublicPath(location.pathname))
      void goto(resolve(loginHref(here)), { replaceState: true });
  }

  #setToken(token: string | null): void {
    this.token = token;
    writeToken(token);
    this.#armExpiry();
  }

  /** Ends the session when the token's `exp` passes (re-armed for far-off expiries). */
  #armExpiry(): void {
    if (this.#expiryTimer !== null) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
    const token = this.token;
    const expiresAt = token === null ? null : tokenExpiresAt(token);
    if (token === null || expiresAt === null) return;
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now()));
    this.#expiryTimer = setTimeout(() => {
      if (this.token !== token) return;
      if (isExpired(token, Date.now())) this.expire();
      else this.#armExpiry();
    }, wait);
  }
}

/** The one session of the page. */
export const session = new Session();
