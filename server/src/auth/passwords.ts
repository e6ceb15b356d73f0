/**
 * Password hashing with scrypt, Node's built-in memory-hard KDF: no native add-on to build, and
 * its cost (N = 2^15, r = 8: 32 MiB and ~50 ms per hash here) makes an offline guess expensive.
 * The stored form carries its parameters, so they can be raised later without breaking old hashes.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_BYTES, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

const limits = (n: number, r: number, p: number): ScryptOptions => ({
  N: n,
  r,
  p,
  maxmem: 128 * n * r * 2,
});

/** `scrypt$N$r$p$<salt b64url>$<hash b64url>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, limits(N, R, P));
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Constant-time check of `password` against a stored hash; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(
    password,
    Buffer.from(salt, 'base64url'),
    limits(Number(n), Number(r), Number(p)),
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash to compare against when the login does not exist, so timing does not tell. */
export const DUMMY_HASH = `scrypt$${N}$${R}$${P}$${'A'.repeat(22)}$${'A'.repeat(43)}`;

/**
 * Why a password is too weak for `login`, or null. Length is checked by the schema; this refuses
 * the guessable: the login itself, one repeated character, or a run of digits only.
 */
export function passwordProblem(login: string, password: string): string | null {
  const lower = password.toLowerCase();
  if (lower.includes(login.toLowerCase())) return 'password: must not contain the login';
  if (/^(.)\1*$/.test(password)) return 'password: must not be one repeated character';
  if (/^\d+$/.test(password)) return 'password: must not be digits only';
  return null;
}
