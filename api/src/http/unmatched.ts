/**
 * The answers of the route and method checks, for requests no route took: 404 for a path no
 * route has, 405 (with `Allow`) for a path some route has under other methods, both as
 * envelopes. @koa/router works out which (`allowedMethods`); this turns its bare statuses
 * into the contract's errors. A plain `OPTIONS` gets 200 with `Allow`.
 */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { ApiError } from '../errors.js';

/** The contract's 404 for a path no route has. */
export function routeNotFound(method: string, path: string): ApiError {
  return new ApiError('not_found', `No route for ${method} ${path}`);
}

/** The last middleware, right after `router.routes()`. */
export function unmatchedRequests<StateT>(router: Router<StateT>): Middleware<StateT> {
  const allowedMethods = router.allowedMethods() as unknown as Middleware<StateT>;
  return async (ctx) => {
    // allowedMethods looks at the status once the rest of the chain ran: no route, 404.
    await allowedMethods(ctx, async () => {
      ctx.status = 404;
    });
    // 501: a method the router does not know at all (e.g. PROPFIND); for the client it is as
    // much a wrong method for this path (or no route, when no path matched).
    if (ctx.status === 405 || ctx.status === 501) {
      const allow = ctx.response.get('Allow');
      if (allow === '') throw routeNotFound(ctx.method, ctx.path);
      throw new ApiError('method_not_allowed', `${ctx.method} is not allowed here; allowed: ${allow}`, { headers: { Allow: allow } });
    }
    if (ctx.status === 404) throw routeNotFound(ctx.method, ctx.path);
  };
}
