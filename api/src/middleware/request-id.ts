/**
 * `X-Request-Id`: the caller's, when it is sane (the contract: up to 128 characters of
 * `[A-Za-z0-9._:-]`), else a fresh UUID. Set on every response, before anything can fail.
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RequestIdState {
  requestId: string;
}

export function requestId(): Middleware<RequestIdState> {
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    const id = SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    await next();
  };
}
