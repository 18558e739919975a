/**
 * Database faults (../shared/spec/api.md: 503 `unavailable` with Retry-After; the issue: fail
 * fast, recover by itself, never pile requests up). A loopback TCP proxy between the API and
 * PostgreSQL cuts or holds the line while requests are in flight.
 *
 * Time bounds here are deliberately loose (seconds where the API needs milliseconds): they
 * tell "answered at once" from "waited for a deadline", never measure speed.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { RunningServer } from '../src/server.js';
import { waitFor } from '../../scripts/lib/wait.js';
import { apiClient, request, type ApiClient, type ApiResponse } from '../../test/support/api-client.js';
import { createTestKey, startTestApi } from '../../test/support/api.js';
import { useTestDatabase } from '../../test/support/databases.js';
import { startTcpProxy, type TcpProxy } from '../../test/support/tcp-proxy.js';

function expectUnavailable(response: ApiResponse): void {
  expect(response.status, response.text).to.equal(503);
  expect(response.headers['retry-after']).to.equal('2');
  expect(response.json).to.include({ success: false, data: null });
  expect(Object.keys(response.error ?? {}).sort()).to.deep.equal(['code', 'message', 'request_id']);
  expect(response.error).to.include({ code: 'unavailable', message: 'The database is unavailable; retry shortly' });
  expect(response.error?.request_id).to.equal(response.headers['x-request-id']);
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work;
  return { value, ms: performance.now() - started };
}

/** Records unhandled rejections while a suite runs: a fault must never produce one. */
function watchUnhandledRejections(): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  before(() => process.on('unhandledRejection', listener));
  after(() => process.off('unhandledRejection', listener));
  return seen;
}

describe('resilience: the database goes away', () => {
  const db = useTestDatabase();
  const unhandled = watchUnhandledRejections();
  const STATEMENT_TIMEOUT_MS = 10_000;
  let proxy: TcpProxy;
  let api: RunningServer;
  let client: ApiClient;

  before(async () => {
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    api = await startTestApi(proxy.databaseUrl(db.url), { env: { DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) } });
    client = apiClient(api.url, { key: await createTestKey(db.sql) });
  });
  after(async () => {
    await api.stop();
    await proxy.close();
  });
  afterEach(() => {
    proxy.restore();
  });

  it('answers 503 with Retry-After at once (not after a timeout), then recovers without a restart', async () => {
    const userId = `u-${randomUUID()}`;
    const created = await client.execute('create-task', userId, { title: 'before the cut' });
    expect(created.status).to.equal(200);

    proxy.cut();
    for (const attempt of [
      () => client.execute('get-task', userId, { task_id: created.data.id }),
      () => client.execute('create-task', userId, { title: 'during the cut' }),
      () => client.get(`/v1/users/${userId}/stats`),
      () => client.execute('list-tasks', userId),
    ]) {
      const { value, ms } = await timed(attempt());
      expectUnavailable(value);
      expect(ms, 'a refused connection fails fast').to.be.below(STATEMENT_TIMEOUT_MS / 2);
    }
    // Liveness does not touch the database: the load balancer keeps the task.
    expect((await request(api.url, 'GET', '/health')).status).to.equal(200);
    const ready = await request(api.url, 'GET', '/health/ready');
    expect(ready.status).to.equal(503);
    expect(ready.json).to.deep.equal({ status: 'unavailable', database: 'unreachable' });

    proxy.restore();
    await waitFor(async () => (await client.execute('get-task', userId, { task_id: created.data.id })).status === 200, {
      timeoutMs: 15_000,
      what: 'the API to serve again after the database came back',
    });
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from tasks where user_id = ${userId}`;
    expect(row?.n, 'nothing half-written during the cut').to.equal(1);
    expect((await request(api.url, 'GET', '/health/ready')).status).to.equal(200);
  });

  it('survives connections reset in the middle of queries, many at once', async () => {
    const userId = `u-${randomUUID()}`;
    const inFlight = Array.from({ length: 30 }, (_, index) => client.execute('create-task', userId, { title: `burst ${index}` }));
    proxy.cut();
    const responses = await Promise.all(inFlight);
    for (const response of responses) expect([200, 503], response.text).to.include(response.status);
    proxy.restore();
    await waitFor(async () => (await client.execute('get-stats', userId)).status === 200, { timeoutMs: 15_000, what: 'recovery' });
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from tasks where user_id = ${userId}`;
    // Every 200 is a stored task; no 503 left one behind.
    expect(row?.n).to.equal(responses.filter((response) => response.status === 200).length);
    expect(unhandled).to.deep.equal([]);
  });
});

