/**
 * The HTTP server: opens the pool, listens with load-balancer-safe timeouts, and stops gracefully.
 *
 * Shutdown on SIGTERM/SIGINT: readiness goes 503, the listener stops accepting, idle
 * keep-alive connections close, in-flight requests get `shutdownGraceMs` (25 s) to finish and
 * their responses carry `Connection: close` (app.ts), then the pool closes and the process
 * exits 0. On ECS the task is already deregistered and drained when SIGTERM arrives, and
 * SIGKILL follows 30 s later (the task's stop timeout): the whole sequence fits inside it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app.js';
import { handleClientErrors } from './client-errors.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { createSql, type Sql } from './db.js';
import { createLifecycle, type Lifecycle } from './lifecycle.js';
import { createLogger, flushLogs, type Logger } from './logger.js';
import { warmUpValidators } from './schemas/validate.js';

/**
 * The ALB keeps idle connections for 60 s and may reuse one at any moment before that; if
 * Node closed it first, the ALB answers 502. So Node must keep them longer than the ALB
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html,
 * "Connection idle timeout": default 60 s; the application's should be larger).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/**
 * A request's headers must arrive within this. The ALB forwards a request once it has its
 * headers, so from the ALB they come at once; the limit is for anything that talks to the
 * task directly. (Node 22 times it from a request's first byte: an idle keep-alive socket is
 * not cut by it, so it may be shorter than KEEP_ALIVE_TIMEOUT_MS.)
 */
export const HEADERS_TIMEOUT_MS = 10_000;
/**
 * A whole request, body included, must arrive within this; beyond it the client gets 408 and
 * the connection closes. Node's default (300 s) let a client trickling its body hold a
 * connection for minutes. 30 s is far more than a 64 KiB body needs, and shorter than the
 * ALB's 60 s idle timeout, so a stalled upload gets the API's 408 rather than the ALB's cut.
 */
export const REQUEST_TIMEOUT_MS = 30_000;
/** How often Node checks those two timeouts (its default, 30 s, let a 30 s limit run to 60 s). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/**
 * Open connections per process; beyond it Node closes new ones at once. The ALB reuses its
 * connections (keep-alive above), so a task sees a few dozen under load; the cap bounds what
 * a flood of connections, idle or slow, can hold (sockets and parsers are memory).
 */
export const MAX_CONNECTIONS = 1_000;
/** How long the pool may take to close after the drain (the rest of ECS's 30 s). */
const POOL_CLOSE_TIMEOUT_S = 3;

/** A started API: its server, address, pool and lifecycle, and how to stop it. */
export interface RunningServer {
  server: Server;
  /** `http://host:port` as actually bound (port 0 picks a free one). */
  url: string;
  sql: Sql;
  lifecycle: Lifecycle;
  /** The graceful shutdown sequence; resolves when the pool is closed. */
  stop(): Promise<void>;
  /**
   * Settles when every request validator has compiled; rejects when a schema does not
   * compile. Unhandled, that rejection fails a test run; `main()` exits on it, so a broken
   * schema fails the deploy's health checks instead of answering 500s.
   */
  validatorsReady: Promise<void>;
}

/** Starts the API with an explicit configuration: used by `main()` and by tests. */
export async function startServer(
  config: Config,
  options: { logger?: Logger; clock?: Clock; keyCacheMax?: { known: number; unknown: number } } = {},
): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logLevel, version: config.version });
  const sql = createSql(config.database);
  const lifecycle = createLifecycle(clock.now());
  const app = buildApp({ config, sql, logger, clock, lifecycle, ...(options.keyCacheMax ? { keyCacheMax: options.keyCacheMax } : {}) });

  const handle = app.callback();
  // Koa's handler settles its own promise (errors go to the error middleware): nothing to await.
  const server = createServer(
    {
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    (request, response) => void handle(request, response),
  );
  server.maxConnections = MAX_CONNECTIONS;
  // Node's own 400/408/431 get the envelope and a request id.
  server.on('clientError', handleClientErrors({ clock, logger }));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      lifecycle.draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would otherwise hold `close` open until they time out.
      server.closeIdleConnections();
      const grace = setTimeout(() => {
        logger.warn({ grace_ms: config.shutdownGraceMs }, 'drain window over: closing remaining connections');
        server.closeAllConnections();
      }, config.shutdownGraceMs);
      await closed;
      clearTimeout(grace);
      await sql.end({ timeout: POOL_CLOSE_TIMEOUT_S });
    })();
    return stopping;
  };

  logger.info({ url, node: process.version, pool_max: config.database.poolMax }, 'listening');
  flushLogs();
  // Listening first answers /health sooner; the validators then compile in the background,
  // before real traffic (the ALB sends none until its health checks pass).
  const warmUpStarted = performance.now();
  const validatorsReady = warmUpValidators().then((count) => {
    logger.debug({ count, ms: Math.round(performance.now() - warmUpStarted) }, 'validators compiled');
  });
  return { server, url, sql, lifecycle, stop, validatorsReady };
}
