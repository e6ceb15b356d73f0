/**
 * Which failure counts gate and count one sign-in attempt: the rules of the sign-in lock, apart
 * from where the counts are kept (limits.ts keeps them in this process's memory).
 *
 * - **An unknown device** (no valid device token for the login): the login's count, shared by
 *   every unknown device, and the address's. Guessing from anywhere new stays throttled.
 * - **A known device** (a valid device token for the login, see device-tokens.ts): that token's
 *   own count only. Failures elsewhere never lock the owner out of a device they signed in on
 *   before; a device token used for guessing locks itself, and only itself.
 *
 * Every count that gates an attempt is charged before the password is checked (parallel guesses
 * cannot slip past the lock while the first ones are still hashing) and settled after a success:
 * `clear` forgets the count, `forgive` only takes this attempt back — an address is not cleared,
 * or an attacker could reset it by signing in to an account of their own between guesses. A
 * success from a known device leaves the login's count alone: the attacker's lock on unknown
 * devices holds.
 */

export type SignInCount = 'login' | 'address' | 'device';

export interface SignInAttempt {
  /** Lower-case login. */
  login: string;
  address: string;
  /** The id of a valid device token for this login, or null (an unknown device). */
  device: string | null;
}

export interface CountKey {
  count: SignInCount;
  key: string;
}

/** The counts that gate and are charged for `attempt`. */
export function countsOf(attempt: SignInAttempt): CountKey[] {
  if (attempt.device !== null) return [{ count: 'device', key: `device:${attempt.device}` }];
  return [
    { count: 'login', key: `login:${attempt.login}` },
    { count: 'address', key: `addr:${attempt.address}` },
  ];
}

/** What a successful sign-in does to each count it was charged to. */
export const ON_SUCCESS: Record<SignInCount, 'clear' | 'forgive'> = {
  login: 'clear',
  address: 'forgive',
  device: 'clear',
};
