/**
 * Database faults (docs/api.md: 503 `unavailable` with Retry-After; the issue: fail
 * fast, recover by itself, never pile requests up). A loopback TCP proxy between the API and
 * PostgreSQL cuts or holds the line while requests are in flight.
 *
 * Time bounds here are deliberately loose (seconds where the API needs milliseconds): they
 * tell "answered at once" from "waited for a deadline", never measure speed.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { RunningServer } from '../src/server.js';
import { waitFor } from './helpers/wait.js';
import { apiClient, request, type ApiClient, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { deadline, expectUnavailable, startApiBehindProxy, watchUnhandledRejections } from './helpers/resilience.js';
import type { TcpProxy } from './helpers/tcp-proxy.js';

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work;
  return { value, ms: performance.now() - started };
}

describe('resilience: the database goes away', () => {
  const db = useTestDatabase();
  const unhandled = watchUnhandledRejections();
  const STATEMENT_TIMEOUT_MS = 10_000;
  let proxy: TcpProxy;
  let api: RunningServer;
  let client: ApiClient;
  let stop: () => Promise<void>;

  before(async () => {
    ({ proxy, api, client, stop } = await startApiBehindProxy(db, { DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) }));
  });
  after(() => stop());
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

describe('resilience: a database outage under load', function () {
  this.timeout(deadline(60_000));
  const db = useTestDatabase();
  const unhandled = watchUnhandledRejections();
  const STATEMENT_TIMEOUT_MS = 2_000;
  /** A request unanswered this long after its deadline is hung: far past "failed fast". */
  const HUNG_AFTER_MS = STATEMENT_TIMEOUT_MS + deadline(5_000);
  const OUTAGE_MS = 3_000;
  const CLIENTS = 4;
  let proxy: TcpProxy;
  let api: RunningServer;
  let client: ApiClient;
  let stop: () => Promise<void>;

  before(async () => {
    // A short grace: should a request hang after all, stopping does not wait 25 s for it.
    ({ proxy, api, client, stop } = await startApiBehindProxy(db, { DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS), SHUTDOWN_GRACE_MS: '1000' }));
  });
  after(() => stop());

  /** One request as the load saw it. */
  interface Outcome {
    client: number;
    operation: string;
    sentAt: number;
    answeredAt: number;
    /** The response, or why there was none: a socket error's code, or `hung`. */
    response: ApiResponse | string;
  }

  const succeeded = (outcome: Outcome): boolean =>
    typeof outcome.response !== 'string' && outcome.response.status >= 200 && outcome.response.status < 300;
  const show = (outcome: Outcome): string =>
    `client ${outcome.client} ${outcome.operation}: ${typeof outcome.response === 'string' ? outcome.response : `${outcome.response.status} ${outcome.response.text}`}`;

  it('answers only 2xx or 503 while the database is cut for 3 s, serves again within 5 s, and keeps every acknowledged create', async () => {
    const outcomes: Outcome[] = [];
    const acknowledged: { id: string; userId: string; title: string }[] = [];
    const sentTitles = new Set<string>();
    const liveness: (number | string)[] = [];
    let loadRunning = true;

    const send = async (index: number, operation: string, call: () => Promise<ApiResponse>): Promise<ApiResponse | undefined> => {
      const sentAt = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('hung'), HUNG_AFTER_MS);
      });
      const response = await Promise.race([call().catch((error: NodeJS.ErrnoException) => error.code ?? String(error)), hung]);
      clearTimeout(timer);
      outcomes.push({ client: index, operation, sentAt, answeredAt: performance.now(), response });
      return typeof response === 'string' ? undefined : response;
    };

    // A client: a user of its own, one request at a time, both transports. Its /v1 creates
    // carry an Idempotency-Key and, as a client should, are sent again with it after a 503.
    const clientLoop = async (index: number): Promise<void> => {
      const userId = `load-${index}-${randomUUID()}`;
      let lastId: string | undefined;
      let retry: { key: string; title: string } | undefined;
      for (let step = 0; loadRunning; step += 1) {
        const title = `${userId} #${step}`;
        switch (step % 6) {
          case 0: {
            sentTitles.add(title);
            const response = await send(index, 'execute create-task', () => client.execute('create-task', userId, { title }));
            if (response?.status === 200) {
              lastId = response.data.id as string;
              acknowledged.push({ id: lastId, userId, title });
            }
            break;
          }
          case 1: {
            const id = lastId;
            const path = id === undefined ? `/v1/users/${userId}/stats` : `/v1/users/${userId}/tasks/${id}`;
            await send(index, 'v1 get-task', () => client.get(path));
            break;
          }
          case 2: {
            const create = (retry ??= { key: randomUUID(), title });
            sentTitles.add(create.title);
            const response = await send(index, 'v1 create-task', () =>
              client.post(`/v1/users/${userId}/tasks`, { title: create.title }, { headers: { 'Idempotency-Key': create.key } }),
            );
            if (response?.status === 201) {
              acknowledged.push({ id: response.data.id as string, userId, title: create.title });
              retry = undefined;
            }
            break;
          }
          case 3:
            await send(index, 'execute list-tasks', () => client.execute('list-tasks', userId, { limit: 10 }));
            break;
          case 4:
            await send(index, 'v1 get-stats', () => client.get(`/v1/users/${userId}/stats`));
            break;
          default: {
            const id = lastId;
            await send(index, 'execute get-task', () =>
              id === undefined ? client.execute('get-stats', userId) : client.execute('get-task', userId, { task_id: id }),
            );
          }
        }
      }
    };
    // Liveness never touches the database: it must answer throughout.
    const livenessLoop = async (): Promise<void> => {
      while (loadRunning) {
        const status = await request(api.url, 'GET', '/health').then(
          (response) => response.status,
          (error: NodeJS.ErrnoException) => error.code ?? String(error),
        );
        liveness.push(status);
        await sleep(25);
      }
    };
    /** Whether every client had `count` requests served (2xx) that it sent at `since` or later. */
    const servedSince = (since: number, count: number): boolean =>
      Array.from({ length: CLIENTS }, (_, index) => index).every(
        (index) => outcomes.filter((outcome) => outcome.client === index && outcome.sentAt >= since && succeeded(outcome)).length >= count,
      );

    const load = [...Array.from({ length: CLIENTS }, (_, index) => clientLoop(index)), livenessLoop()];
    let cutAt = 0;
    let restoredAt = 0;
    let refusedDuringCut: number | undefined;
    let openDuringCut: number | undefined;
    try {
      await waitFor(() => servedSince(0, 6), {
        timeoutMs: deadline(10_000),
        what: 'every client to be served a round of its operations before the outage',
      });
      const acceptedBeforeCut = proxy.accepted;
      proxy.cut();
      cutAt = performance.now();
      await sleep(OUTAGE_MS);
      // Connections the API opened during the outage: each was accepted and reset at once.
      refusedDuringCut = proxy.accepted - acceptedBeforeCut;
      openDuringCut = proxy.open;
      proxy.restore();
      restoredAt = performance.now();
      await waitFor(() => servedSince(restoredAt, 1), {
        timeoutMs: deadline(5_000),
        what: 'every client to be served (2xx) again within 5 s of the database coming back',
      });
      // A round of every operation after the recovery: retried creates land, nothing is stuck.
      await waitFor(() => servedSince(restoredAt, 6), { timeoutMs: deadline(10_000), what: 'every client to be served a round after the recovery' });
    } finally {
      loadRunning = false;
      await Promise.all(load);
    }

    // Never a 500, a dropped connection or a hang: 2xx, or the contract's 503.
    const neither = outcomes.filter(
      (outcome) => !succeeded(outcome) && (typeof outcome.response === 'string' || outcome.response.status !== 503),
    );
    expect(neither.map(show)).to.deep.equal([]);
    for (const outcome of outcomes) if (!succeeded(outcome)) expectUnavailable(outcome.response as ApiResponse);
    // While the database was gone, every request sent got its 503, and the API kept trying to
    // reconnect (every attempt refused) rather than giving up or waiting.
    const whileDown = outcomes.filter((outcome) => outcome.sentAt >= cutAt && outcome.answeredAt <= restoredAt);
    expect(whileDown.length, 'requests sent and answered during the outage').to.be.at.least(CLIENTS);
    expect(whileDown.filter(succeeded).map(show)).to.deep.equal([]);
    expect(refusedDuringCut, 'connection attempts during the outage').to.be.above(0);
    expect(openDuringCut, 'connections that got through the cut').to.equal(0);
    // The server never went down: it listens, liveness always answered 200, nothing unhandled.
    expect(api.server.listening).to.equal(true);
    expect(liveness.filter((status) => status !== 200)).to.deep.equal([]);
    expect(liveness.length).to.be.above(0);
    expect(unhandled).to.deep.equal([]);

    // Every acknowledged create is stored, as sent. Nothing else is: a create answered 503 may
    // have committed (it is one statement, whole or absent), and a retried idempotent one is
    // stored once.
    const rows = await db.sql<{ id: string; user_id: string; title: string }[]>`
      select id, user_id, title from tasks where user_id like 'load-%'`;
    const stored = new Map(rows.map((row) => [row.id, row]));
    expect(acknowledged.length).to.be.above(CLIENTS);
    for (const create of acknowledged) {
      expect(stored.get(create.id), `acknowledged create ${create.title}`).to.deep.include({ user_id: create.userId, title: create.title });
    }
    expect(rows.filter((row) => !sentTitles.has(row.title))).to.deep.equal([]);
    expect(new Set(rows.map((row) => row.title)).size, 'each create stored at most once').to.equal(rows.length);
  });
});

describe('resilience: the database stops answering', () => {
  const db = useTestDatabase();
  const unhandled = watchUnhandledRejections();
  const STATEMENT_TIMEOUT_MS = 1_000;
  let proxy: TcpProxy;
  let api: RunningServer;
  let client: ApiClient;
  let stop: () => Promise<void>;

  before(async () => {
    // One connection: whatever the hold does to it, it must serve again afterwards.
    ({ proxy, api, client, stop } = await startApiBehindProxy(db, { DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS), DB_POOL_MAX: '1' }));
    expect((await client.execute('get-stats', 'warm-up')).status).to.equal(200);
  });
  after(() => stop());
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
