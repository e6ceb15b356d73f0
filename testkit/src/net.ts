/**
 * Network helpers for tests: a free loopback port.
 */
import { createServer } from 'node:net';

/**
 * A free TCP port on loopback. Port 0 is better where the code under test reports its port;
 * this is for processes that must be restarted on the same port, or polled before they log.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
