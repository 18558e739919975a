/**
 * Turns anything thrown below it into an error in its path's shape (`envelope.ts`). A 4xx says
 * what was wrong; a 5xx says only `internal` or `unavailable` and the request id (the stack,
 * the SQL and the driver's message go to the log, never to the client).
 */
import type { Context } from 'koa';
import type { Clock } from '../clock.js';
import { toApiError } from '../errors.js';
import { errorShapeOf, failure } from '../envelope.js';
import type { RequestIdState } from './request-id.js';

export interface ErrorState extends RequestIdState {
  /** The original error, for the access log (which logs its stack). */
  error?: unknown;
}

/** Answers `thrown` in the shape of the request's path; `frame.ts` calls it for anything thrown below it. */
export function answerError(ctx: Context & { state: ErrorState }, thrown: unknown, clock: Clock): void {
  const apiError = toApiError(thrown);
  ctx.state.error = thrown;
  const isServerError = apiError.status >= 500;
  ctx.status = apiError.status;
  for (const [name, value] of Object.entries(apiError.headers)) ctx.set(name, value);
  ctx.body = failure(
    errorShapeOf(ctx.path),
    {
      code: apiError.code,
      message: apiError.message,
      ...(apiError.details === undefined ? {} : { details: apiError.details }),
      ...(isServerError ? { request_id: ctx.state.requestId } : {}),
    },
    clock.now(),
  );
}
