/**
 * Every route of the API is a `RouteDefinition`: method, path, who may call it, its handler,
 * and its documentation (schemas, examples, errors). The router (`buildRouter`) and the
 * OpenAPI document (`openapi.ts`) are both built from the same list, so neither can mention a
 * route the other lacks (a test checks it on the running app).
 *
 * Where each route lives: `/execute` in `transports/execute.ts`, `/v1/*` in
 * `transports/v1.ts`, `/admin/*` in `transports/admin.ts`, `/health*` in `health.ts`,
 * `/`, `/docs*` and `/openapi.json` in `docs.ts`.
 */
import Router, { type RouterContext } from '@koa/router';
import type { Middleware } from 'koa';
import { requireAdminKey, type AuthState, type ServiceKeyAuth } from './auth.js';
import type { RateLimiter } from './rate-limit.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Db } from './db.js';
import type { ErrorCode } from './errors.js';
import type { RunOnce } from './idempotency/once.js';
import type { Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';
import type { JsonSchema } from './schemas/common.js';
import type { TaskDeps } from './tasks/operations.js';

/** The state every request carries (request id, error, key name, user id, service key). */
export type AppState = AuthState;
/** What a route handler sees. */
export type RouteContext = RouterContext<AppState>;

/** The app's long-lived parts, handed to every handler. */
export interface Services {
  config: Config;
  db: Db;
  clock: Clock;
  logger: Logger;
  lifecycle: Lifecycle;
  /** What the task operations need. */
  tasks: TaskDeps;
  /** Runs an operation at most once per `Idempotency-Key` (`idempotency/once.ts`). */
  runOnce: RunOnce;
  /** The OpenAPI document this app serves, as JSON text (built once). */
  openApiJson: string;
  /** This process's memory of service keys: a key action through it must `forget` the name. */
  serviceKeys: Pick<ServiceKeyAuth, 'forget'>;
}

/** The methods routes are registered with (HEAD comes with GET, OPTIONS is answered for all). */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * Who may call a route: anyone, a service key (`X-API-Key`/`X-Service-Key`) or the admin key
 * (`X-Admin-Key`). The key is checked after the route and method, before anything else.
 */
export type RouteAuth = 'none' | 'service' | 'admin';

/** A documented response. Enveloped responses give `data`, others `content`. */
export interface ResponseDoc {
  description: string;
  /** The `data` of a success envelope. */
  data?: JsonSchema;
  /** A non-envelope body (health, docs), by media type. */
  content?: Record<string, { schema: JsonSchema; example?: unknown }>;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  example?: unknown;
}

/** A request header the route reads, besides the keys. */
export interface HeaderDoc {
  name: string;
  description: string;
  schema: JsonSchema;
}

/** The route's part of the OpenAPI document. */
export interface RouteDoc {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Path parameters: an object schema whose properties are the path's `:name`s. */
  params?: JsonSchema;
  query?: JsonSchema;
  headers?: HeaderDoc[];
  body?: { schema: JsonSchema; examples?: Record<string, { summary: string; value: unknown }> };
  /** Success responses by status. */
  responses: Record<number, ResponseDoc>;
  /**
   * Errors this operation itself can answer (404, 409, 400 unknown_action), with the status
   * where the route answers a code with another than its usual one. The checks every route of
   * its kind makes (401, 413, 415, 400, 422, 503, 500) are added by `openapi.ts`.
   */
  errors?: (ErrorCode | { code: ErrorCode; status: number })[];
  /** Whether the route reads a request body (and so can answer 413, 415, 400). */
  readsBody: boolean;
  /** Whether the route uses the database (and so can answer 503). */
  usesDatabase: boolean;
}

/** One route: how it is reached, who may call it, what it does, how it is documented. */
export interface RouteDefinition {
  method: HttpMethod;
  /** Koa pattern: `/v1/users/:user_id/tasks`. */
  path: string;
  auth: RouteAuth;
  doc: RouteDoc;
  handle(ctx: RouteContext, services: Services): Promise<void> | void;
}

/** Router options: paths are matched exactly as documented (case and trailing slash). */
const ROUTER_OPTIONS = { sensitive: true, strict: true } as const;

/** The routes, ready to serve. */
export interface Routing {
  /** Every route (and the 404/405 answers, through `http/unmatched.ts`). */
  router: Router<AppState>;
  /**
   * The routes without path parameters (`/execute`, `/health`, `/openapi.json`…), found by one
   * lookup ahead of the router; anything else goes on to the router. @koa/router tests every
   * route's pattern in turn and composes the matched chain anew on each request: ~10 µs a
   * request with this API's routes, a sixth of /health's CPU (docs/performance.md). A path
   * here is matched exactly, as the router matches it (case-sensitive, strict slashes), and
   * GET routes answer HEAD, as the router's do.
   */
  exact: Middleware<AppState>;
}

/**
 * The routing of these routes: each gets its key check (if any) and then its handler. Admin
 * routes need `adminApiKey`; callers leave them out when it is unset (then they do not exist).
 */
export function buildRouting(
  routes: readonly RouteDefinition[],
  services: Services,
  auth: { serviceKey: ServiceKeyAuth; adminApiKey: string | undefined; limiter?: RateLimiter },
): Routing {
  const router = new Router<AppState>(ROUTER_OPTIONS);
  const exactRoutes = new Map<string, { path: string; chain: Middleware<AppState> }>();
  const serviceKey = auth.serviceKey.middleware();
  const adminKey = auth.adminApiKey === undefined ? undefined : requireAdminKey(auth.adminApiKey, auth.limiter);
  /** The key check a route's `auth` asks for: none, or exactly one. */
  const guardOf = (route: RouteDefinition): Middleware<AppState> | undefined => {
    if (route.auth === 'none') return undefined;
    if (route.auth === 'service') return serviceKey;
    if (adminKey === undefined) throw new Error(`${route.method} ${route.path} needs ADMIN_API_KEY`);
    return adminKey;
  };
  for (const route of routes) {
    const guard = guardOf(route);
    const handler = (ctx: RouteContext) => route.handle(ctx, services);
    router.register(route.path, [route.method], [...(guard === undefined ? [] : [guard]), handler] as never[]);
    if (!route.path.includes(':')) {
      // The same chain, composed once: the guard, then the handler (which answers: like the
      // router's last layer, it never goes on).
      const answer = (ctx: RouteContext): Promise<void> => Promise.resolve(handler(ctx));
      const chain: Middleware<AppState> =
        guard === undefined ? (ctx) => answer(ctx as RouteContext) : (ctx) => guard(ctx, () => answer(ctx as RouteContext));
      for (const method of route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]) exactRoutes.set(`${method} ${route.path}`, { path: route.path, chain });
    }
  }
  const exact: Middleware<AppState> = (ctx, next) => {
    const found = exactRoutes.get(`${ctx.method} ${ctx.path}`);
    if (found === undefined) return next();
    // What @koa/router sets for a match: the pattern (the access log's route) and no parameters.
    const routed = ctx as RouteContext & { _matchedRoute: string };
    routed._matchedRoute = found.path;
    routed.params = {};
    return found.chain(ctx, next);
  };
  return { router, exact };
}

/** `:name` segments → `{name}`: the OpenAPI spelling of a Koa path. */
export function openApiPath(path: string): string {
  return path.replaceAll(/:([A-Za-z_]+)/g, '{$1}');
}
