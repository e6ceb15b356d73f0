/**
 * Device tokens, as OWASP describes them ("Slow Down Online Guessing Attacks with Device
 * Cookies"): after a successful sign-in the client gets a token naming the login, signed by us,
 * and sends it with later sign-ins from the same device. An attempt that carries a valid one for
 * its login is from a known device: the login's lock (which only unknown devices share) does not
 * apply to it, so an attacker who keeps a login locked does not keep its owner out. A device
 * token has its own failure count instead, so a stolen one used for guessing locks itself.
 *
 * Signed with a key derived from the JWT secret for this purpose only, so a device token never
 * verifies as a session token, nor a session token as a device token.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { z } from 'zod';

/** How long a device stays known without signing in again (each sign-in issues a new token). */
export const DEVICE_TOKEN_TTL_S = 180 * 24 * 3600;

const ClaimsSchema = z.object({ login: z.string(), jti: z.string().min(8) });

export class DeviceTokens {
  private readonly key: Uint8Array;

  constructor(secret: Uint8Array) {
    this.key = createHmac('sha256', secret).update('expressionist device token v1').digest();
  }

  /** A new device token for `login` (lower-case), with a fresh random id. */
  issue(login: string): Promise<string> {
    return new SignJWT({ login })
      .setProtectedHeader({ alg: 'HS256', typ: 'device' })
      .setJti(randomBytes(12).toString('base64url'))
      .setIssuedAt()
      .setExpirationTime(`${DEVICE_TOKEN_TTL_S}s`)
      .sign(this.key);
  }

  /**
   * The id of `token` when it is a valid device token for `login` (lower-case), else null: a
   * missing, forged, expired or foreign one is an unknown device, never an error (no hint).
   */
  async idFor(token: string | undefined, login: string): Promise<string | null> {
    if (token === undefined) return null;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        typ: 'device',
      });
      const claims = ClaimsSchema.safeParse(payload);
      return claims.success && claims.data.login === login ? claims.data.jti : null;
    } catch {
      return null;
    }
  }
}