describe('resilience: the database stops answering', () => {
  const db = useTestDatabase();
  const unhandled = watchUnhandledRejections();
  const STATEMENT_TIMEOUT_MS = 1_000;
  let proxy: TcpProxy;
  let api: RunningServer;
  let client: ApiClient;

  before(async () => {
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    // One connection: whatever the hold does to it, it must serve again afterwards.
    api = await startTestApi(proxy.databaseUrl(db.url), {
      env: { DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS), DB_POOL_MAX: '1' },
    });
    client = apiClient(api.url, { key: await createTestKey(db.sql) });
    expect((await client.execute('get-stats', 'warm-up')).status).to.equal(200);
  });
  after(async () => {
    await api.stop();
    await proxy.close();
  });
  afterEach(() => {
    proxy.restore();
  });

  it('a held query answers 503 at the statement timeout, and the connection serves again', async () => {
    proxy.hold();
    const { value, ms } = await timed(client.execute('get-stats', 'held'));
    expectUnavailable(value);
    expect(ms).to.be.at.least(STATEMENT_TIMEOUT_MS - 50);
    expect(ms, 'within the timeout, not long after').to.be.below(STATEMENT_TIMEOUT_MS + 4_000);
    proxy.restore();
    await waitFor(async () => (await client.execute('get-stats', 'after')).status === 200, { timeoutMs: 10_000, what: 'the pool to serve again' });
    expect(unhandled).to.deep.equal([]);
  });

  it('requests never pile up behind a stuck database: each gets its 503 at its own deadline', async () => {
    proxy.hold();
    const { value: responses, ms } = await timed(Promise.all(Array.from({ length: 20 }, () => client.execute('get-stats', 'queue'))));
    for (const response of responses) expectUnavailable(response);
    expect(ms, '20 requests on a 1-connection pool do not wait 20 timeouts').to.be.below(STATEMENT_TIMEOUT_MS + 4_000);
    proxy.restore();
    await waitFor(async () => (await client.execute('get-stats', 'after-queue')).status === 200, { timeoutMs: 10_000, what: 'recovery' });
  });

  it('readiness answers 503 within 2 s while liveness stays 200', async () => {
    proxy.hold();
    const { value, ms } = await timed(request(api.url, 'GET', '/health/ready'));
    expect(value.status).to.equal(503);
    expect(value.json).to.deep.equal({ status: 'unavailable', database: 'unreachable' });
    expect(ms).to.be.below(2_000 + 2_000);
    expect((await request(api.url, 'GET', '/health')).status).to.equal(200);
  });

  it('a cancel that cannot reach the database (it is gone) does not crash the process', async () => {
    proxy.hold();
    expectUnavailable(await client.execute('get-stats', 'cancel-fails'));
    // The CancelRequest's connection is held too; cutting resets it: its promise rejects.
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 200));
    proxy.restore();
    await waitFor(async () => (await client.execute('get-stats', 'alive')).status === 200, { timeoutMs: 10_000, what: 'recovery' });
    expect(unhandled).to.deep.equal([]);
  });
});

describe('resilience: a statement outlives the timeout (as behind Neon\'s pooler)', () => {
  const db = useTestDatabase();
  const STATEMENT_TIMEOUT_MS = 1_000;
  let api: RunningServer;
  let client: ApiClient;

  before(async () => {
    // DB_PREPARE=off is how the API talks to a PgBouncer pooler: no server-side
    // statement_timeout either, so only the API's own deadline and cancel can end a statement.
    api = await startTestApi(db.url, { env: { DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS), DB_PREPARE: 'off', DB_POOL_MAX: '2' } });
    client = apiClient(api.url, { key: await createTestKey(db.sql) });
  });
  after(async () => {
    await api.stop();
  });

  it('answers 503 at the deadline and cancels the statement in PostgreSQL', async () => {
    const userId = `u-${randomUUID()}`;
    const id = (await client.execute('create-task', userId, { title: 'locked' })).data.id as string;
    const waiting = async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = 'chapi-api' and wait_event_type = 'Lock'`;
      return row?.n ?? -1;
    };
    const holder = await db.sql.reserve();
    try {
      await holder`begin`;
      await holder`select id from tasks where id = ${id} for update`;
      const { value, ms } = await timed(client.execute('update-task', userId, { task_id: id, title: 'blocked' }));
      expectUnavailable(value);
      expect(ms).to.be.below(STATEMENT_TIMEOUT_MS + 4_000);
      // The lock is still held: only a cancel from the API can have ended the wait.
      await waitFor(async () => (await waiting()) === 0, { timeoutMs: 5_000, what: "the API's statement to be cancelled" });
      await holder`rollback`;
    } finally {
      holder.release();
    }
    const [row] = await db.sql`select title from tasks where id = ${id}`;
    expect(row?.title, 'the cancelled update changed nothing').to.equal('locked');
    const after = await client.execute('update-task', userId, { task_id: id, title: 'free' });
    expect(after.status).to.equal(200);
  });
});
