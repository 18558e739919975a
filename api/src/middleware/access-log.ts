/**
 * One JSON log line per request: request id, method, route pattern (never the raw path with
 * its ids), status, duration, the key's name (never the key) and the user id. A 5xx also logs
 * the error with its stack: in the log only.
 */
import type { Context } from 'koa';
import { flushLogs, requestLineWriter, type Logger, type RequestLine } from '../logger.js';
import type { ErrorState } from './error-handler.js';

export interface AccessLogState extends ErrorState {
  /** Set by the auth middleware: the service key's name. */
  keyName?: string;
  /** Set by the transports once the body or path names a user. */
  userId?: string;
}

/** Writes a request's line once its answer is settled; `frame.ts` calls it for every request. */
export type AccessLog = (ctx: Context & { state: AccessLogState }, startedMs: number) => void;

/** The access log of `logger`: `startedMs` is `performance.now()` when the request came in. */
export function accessLog(logger: Logger): AccessLog {
  const writeRequestLine = requestLineWriter(logger);
  return (ctx, startedMs) => {
    const { requestId, keyName, userId, error } = ctx.state;
    const line: RequestLine = {
      request_id: requestId,
      method: ctx.method,
      // @koa/router sets `_matchedRoute` to the pattern (`/v1/users/:user_id/tasks`).
      route: (ctx as { _matchedRoute?: string })._matchedRoute ?? null,
      status: ctx.status,
      duration_ms: Math.round((performance.now() - startedMs) * 100) / 100,
      key_name: keyName ?? null,
      user_id: userId ?? null,
    };
    if (ctx.status >= 500) {
      logger.error({ ...line, err: error }, 'request failed');
      flushLogs();
    } else {
      writeRequestLine(line);
    }
  };
}
