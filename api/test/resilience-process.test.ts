/**
 * Resilience of the API process itself (the issue's "Resilience tests"): it starts while the
 * database is down and becomes ready by itself, and a SIGTERM under load lets every request in
 * flight finish. A process, not `startTestApi`, because what is at stake is the process: that
 * it does not exit, block or crash, and how it exits.
 *
 * Waits poll up to generous deadlines (`deadline()`, scaled by CHAPI_TEST_DEADLINE_SCALE);
 * what is "in flight" is observed (in PostgreSQL, at the proxy), never guessed with a sleep.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type postgres from 'postgres';
import { waitFor } from './helpers/wait.js';
import { apiClient, request, type ApiResponse } from './helpers/api-client.js';
import { startApiProcess, type ApiProcess } from './helpers/api-process.js';
import { createTestKey } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { deadline, expectUnavailable } from './helpers/resilience.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/** A loopback port nothing listens on (taken, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What a request came to: `<status> <body.status>` for an answer, the socket error's code otherwise. */
async function readiness(url: string): Promise<string> {
  try {
    const response = await request(url, 'GET', '/health/ready');
    return `${response.status} ${(response.json as { status?: string } | undefined)?.status}`;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

describe('resilience: the process starts while the database is down', function () {
  this.timeout(deadline(60_000));
  const db = useTestDatabase();
  /** Undone after each test, last first: processes killed, proxies closed, even on a failure. */
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(databaseUrl: string): Promise<ApiProcess> {
    const api = await startApiProcess({ DATABASE_URL: databaseUrl });
    cleanups.push(() => api.kill());
    return api;
  }

  /** Up but not ready: liveness 200, readiness 503, a task request 503 `unavailable`, no exit. */
  async function expectAliveNotReady(api: ApiProcess, key: string): Promise<void> {
    expect((await request(api.url, 'GET', '/health')).status).to.equal(200);
    const ready = await request(api.url, 'GET', '/health/ready');
    expect(ready.status).to.equal(503);
    expect(ready.json).to.deep.equal({ status: 'unavailable', database: 'unreachable' });
    expectUnavailable(await apiClient(api.url, { key }).execute('get-stats', 'before-the-database'));
    expect(await readiness(api.url)).to.equal('503 unavailable');
    // Every failed attempt behind it, the process is still up and serving.
    expect((await request(api.url, 'GET', '/health')).status).to.equal(200);
    expect(api.child.exitCode, api.output()).to.equal(null);
  }

  /** Readiness turns 200 by itself (the probe is all it takes: no restart), and real work is served. */
  async function expectReadyBySelf(api: ApiProcess, key: string): Promise<void> {
    await waitFor(async () => (await request(api.url, 'GET', '/health/ready')).status === 200, {
      timeoutMs: deadline(15_000),
      what: 'readiness to turn 200 by itself once the database is up',
    });
    const client = apiClient(api.url, { key });
    const userId = `u-${randomUUID()}`;
    const created = await client.execute('create-task', userId, { title: 'once the database is up' });
    expect(created.status, created.text).to.equal(200);
    const read = await client.get(`/v1/users/${userId}/tasks/${created.data.id as string}`);
    expect(read.status, read.text).to.equal(200);
    expect(read.data.title).to.equal('once the database is up');
    expect(api.child.exitCode, api.output()).to.equal(null);
    expect(api.output()).not.to.match(/unhandled|uncaught/i);
  }

  it('behind a database that resets every connection: alive, not ready, then ready by itself', async () => {
    const target = new URL(db.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    cleanups.push(() => proxy.close());
    proxy.cut();
    const api = await start(proxy.databaseUrl(db.url));
    const key = await createTestKey(db.sql);
    await expectAliveNotReady(api, key);
    expect(proxy.accepted, 'connection attempts, each reset').to.be.above(0);
    proxy.restore();
    await expectReadyBySelf(api, key);
  });

  it('with nothing listening on the database port yet: alive, not ready, then ready once it listens', async () => {
    const port = await freePort();
    const target = new URL(db.url);
    const unreachable = new URL(db.url);
    unreachable.hostname = '127.0.0.1';
    unreachable.port = String(port);
    const api = await start(unreachable.toString());
    const key = await createTestKey(db.sql);
    await expectAliveNotReady(api, key);
    // The database comes up where the API was told it is.
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) }, { port });
    cleanups.push(() => proxy.close());
    await expectReadyBySelf(api, key);
  });
});

