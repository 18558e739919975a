/**
 * Builds the Koa application from its parts. It listens on nothing: `server.ts` does that,
 * and tests drive the app over real HTTP on an ephemeral port.
 *
 * Order matters: the request id comes first so every response and log line has one; the
 * access log wraps the error handler so it sees the final status.
 */
import Koa from 'koa';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { Sql } from './db.js';
import { failure } from './envelope.js';
import { healthRouter } from './health.js';
import { createLifecycle, type Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { accessLog, type AccessLogState } from './middleware/access-log.js';
import { errorHandler } from './middleware/error-handler.js';
import { requestId } from './middleware/request-id.js';

export interface AppDeps {
  config: Config;
  sql: Sql;
  logger: Logger;
  /** @default systemClock */
  clock?: Clock;
  /** @default a fresh lifecycle, started now */
  lifecycle?: Lifecycle;
}

export type AppState = AccessLogState;

export function buildApp(deps: AppDeps): Koa<AppState> {
  const clock = deps.clock ?? systemClock;
  const lifecycle = deps.lifecycle ?? createLifecycle(clock.now());
  const app = new Koa<AppState>();
  // The ALB terminates TLS and appends the client address to X-Forwarded-For.
  app.proxy = true;
  // Errors are logged once, by the access log; Koa's default handler would print them again.
  app.silent = true;

  app.use(requestId());
  app.use(accessLog(deps.logger));
  app.use(errorHandler(clock));

  const health = healthRouter({ sql: deps.sql, lifecycle, version: deps.config.version, now: () => clock.now() });
  app.use(health.routes());

  // Nothing matched: the contract's 404 envelope.
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = failure({ code: 'not_found', message: `No route for ${ctx.method} ${ctx.path}` }, clock.now());
  });
  return app;
}
