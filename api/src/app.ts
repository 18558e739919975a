/**
 * Builds the Koa application from its parts. It listens on nothing: `server.ts` does that,
 * and tests drive the app over real HTTP on an ephemeral port.
 *
 * Order matters, and follows the contract's check order: the request frame comes first
 * (`middleware/frame.ts`: the request id so every response and log line has one, CORS
 * preflights answered before any route exists, errors in the path's shape, the access log
 * seeing the final status); then the route (404), the method (405), the key (401, per route)
 * and the route's own body and schema checks.
 */
import Koa from 'koa';
import { ServiceKeyAuth } from './auth.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { Sql } from './db.js';
import { docsRoutes } from './docs.js';
import { healthRoutes } from './health.js';
import { unmatchedRequests } from './http/unmatched.js';
import { idempotentRuns } from './idempotency/once.js';
import { createLifecycle, type Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import { requestFrame } from './middleware/frame.js';
import { buildOpenApiDocument } from './openapi.js';
import { RateLimiter } from './rate-limit.js';
import { buildRouting, type AppState, type RouteDefinition, type Services } from './routes.js';
import { adminRoutes } from './transports/admin.js';
import { executeRoute } from './transports/execute.js';
import { v1Routes } from './transports/v1.js';

/** The state every request carries; defined with the routes. */
export type { AppState } from './routes.js';

/** What the app is built from: the long-lived parts `server.ts` (or a test) creates. */
export interface AppDeps {
  config: Config;
  sql: Sql;
  logger: Logger;
  /** @default systemClock */
  clock?: Clock;
  /** @default a fresh lifecycle, started now */
  lifecycle?: Lifecycle;
  /** Sizes of the service-key caches (tests make them small). @default auth.ts's */
  keyCacheMax?: { known: number; unknown: number };
}

/** Every route this configuration serves: the `/admin` routes only with `ADMIN_API_KEY`. */
export function appRoutes(config: Pick<Config, 'adminApiKey'>): RouteDefinition[] {
  return [
    ...docsRoutes,
    ...healthRoutes,
    executeRoute,
    ...v1Routes,
    ...(config.adminApiKey === undefined ? [] : adminRoutes),
  ];
}

/** The Koa app for this configuration: middleware in check order, then the router. */
export function buildApp(deps: AppDeps): Koa<AppState> {
  const { config, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const lifecycle = deps.lifecycle ?? createLifecycle(clock.now());
  const db = { sql: deps.sql, queryTimeoutMs: config.database.statementTimeoutMs };
  const routes = appRoutes(config);
  const limiter = new RateLimiter(config.rateLimit, clock);
  const serviceKey = new ServiceKeyAuth({
    db,
    clock,
    logger,
    productionOnly: config.nodeEnv === 'production',
    limiter,
    ...(deps.keyCacheMax === undefined ? {} : { cacheMax: deps.keyCacheMax }),
  });
  const services: Services = {
    config,
    db,
    clock,
    logger,
    lifecycle,
    tasks: { db },
    runOnce: idempotentRuns({ db, clock, logger }),
    openApiJson: JSON.stringify(buildOpenApiDocument(routes, { version: config.version })),
    serviceKeys: serviceKey,
  };
  const { router, exact } = buildRouting(routes, services, { serviceKey, adminApiKey: config.adminApiKey, limiter });

  const app = new Koa<AppState>();
  // The ALB terminates TLS and appends the client address to X-Forwarded-For.
  app.proxy = true;
  // Errors are logged once, by the access log; Koa's default handler would print them again.
  app.silent = true;

  // Headers, request id, CORS, errors, draining and the access log: one layer (`middleware/frame.ts`).
  app.use(requestFrame({ logger, clock, lifecycle, corsOrigins: config.corsOrigins }));
  // Paths without parameters by one lookup, then the router for the rest (`routes.ts`).
  app.use(exact);
  app.use(router.routes());
  // Nothing matched: 404 or 405, as envelopes.
  app.use(unmatchedRequests(router));
  return app;
}
