/**
 * A loopback TCP proxy for fault injection: put it between the API and PostgreSQL, then cut,
 * hold or restore the line while requests are in flight.
 *
 * ```ts
 * const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
 * const api = await startTestApi(proxy.databaseUrl(db.url));
 * proxy.cut();      // the database is gone: every connection reset, new ones refused
 * proxy.restore();  // it is back
 * proxy.hold();     // the database stops answering (bytes are kept, nothing is lost)
 * proxy.restore();  // everything held is delivered, in order
 * proxy.slow(20);   // answers trickle: one chunk per 20 ms, the server waits on the rest
 * await proxy.close();
 * ```
 *
 * - `cut()` resets (TCP RST) every open connection and every new one until `restore()`: what
 *   a crashed server, a restarted Neon compute or a dropped network path looks like.
 * - `hold()` stops forwarding in both directions on every connection, new ones included,
 *   buffering what arrives: what a server stuck on a lock or a saturated one looks like. The
 *   client's sockets stay open, so only a client-side deadline can end its wait.
 * - `slow(ms)` delivers what the server sends one chunk per `ms` and stops reading from the
 *   server meanwhile, so the server's sends block as on a congested path: a large result
 *   takes long to stream, and a deadline cuts it while its rows are still arriving.
 * - Counters (`accepted`, `open`) let a test prove that a connection was reused, not replaced;
 *   `held` (bytes waiting while held) proves that something reached the line and is stuck there.
 * - `port` in the options listens on a given port: a test can point a client at a port where
 *   nothing listens yet, then start the proxy there (the database comes up after the client).
 *
 * Used by the API's resilience tests and meant for the heavier ones (benchmarks under
 * faults): it has no dependency on the API.
 */
import { once } from 'node:events';
import net from 'node:net';

/** What the proxy does with traffic right now. */
export type ProxyMode = 'forward' | 'hold' | 'cut' | 'slow';

/** A running proxy and its controls. */
export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** The current mode. */
  readonly mode: ProxyMode;
  /** Connections accepted since start (cut ones included). */
  readonly accepted: number;
  /** Connections currently open through the proxy. */
  readonly open: number;
  /** Bytes kept by `hold()` and not yet delivered, both directions. */
  readonly held: number;
  /** `url` (a postgres:// URL) with its host and port replaced by the proxy's. */
  databaseUrl(url: string): string;
  /** Resets every open connection and refuses new ones until `restore()`. */
  cut(): void;
  /** Stops forwarding bytes (both directions, all connections) until `restore()`. */
  hold(): void;
  /** Server-to-client bytes trickle, one chunk per `delayMs`, until `restore()`. */
  slow(delayMs: number): void;
  /** Back to normal: delivers whatever `hold()` kept, accepts new connections. */
  restore(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** Bytes that arrived while held, with the socket they are for, in arrival order. */
  held: { to: net.Socket; chunk: Buffer }[];
}

/** Starts a proxy on 127.0.0.1 (a free port unless `options.port`) that forwards to `target`. */
export async function startTcpProxy(target: { host: string; port: number }, options: { port?: number } = {}): Promise<TcpProxy> {
  let mode: ProxyMode = 'forward';
  let slowDelayMs = 0;
  let accepted = 0;
  const pairs = new Set<Pair>();

  const destroyPair = (pair: Pair, reset: boolean): void => {
    pairs.delete(pair);
    for (const socket of [pair.client, pair.upstream]) {
      if (socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
  };

  const forward = (pair: Pair, from: net.Socket, to: net.Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (mode === 'hold') pair.held.push({ to, chunk });
      else if (mode === 'slow' && from === pair.upstream) {
        // Not reading meanwhile: the kernel's buffers fill and the server's sends wait.
        from.pause();
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
          from.resume();
        }, slowDelayMs);
      } else if (!to.destroyed) to.write(chunk);
    });
    // One side closing or failing closes the other: a half-open pair would only confuse tests.
    from.on('close', () => destroyPair(pair, false));
    from.on('error', () => destroyPair(pair, false));
  };

  const server = net.createServer((client) => {
    accepted += 1;
    if (mode === 'cut') {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const pair: Pair = { client, upstream, held: [] };
    pairs.add(pair);
    forward(pair, client, upstream);
    forward(pair, upstream, client);
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;

  return {
    port,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    get held() {
      let bytes = 0;
      for (const pair of pairs) for (const { chunk } of pair.held) bytes += chunk.length;
      return bytes;
    },
    databaseUrl(url: string): string {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    cut(): void {
      mode = 'cut';
      for (const pair of [...pairs]) destroyPair(pair, true);
    },
    hold(): void {
      if (mode === 'forward') mode = 'hold';
    },
    slow(delayMs: number): void {
      slowDelayMs = delayMs;
      if (mode === 'forward') mode = 'slow';
    },
    restore(): void {
      mode = 'forward';
      for (const pair of pairs) {
        for (const { to, chunk } of pair.held.splice(0)) if (!to.destroyed) to.write(chunk);
      }
    },
    async close(): Promise<void> {
      for (const pair of [...pairs]) destroyPair(pair, false);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