describe('resilience: SIGTERM under load (the process)', function () {
  this.timeout(deadline(60_000));
  const db = useTestDatabase();
  /** SHUTDOWN_GRACE_MS: a request still running after it is cut (and the process logs so). */
  const DRAIN_WINDOW_MS = 20_000;
  let proxy: TcpProxy;
  let api: ApiProcess | undefined;
  let locker: postgres.ReservedSql | undefined;

  before(async () => {
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  });
  after(async () => {
    await api?.kill();
    if (locker !== undefined) {
      await locker`rollback`.catch(() => undefined);
      locker.release();
    }
    await proxy.close();
  });

  /** The API's sessions waiting for a lock in PostgreSQL: requests the test knows are in flight. */
  async function waitingOnLock(): Promise<number> {
    const [row] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
      where datname = current_database() and application_name = 'chapi-api' and wait_event_type = 'Lock'`;
    return row?.n ?? -1;
  }

  it('finishes every request in flight with 2xx, says 503 to readiness before refusing connections, exits 0 inside the drain window', async () => {
    const running = (api = await startApiProcess({
      DATABASE_URL: proxy.databaseUrl(db.url),
      // Long enough that only the drain, never a deadline, ends the requests below.
      DB_STATEMENT_TIMEOUT_MS: '30000',
      DB_POOL_MAX: '24',
      SHUTDOWN_GRACE_MS: String(DRAIN_WINDOW_MS),
    }));
    const client = apiClient(running.url, { key: await createTestKey(db.sql) });
    const userId = `u-${randomUUID()}`;
    const seeded = await client.execute('create-task', userId, { title: 'seed' });
    expect(seeded.status, seeded.text).to.equal(200);
    const taskId = seeded.data.id as string;
    expect(await readiness(running.url)).to.equal('200 ok');

    // Every task operation below waits for this lock inside PostgreSQL, where the test can
    // count them: genuinely in flight, not "sent a moment ago".
    locker = await db.sql.reserve();
    await locker`begin`;
    await locker`lock table tasks in access exclusive mode`;
    const operations: [string, () => Promise<ApiResponse>][] = [];
    for (let round = 0; round < 2; round += 1) {
      operations.push(
        ['execute create-task', () => client.execute('create-task', userId, { title: `in flight ${round}a` })],
        ['v1 create-task', () => client.post(`/v1/users/${userId}/tasks`, { title: `in flight ${round}b` })],
        ['execute get-task', () => client.execute('get-task', userId, { task_id: taskId })],
        ['v1 get-task', () => client.get(`/v1/users/${userId}/tasks/${taskId}`)],
        ['execute list-tasks', () => client.execute('list-tasks', userId, { limit: 10 })],
        ['v1 get-stats', () => client.get(`/v1/users/${userId}/stats`)],
        ['execute update-task', () => client.execute('update-task', userId, { task_id: taskId, status: 'in_progress' })],
        ['v1 update-task', () => client.patch(`/v1/users/${userId}/tasks/${taskId}`, { priority: 'high' })],
      );
    }
    let settled = 0;
    const inFlight = operations.map(async ([name, call]) => {
      try {
        return { name, response: await call() };
      } catch (error) {
        return { name, response: (error as NodeJS.ErrnoException).code ?? String(error) };
      } finally {
        settled += 1;
      }
    });
    await waitFor(async () => (await waitingOnLock()) === operations.length, {
      timeoutMs: deadline(15_000),
      what: `all ${operations.length} requests to wait on the lock inside PostgreSQL`,
    });

    // Readiness probes, one every 50 ms, each waiting on the database too (held at the proxy),
    // until the process refuses connections. The ones it is answering when SIGTERM comes must
    // answer 503; the ones after, find the door shut.
    proxy.hold();
    const probes: Promise<string>[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        probes.push(readiness(running.url));
        await sleep(50);
      }
    })();
    try {
      // A probe's ping is waiting at the proxy: the process is answering one.
      await waitFor(() => proxy.held > 0, { timeoutMs: deadline(10_000), what: 'a readiness probe to be waiting on the database' });
      running.child.kill('SIGTERM');
      await waitFor(() => running.output().includes('"msg":"shutting down"'), { timeoutMs: deadline(10_000), what: 'the shutdown to begin' });
      await waitFor(async () => (await readiness(running.url)) === 'ECONNREFUSED', {
        timeoutMs: deadline(10_000),
        what: 'new connections to be refused',
      });
    } finally {
      probing = false;
      await prober;
    }
    // Refusing connections, yet still running: every request is in flight, waiting on the lock.
    expect(settled, 'requests answered before the lock was released').to.equal(0);
    expect(running.child.exitCode).to.equal(null);

    proxy.restore();
    await locker`rollback`;
    locker.release();
    locker = undefined;

    const results = await Promise.all(inFlight);
    const notOk = results.filter(({ response }) => typeof response === 'string' || response.status < 200 || response.status >= 300);
    const show = ({ name, response }: (typeof results)[number]) =>
      `${name}: ${typeof response === 'string' ? response : `${response.status} ${response.text}`}`;
    expect(notOk.map(show)).to.deep.equal([]);
    for (const { response } of results) expect((response as ApiResponse).headers.connection, 'answered, then closed').to.equal('close');

    // Exit 0, and inside the drain window: nothing was left for the window to cut.
    expect(await running.exit, running.output()).to.equal(0);
    expect(running.output()).to.include('"msg":"stopped"');
    expect(running.output()).not.to.include('drain window over');

    // Readiness said 503 (draining) to the probes in flight; connections were refused only
    // after that, and for good. None said ready once the shutdown had begun.
    const outcomes = await Promise.all(probes);
    const firstRefused = outcomes.indexOf('ECONNREFUSED');
    expect(outcomes, outcomes.join(', ')).to.include('503 draining');
    expect(outcomes.filter((outcome) => outcome.startsWith('200')), outcomes.join(', ')).to.deep.equal([]);
    if (firstRefused >= 0) {
      expect(outcomes.lastIndexOf('503 draining'), outcomes.join(', ')).to.be.below(firstRefused);
      expect(outcomes.slice(firstRefused).filter((outcome) => outcome !== 'ECONNREFUSED'), outcomes.join(', ')).to.deep.equal([]);
    }
  });
});
