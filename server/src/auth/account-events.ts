/**
 * Account events (a sign-out, a user changed): told to listeners here and, through the cluster,
 * on other instances; either way the cached session states of that token or user are forgotten.
 */
import type { SessionStates } from './session-states.js';

/**
 * Something that ends or changes sessions: one token signed out, or a user whose sessions may
 * have ended (a password change or a disable ends all earlier ones, a delete ends everything; an
 * enable changes only the cached record).
 */
export type AccountEvent =
  | { t: 'signed-out'; jti: string }
  | { t: 'user-changed'; userId: string; change: 'password' | 'disabled' | 'enabled' | 'deleted' };

export class AccountEvents {
  private readonly accountListeners: ((event: AccountEvent, here: boolean) => void)[] = [];

  constructor(private readonly states: SessionStates) {}

  /** Called for every account event: `here` when this instance made it, else told by another. */
  onAccountEvent(listener: (event: AccountEvent, here: boolean) => void): void {
    this.accountListeners.push(listener);
  }

  /** Several orchestrators: another instance changed an account; forget what we cached of it. */
  accountEventElsewhere(event: AccountEvent): void {
    this.forget(event);
    for (const listener of this.accountListeners) listener(event, false);
  }

  /** An account event made here. */
  announce(event: AccountEvent): void {
    this.forget(event);
    for (const listener of this.accountListeners) listener(event, true);
  }

  private forget(event: AccountEvent): void {
    if (event.t === 'signed-out') this.states.forgetToken(event.jti);
    else this.states.forgetUser(event.userId);
  }
}
