/**
 * `db.ts`'s defence in depth around a cut query, independent of the driver patch
 * (porsager/postgres#1181): a result that cannot be whole is a fault (503), never data; and
 * the connection that carried a query the deadline cancelled on the wire takes no new work
 * (its pool is retired and replaced behind the same handle).
 */
import { expect } from 'chai';
import { loadConfig } from '../../api/src/config.js';
import {
  assertConsistentResult,
  createSql,
  InconsistentResultError,
  QueryDeadlineError,
  withDeadline,
  type Sql,
} from '../../api/src/db.js';
import { toApiError } from '../../api/src/errors.js';
import { useTestDatabase } from './helpers/databases.js';
import { waitFor } from './helpers/wait.js';

/** A result as postgres.js builds it: an array with the server's row count and the columns it described. */
function result(rows: unknown[], count: number | null): unknown[] {
  return Object.assign(rows, { count, columns: [{ name: 'id' }] });
}

async function backendPid(sql: Sql): Promise<number> {
  const [row] = await withDeadline(sql<{ pid: number }[]>`select pg_backend_pid() as pid`, 5_000);
  return (row as { pid: number }).pid;
}

describe('db.ts around a cut query', function () {
  this.timeout(60_000);
  const db = useTestDatabase();

  describe('a result whose length disagrees with its row count', () => {
    it('is refused: holes first, then rows (what the unpatched driver returned)', async () => {
      // eslint-disable-next-line no-sparse-arrays
      const sparse = result([, , { id: 1 }], 1);
      expect(() => assertConsistentResult(sparse)).to.throw(InconsistentResultError);
      const error = await withDeadline(Promise.resolve(sparse), 1_000).catch((caught: unknown) => caught);
      expect(error).to.be.instanceOf(InconsistentResultError);
    });

    it('is refused when the server counted fewer rows than the array holds, even without holes', () => {
      expect(() => assertConsistentResult(result([{ id: 1 }, { id: 2 }], 1))).to.throw(InconsistentResultError);
    });

    it('answers 503 unavailable with Retry-After, never data', () => {
      const apiError = toApiError(new InconsistentResultError(3, 1, 1));
      expect(apiError.code).to.equal('unavailable');
      expect(apiError.headers).to.include({ 'Retry-After': '2' });
    });

    it('lets whole results, empty ones and non-results through untouched', async () => {
      const whole = result([{ id: 1 }, { id: 2 }], 2);
      expect(assertConsistentResult(whole)).to.equal(whole);
      expect(assertConsistentResult(result([], 0))).to.have.length(0);
      expect(assertConsistentResult('not a result')).to.equal('not a result');
      const rows = await withDeadline(db.sql`select x from generate_series(1, 3) as x`, 5_000);
      expect(rows.map((row) => row.x)).to.deep.equal([1, 2, 3]);
      // A write without RETURNING reports the rows it touched and returns none.
      await db.sql`create table if not exists touched (x int)`;
      const inserted = await withDeadline(db.sql`insert into touched values (1), (2)`, 5_000);
      expect({ length: inserted.length, count: inserted.count }).to.deep.equal({ length: 0, count: 2 });
      const multi = await withDeadline(db.sql.unsafe('select 1 as a; select 2 as b'), 5_000);
      expect(multi).to.have.length(2);
    });
  });

  describe('the connection of a query the deadline cancelled on the wire', () => {
    let sql: Sql;
    beforeEach(() => {
      sql = createSql(loadConfig({ DATABASE_URL: db.url, DB_POOL_MAX: '1', NODE_ENV: 'test' }).database);
    });
    afterEach(async () => {
      await sql.end({ timeout: 1 });
    });

    it('takes no new work: the next query runs on a fresh connection, and the old one closes', async () => {
      const before = await backendPid(sql);
      const cut = await withDeadline(
        sql`select i, case when i = 2000 then pg_sleep(30)::text end from generate_series(1, 4000) as i`,
        400,
      ).catch((error: unknown) => error);
      expect(cut).to.be.instanceOf(QueryDeadlineError);
      const after = await backendPid(sql);
      expect(after).not.to.equal(before);
      await waitFor(async () => (await db.sql`select 1 from pg_stat_activity where pid = ${before}`).length === 0, {
        timeoutMs: 15_000,
        what: 'the cut connection to close',
      });
    });

    it('is kept when a query fails on its own (an error is not a cut)', async () => {
      const before = await backendPid(sql);
      const failed = await withDeadline(sql`select 1 / 0`, 5_000).catch((error: unknown) => error);
      expect(failed).to.have.property('code', '22012');
      expect(await backendPid(sql)).to.equal(before);
    });

    it('is kept when the deadline only took a query out of the pool\'s queue', async () => {
      const before = await backendPid(sql);
      // The one connection runs a slow query and has one more pipelined behind it (the API's
      // max_pipeline); a third waits in the pool's queue, never written to a connection.
      const slow = withDeadline(sql`select pg_sleep(1)`, 5_000);
      const pipelined = withDeadline(sql`select 1`, 5_000);
      const queued = await withDeadline(sql`select 2`, 200).catch((error: unknown) => error);
      expect(queued).to.be.instanceOf(QueryDeadlineError);
      await Promise.all([slow, pipelined]);
      expect(await backendPid(sql)).to.equal(before);
    });
  });
});
