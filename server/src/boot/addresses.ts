/**
 * Where this orchestrator is reached: its local base URL (for links and logs) and, with several,
 * the URL it advertises to the others (the leader's URL is where gateways forward the API).
 */
import { networkInterfaces } from 'node:os';
import type { Config } from '../config.js';

export class Addresses {
  private portNow = 0;

  constructor(private readonly config: Pick<Config, 'host' | 'cluster'>) {}

  /** The port it listens on (the real one when started on port 0); 0 until it listens. */
  get port(): number {
    return this.portNow;
  }

  /** Called once the HTTP server listens. */
  listening(port: number): void {
    this.portNow = port;
  }

  /** Base URL, e.g. http://127.0.0.1:8080 (loopback when listening on every interface). */
  url(): string {
    return `http://${this.wildcard() ? '127.0.0.1' : this.config.host}:${this.portNow}`;
  }

  /** This instance's HTTP base URL as the other instances reach it (ADVERTISE_URL, or guessed). */
  advertiseUrl(): string {
    return (
      this.config.cluster?.advertiseUrl ??
      (this.wildcard() ? `http://${firstIpv4() ?? '127.0.0.1'}:${this.portNow}` : this.url())
    );
  }

  private wildcard(): boolean {
    return this.config.host === '0.0.0.0' || this.config.host === '::';
  }
}

/** The first non-internal IPv4 address (what other containers on a Docker network reach). */
function firstIpv4(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}
