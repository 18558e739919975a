/**
 * What the resilience tests share: the API behind a fault-injecting proxy, the 503 a database
 * fault must produce, a watch on unhandled rejections, and the deadlines their waits poll up to.
 */
import { expect } from 'chai';
import type { RunningServer } from '../../src/server.js';
import { apiClient, type ApiClient, type ApiResponse } from './api-client.js';
import { createTestKey, startTestApi, type TestApiOptions } from './api.js';
import type { TestDatabase } from './databases.js';
import { suiteScoped } from './suite-scoped.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** An API whose every database connection goes through `proxy` (cut, hold, restore). */
export interface ApiBehindProxy {
  proxy: TcpProxy;
  api: RunningServer;
  /** A client holding a fresh service key. */
  client: ApiClient;
  /** Stops the API (gracefully), then the proxy. */
  stop(): Promise<void>;
}

/**
 * Starts a TCP proxy in front of `db` and the API behind it, configured by `env` and, where a
 * test needs them, the other `startTestApi` options (a manual clock, cache sizes).
 */
export async function startApiBehindProxy(
  db: TestDatabase,
  env: Record<string, string>,
  options: Omit<TestApiOptions, 'env'> = {},
): Promise<ApiBehindProxy> {
  const target = new URL(db.url);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  const api = await startTestApi(proxy.databaseUrl(db.url), { ...options, env });
  const stop = async (): Promise<void> => {
    await api.stop();
    await proxy.close();
  };
  return { proxy, api, client: apiClient(api.url, { key: await createTestKey(db.sql) }), stop };
}

/**
 * `startApiBehindProxy` for a whole `describe`: started before its tests, stopped after them,
 * the proxy restored (a test may have cut it) after each. Read `api` and `proxy` inside tests
 * and hooks.
 */
export function useApiBehindProxy(
  db: TestDatabase,
  env: Record<string, string>,
  options: Omit<TestApiOptions, 'env'> = {},
): Pick<ApiBehindProxy, 'api' | 'proxy'> {
  const current = suiteScoped(
    'the API behind the proxy starts',
    () => startApiBehindProxy(db, env, options),
    (setup) => setup.stop(),
  );
  afterEach(() => current().proxy.restore());
  return {
    get api() {
      return current().api;
    },
    get proxy() {
      return current().proxy;
    },
  };
}

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
