import { createServer, type Server, Socket } from 'node:net';
import { freePort } from '../../../local/dynamodb-local';
import { LOOPBACK } from '../../../local/server-processes';

/**
 * A TCP proxy of the suite's own, one per network link (monitor → node, replica → its primary), so a test
 * can partition one link and leave the others alone.
 *
 * `cut()` is a blackhole, not a reset: bytes stop flowing both ways on the open connections (they are kept
 * open, their data dropped) and new connections are accepted but never relayed or answered. A partition
 * is seen as timeouts, as on a real network, never as a refused connection (which would tell a client
 * "nothing listens here" and count as a positive fence). `heal()` ends the held connections (as a
 * network that comes back after the peers' TCP timers gave up) and relays new ones again.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<{ client: Socket; upstream?: Socket }>();
  readonly #held = new Set<Socket>();
  #cut = false;

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly targetHost: string,
    readonly targetPort: number,
  ) {
    this.#server = createServer((client) => this.#accept(client));
    this.#server.on('error', () => undefined);
  }

  /** Starts a proxy on a free loopback port relaying to `target`. */
  static async start(name: string, target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(name, await freePort(), target.host, target.port);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(proxy.port, LOOPBACK, () => resolve());
    });
    return proxy;
  }

  get isCut(): boolean {
    return this.#cut;
  }

  #accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.#cut) {
      // Accepted at the TCP level (as a SYN answered by nobody would time out); never relayed.
      this.#held.add(client);
      client.on('data', () => undefined);
      client.once('close', () => this.#held.delete(client));
      return;
    }
    const pair: { client: Socket; upstream?: Socket } = { client };
    this.#pairs.add(pair);
    const upstream = new Socket();
    pair.upstream = upstream;
    upstream.on('error', () => undefined);
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', end);
    upstream.once('close', end);
    client.on('data', (chunk: Buffer) => {
      if (!this.#cut) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!this.#cut) client.write(chunk);
    });
    upstream.connect(this.targetPort, this.targetHost);
  }

  /** Blackholes the link: nothing relayed either way, new connections held unanswered. */
  cut(): void {
    this.#cut = true;
  }

  /** Relays again; the connections that were held or stalled during the cut are ended. */
  heal(): void {
    if (!this.#cut) return;
    this.#cut = false;
    for (const socket of this.#held) socket.destroy();
    this.#held.clear();
    for (const pair of [...this.#pairs]) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
  }

  /**
   * The server behind the proxy is gone (crashed, killed): the proxy stops listening, so a connection is
   * refused as it would be on the server's own host (a relay that accepted and then closed would look like
   * a server answering badly, not a dead one).
   */
  async targetDown(): Promise<void> {
    if (!this.#server.listening) return;
    for (const pair of [...this.#pairs]) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The server is back: listen again on the same port. */
  async targetUp(): Promise<void> {
    if (this.#server.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.port, LOOPBACK, () => {
        this.#server.removeListener('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and ends every connection. */
  async close(): Promise<void> {
    for (const socket of this.#held) socket.destroy();
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
