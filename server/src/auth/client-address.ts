/**
 * Who the client is, by address: the one rule Express (`trust proxy`, so `req.ip`) and the socket
 * gate share. A peer listed in TRUSTED_PROXIES may name the client in X-Forwarded-For; anyone else
 * is its own address, whatever it writes there — otherwise a client could name `127.0.0.1` and
 * read /metrics, or a new address on every request and step past every per-address limit.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

/** Whether the peer at `address` (`hop` steps from this server) may forward a client. */
export type ProxyTrust = (address: string, hop: number) => boolean;

/**
 * TRUSTED_PROXIES as a list: comma-separated addresses, CIDRs or proxy-addr's names
 * (`loopback`, `linklocal`, `uniquelocal`); `none` trusts no peer at all.
 */
export function parseTrustedProxies(value: string): string[] {
  const list = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  return list.length === 1 && list[0] === 'none' ? [] : list;
}

/** Why a TRUSTED_PROXIES list is unusable, or null when it compiles. */
export function trustedProxiesProblem(list: readonly string[]): string | null {
  try {
    proxyAddr.compile([...list]);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export function proxyTrust(list: readonly string[]): ProxyTrust {
  return proxyAddr.compile([...list]);
}

/** An IPv4 address as such, not as the IPv4-mapped IPv6 form a dual-stack socket reports. */
export const bareAddress = (address: string): string => address.replace(/^::ffff:/, '');

/**
 * The client address of an Express request: its `req.ip`, which Express works out by the same
 * rule (the app's `trust proxy` is TRUSTED_PROXIES).
 */
export const requestAddress = (req: {
  ip?: string | undefined;
  socket: { remoteAddress?: string | undefined };
}): string => bareAddress(req.ip ?? req.socket.remoteAddress ?? 'unknown');

/** The client address of a request, through the trusted proxies (as Express's `req.ip`). */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust): string {
  return bareAddress(proxyAddr(req, trust));
}
