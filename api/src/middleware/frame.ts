/**
 * Everything every request gets, in one middleware layer: the security headers, the request
 * id, CORS, the error answer, `Connection: close` while draining, and the access log line.
 *
 * One layer rather than six because each Koa layer is an async function with its own promise
 * and dispatch: in a CPU profile under load the six cost about as much as Koa itself does for
 * a whole request (docs/performance.md). The parts stay in their own modules (`security-headers.ts`,
 * `request-id.ts`, `error-handler.ts`, `access-log.ts`, `../http/cors.ts`); this is their order:
 *
 * 1. Headers every response carries, and the request id, before anything can fail.
 * 2. CORS: a request without `Origin` is outside CORS, and gets only `Vary: Origin` (what
 *    @koa/cors itself does for it); with one, @koa/cors answers preflights and sets its headers.
 * 3. The rest of the app; anything thrown becomes an error in the path's shape.
 * 4. Once the answer is settled: `Connection: close` while draining (checked as the response
 *    goes out, so requests in flight when SIGTERM came are covered too), then the log line,
 *    which sees the final status.
 */
import type { Middleware } from 'koa';
import type { Clock } from '../clock.js';
import { corsMiddleware } from '../http/cors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { accessLog, type AccessLogState } from './access-log.js';
import { answerError } from './error-handler.js';
import { requestIdFor } from './request-id.js';
import { SECURITY_HEADER_ENTRIES } from './security-headers.js';

export interface FrameDeps {
  logger: Logger;
  clock: Clock;
  lifecycle: Lifecycle;
  /** `CORS_ORIGINS`. */
  corsOrigins: readonly string[];
}

export function requestFrame(deps: FrameDeps): Middleware<AccessLogState> {
  const { clock, lifecycle } = deps;
  const log = accessLog(deps.logger);
  const cors = corsMiddleware(deps.corsOrigins);
  return async (ctx, next) => {
    const startedMs = performance.now();
    const { req, res } = ctx;
    for (const [name, value] of SECURITY_HEADER_ENTRIES) res.setHeader(name, value);
    const sentId = req.headers['x-request-id'];
    const id = requestIdFor(typeof sentId === 'string' ? sentId : undefined);
    ctx.state.requestId = id;
    res.setHeader('X-Request-Id', id);
    try {
      try {
        if (req.headers.origin === undefined) {
          res.setHeader('Vary', 'Origin');
          await next();
        } else {
          await cors(ctx, next);
        }
      } catch (thrown) {
        answerError(ctx, thrown, clock);
      }
    } finally {
      if (lifecycle.draining) ctx.set('Connection', 'close');
      log(ctx, startedMs);
    }
  };
}
