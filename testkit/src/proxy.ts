/**
 * A TCP proxy a test can break: it loses what is in flight in one direction, then cuts every
 * connection, as a network that fails under a live connection does.
 */
import net from 'node:net';

/** Which way bytes go: `down` from the upstream server to the client, `up` the other way. */
export type ProxyDirection = 'down' | 'up';

export interface BreakableProxy {
  /** The proxy's address, as `http://127.0.0.1:<port>`. */
  url: string;
  /**
   * From now until the next `cut`, bytes going `direction` are dropped: whatever the server (or
   * the client) sends is lost on the way, as in a connection that is breaking.
   */
  lose(direction: ProxyDirection): void;
  /** Bytes dropped so far (by `lose`), per direction. */
  lost(direction: ProxyDirection): number;
  /** Cuts every connection at once (both ends see it close); returns how many. */
  cut(): number;
  close(): Promise<void>;
}

/** A proxy on a free loopback port in front of `port` on 127.0.0.1. */
export async function breakableProxy(port: number): Promise<BreakableProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const losing = { down: false, up: false };
  const dropped = { down: 0, up: 0 };
  const forward = (from: net.Socket, to: net.Socket, direction: ProxyDirection): void => {
    from.on('data', (chunk: Buffer) => {
      if (losing[direction]) dropped[direction] += chunk.length;
      else to.write(chunk);
    });
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    forward(client, upstream, 'up');
    forward(upstream, client, 'down');
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    lose: (direction) => {
      losing[direction] = true;
    },
    lost: (direction) => dropped[direction],
    cut: () => {
      const cut = pairs.size;
      for (const pair of [...pairs]) pair.forEach((socket) => socket.destroy());
      losing.down = false;
      losing.up = false;
      return cut;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const pair of pairs) pair.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}
