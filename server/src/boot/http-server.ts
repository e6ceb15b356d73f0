/** The HTTP server the app and Socket.IO share: its keep-alive timeouts, and listening. */
import { createServer, type RequestListener, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Addresses } from './addresses.js';

export function createHttpServer(app: RequestListener): HttpServer {
  const http = createServer(app);
  // Keep idle connections longer than clients do (undici 4 s, most proxies 60 s), so the server is
  // never the side that closes a kept-alive connection just as a client sends on it — a race
  // that a busy event loop (planning a 1 MB expression) made visible as EPIPE/ECONNRESET.
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
  return http;
}

/** Listens on `port` (0: any free port) and `host`; the port it got. */
export async function listen(http: HttpServer, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  return (http.address() as AddressInfo).port;
}

/** The 'listening' line: where, on which store, and with several the instance and its advertised URL. */
export function logListening(
  log: Logger,
  config: Pick<Config, 'mongodbUri'>,
  addresses: Addresses,
  cluster: { instance: string } | null,
): void {
  const where = cluster ? { cluster: cluster.instance, advertise: addresses.advertiseUrl() } : {};
  const store = config.mongodbUri ? 'mongodb' : 'embedded';
  log.info({ url: addresses.url(), port: addresses.port, store, ...where }, 'listening');
}
