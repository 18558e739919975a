/**
 * CORS (@koa/cors): only origins listed in `CORS_ORIGINS` get CORS headers; any other origin
 * gets none, so browsers refuse it. A preflight (`OPTIONS` with
 * `Access-Control-Request-Method`) needs no key. `*` is accepted outside production only
 * (`config.ts` refuses it there). Credentials are allowed (`Access-Control-Allow-Credentials:
 * true`), as the earlier service allowed them for the Cat House web app.
 */
import cors from '@koa/cors';
import type { Middleware } from 'koa';

/** The contract's headers, plus X-Request-Id so browsers can correlate. */
export const CORS_ALLOWED_HEADERS = ['X-API-Key', 'X-Service-Key', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'];
/** Response headers a browser client may read. */
export const CORS_EXPOSED_HEADERS = ['X-Request-Id', 'Location', 'Retry-After', 'Idempotent-Replayed'];
/** Browsers may cache a preflight this long (10 minutes; Chrome caps it at 2 hours). */
export const CORS_MAX_AGE_S = 600;

/** CORS for exactly these origins (`CORS_ORIGINS`); `*` means any (refused in production by config). */
export function corsMiddleware(origins: readonly string[]): Middleware {
  const anyOrigin = origins.includes('*');
  const allowed = new Set(origins);
  return cors({
    // An empty answer means "no CORS headers" to @koa/cors.
    origin: (ctx) => {
      const origin = ctx.get('Origin');
      if (origin === '') return '';
      return anyOrigin ? '*' : allowed.has(origin) ? origin : '';
    },
    allowMethods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    allowHeaders: CORS_ALLOWED_HEADERS,
    exposeHeaders: CORS_EXPOSED_HEADERS,
    maxAge: CORS_MAX_AGE_S,
    // @koa/cors then answers a listed origin by name, never `*` (browsers refuse credentials with `*`).
    credentials: true,
  });
}
