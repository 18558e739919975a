/**
 * What the resilience tests share: the 503 a database fault must produce, a watch on unhandled
 * rejections, and the deadlines their waits poll up to.
 */
import { expect } from 'chai';
import type { ApiResponse } from './api-client.js';

/** The contract's answer to a database fault: 503 `unavailable`, Retry-After, an envelope. */
export function expectUnavailable(response: ApiResponse): void {
  expect(response.status, response.text).to.equal(503);
  expect(response.headers['retry-after']).to.equal('2');
  expect(response.json).to.include({ success: false, data: null });
  expect(Object.keys(response.error ?? {}).sort()).to.deep.equal(['code', 'message', 'request_id']);
  expect(response.error).to.include({ code: 'unavailable', message: 'The database is unavailable; retry shortly' });
  expect(response.error?.request_id).to.equal(response.headers['x-request-id']);
}

/** Records unhandled rejections while the calling `describe` runs: a fault must never produce one. */
export function watchUnhandledRejections(): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  before(() => process.on('unhandledRejection', listener));
  after(() => process.off('unhandledRejection', listener));
  return seen;
}

/**
 * `ms` scaled by `CHAPI_TEST_DEADLINE_SCALE` (default 1): every deadline a resilience test
 * polls up to goes through this, so a slow machine can stretch them all at once
 * (`CHAPI_TEST_DEADLINE_SCALE=3 npm test`) instead of a test failing on speed.
 */
export function deadline(ms: number): number {
  const scale = Number(process.env.CHAPI_TEST_DEADLINE_SCALE ?? '1');
  return Number.isFinite(scale) && scale > 0 ? Math.ceil(ms * scale) : ms;
}
