/**
 * The regression test for issue 13's first item: a large list page cut by the query deadline
 * while its rows stream, then a burst of ordinary requests on the same pool — every one
 * answered correctly. With an unpatched postgres.js (porsager/postgres#1181) the connection
 * that carried the cut page answered its next query with holes: a valid key 401, an existing
 * task 404, a list with nulls.
 *
 * The page is made slow to stream by the fault-injecting proxy (`slow`): the server's sends
 * wait on the path, so the deadline's CancelRequest lands while rows are still arriving.
 */
import { expect } from 'chai';
import { LIST_BATCH_BYTES } from '../src/tasks/operations.js';
import { apiClient } from './helpers/api-client.js';
import { createTestKey } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { expectUnavailable, startApiBehindProxy, watchUnhandledRejections, type ApiBehindProxy } from './helpers/resilience.js';

/** Tasks of the large page, each near the schema's largest (4-byte characters: ~40 KB a row). */
const LARGE_TASKS = 1_000;
const DESCRIPTION_CHARS = 10_000;
/** The deadline (DB_STATEMENT_TIMEOUT_MS): the slowed page takes far longer than this. */
const DEADLINE_MS = 1_000;
/** Ordinary requests in the burst after the cut. */
const BURST = 60;
/**
 * The proxy's delay per chunk, so that one batch of the page cannot arrive within the
 * deadline: a batch holds at least LIST_BATCH_BYTES of JSON (its tasks are ~40 KB, so it stops
 * just past the bound), and the proxy, a Node socket, reads at most 64 KiB at a time: a batch
 * is at least LIST_BATCH_BYTES / 64 KiB chunks, and at this delay takes twice the deadline.
 */
const SLOW_MS = Math.ceil((2 * DEADLINE_MS) / Math.floor(LIST_BATCH_BYTES / 65_536));

describe('a large page cut by the deadline, then a burst on the same pool', function () {
  this.timeout(120_000);
  const db = useTestDatabase();
  const unhandled = watchUnhandledRejections();
  let setup: ApiBehindProxy;
  const owner = 'cut-owner';
  const known: { id: string; title: string }[] = [];

  before(async () => {
    // Two connections: the burst lands on the cut one and on the other.
    setup = await startApiBehindProxy(db, { DB_STATEMENT_TIMEOUT_MS: String(DEADLINE_MS), DB_POOL_MAX: '2' });
    await db.sql`
      insert into tasks (user_id, title, description)
      select 'cut-large', 'large ' || i, repeat(chr(119070), ${DESCRIPTION_CHARS})
      from generate_series(1, ${LARGE_TASKS}) as i`;
    for (let index = 0; index < 5; index += 1) {
      const title = `known task ${index}`;
      const created = await setup.client.execute('create-task', owner, { title });
      expect(created.status, created.text).to.equal(200);
      known.push({ id: (created.data as { id: string }).id, title });
    }
  });
  after(async () => {
    await setup.stop();
  });

  it('answers the cut page 503 (or cuts its connection), then every request of the burst exactly', async () => {
    // Slow enough that one batch cannot arrive within the deadline (SLOW_MS): each batch of the
    // listing runs under its own deadline, so a delay that a whole batch outruns never cuts
    // anything (20 ms a chunk once did just that). At SLOW_MS a chunk the deadline cancels the
    // first batch while its one aggregated row is still arriving.
    setup.proxy.slow(SLOW_MS);
    // A large page is written as its batches are read (api/src/transports/listing.ts): a cut in
    // the first batch is a 503; a cut in a later one, after the 200 went out, cuts the
    // connection, so the answer never looks complete. Either way, never a wrong answer.
    const cut = await setup.client.get('/v1/users/cut-large/tasks?limit=1000').then(
      (response) => response,
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
    if (cut instanceof Error) expect(cut.message).to.match(/aborted|socket hang up|ECONNRESET/);
    else expectUnavailable(cut);
    setup.proxy.restore();

    // A key nobody has used yet: its lookup goes to the database during the burst.
    const freshClient = apiClient(setup.api.url, { key: await createTestKey(db.sql) });
    const burst = Array.from({ length: BURST }, (_, index) => {
      const task = known[index % known.length] as { id: string; title: string };
      switch (index % 4) {
        case 0:
          return setup.client.execute('get-task', owner, { task_id: task.id }).then((response) => {
            expect(response.status, response.text).to.equal(200);
            expect(response.data).to.include({ id: task.id, title: task.title });
          });
        case 1:
          return setup.client.get(`/v1/users/${owner}/tasks?limit=10`).then((response) => {
            expect(response.status, response.text).to.equal(200);
            const page = response.data as { tasks: ({ title: string } | null)[] };
            const titles = page.tasks.map((row) => row?.title);
            expect(titles.sort()).to.deep.equal(known.map((row) => row.title).sort());
          });
        case 2:
          return setup.client.execute('get-stats', owner).then((response) => {
            expect(response.status, response.text).to.equal(200);
            expect(response.data).to.include({ total_tasks: known.length });
          });
        default:
          return freshClient.execute('get-task', owner, { task_id: task.id }).then((response) => {
            expect(response.status, response.text).to.equal(200);
            expect(response.data).to.include({ id: task.id });
          });
      }
    });
    const results = await Promise.allSettled(burst);
    const failures = results.filter((result) => result.status === 'rejected').map((result) => String(result.reason));
    expect(failures).to.deep.equal([]);
    expect(unhandled).to.deep.equal([]);
  });
});
