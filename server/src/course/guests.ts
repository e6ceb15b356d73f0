/**
 * Course guests as lease chains: the keep-alive connections an agent without a name pulls and
 * posts on, and when its last connection closes (its process died).
 */
import type { Socket } from 'node:net';
import type { Request } from 'express';
import { requestAddress } from '../auth/client-address.js';
import { isFirm } from './callers.js';

/** One TCP connection a course agent pulls on. */
export interface Conn {
  /** The guest it belongs to, once it got work or posted a guest's task. */
  key: string | null;
  address: string;
}

/** How a guest is listed: `<address> #n`; an agent that named itself keeps its key. */
export function guestName(key: string, address: string): string {
  if (isFirm(key)) return key;
  return `${address} #${key.slice(key.lastIndexOf(':') + 1)}`;
}

export class GuestConnections {
  private readonly conns = new WeakMap<Socket, Conn>();
  /** Open connections per guest. */
  private readonly open = new Map<string, number>();
  private guests = 0;

  /** `lastClosed(key)`: the guest `key`'s last open connection closed. */
  constructor(private readonly lastClosed: (key: string) => void) {}

  /** The connection `req` came on (seen from now on). */
  of(req: Request): Conn {
    const socket = req.socket;
    let conn = this.conns.get(socket);
    if (!conn) {
      conn = { key: null, address: requestAddress(req) };
      this.conns.set(socket, conn);
      const owned = conn;
      socket.once('close', () => this.closed(owned));
    }
    return conn;
  }

  /** A new guest whose first connection is `conn`. */
  newGuest(conn: Conn): string {
    this.guests += 1;
    const key = `guest:${conn.address}:${this.guests}`;
    this.link(conn, key);
    return key;
  }

  /** Makes `conn` one of `key`'s connections (leaving the guest it belonged to before). */
  link(conn: Conn, key: string): void {
    this.unlink(conn);
    conn.key = key;
    this.open.set(key, (this.open.get(key) ?? 0) + 1);
  }

  /** Whether any connection of the guest `key` is open. */
  hasOpen(key: string): boolean {
    return this.open.has(key);
  }

  /** Guests with a connection open. */
  get size(): number {
    return this.open.size;
  }

  private unlink(conn: Conn): void {
    const key = conn.key;
    if (key === null) return;
    conn.key = null;
    const left = (this.open.get(key) ?? 1) - 1;
    if (left > 0) this.open.set(key, left);
    else this.open.delete(key);
  }

  private closed(conn: Conn): void {
    const key = conn.key;
    if (key === null || isFirm(key)) return;
    this.unlink(conn);
    if (!this.open.has(key)) this.lastClosed(key);
  }
}
