/**
 * Proves with EXPLAIN that the task queries are served by the `tasks` indexes, not by a
 * sequential scan, on a table big enough for the planner to care (100 000 tasks over 500
 * users, and one user with 20 000 tasks, for whom a page must come straight off the index).
 *
 * get-stats is an index-only scan: `tasks_user_status_created_idx` includes `due_date`
 * (migrations/1764000003000_tasks-stats-covering-index.sql).
 *
 * The statements are the API's own (`taskBatchStatement`, `statsStatement` in
 * api/src/tasks/sql.ts), so a change to the SQL the API sends is checked here.
 */
import { expect } from 'chai';
import type postgres from 'postgres';
import type { Sql } from '../src/db.js';
import type { CursorPosition, ListFilters } from '../src/tasks/cursor.js';
import type { Task } from '../src/schemas/tasks.js';
import { LIST_BATCH_BYTES } from '../src/tasks/operations.js';
import { statsStatement, taskBatchStatement } from '../src/tasks/sql.js';
import { useTestDatabase } from './helpers/databases.js';
import { waitFor } from './helpers/wait.js';

const TASKS = 100_000;
const USERS = 500;
const HEAVY_TASKS = 20_000;
const PAGE = 100;

/** list-tasks: one page as one batch (the statement reads one extra row to know if a next page exists). */
function listTasksQuery(sql: Sql, userId: string, filters: ListFilters, after: CursorPosition | undefined, limit: number) {
  return taskBatchStatement(sql, userId, filters, after, limit, LIST_BATCH_BYTES);
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  /** EXPLAIN ANALYZE of an index-only scan: table rows it still had to visit. */
  'Heap Fetches'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** The plan PostgreSQL chooses with these parameter values (a custom plan). */
async function customPlan<T extends postgres.Row[]>(sql: Sql, query: postgres.PendingQuery<T>): Promise<PlanNode[]> {
  const [row] = await sql<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>`explain (format json) ${query}`;
  return nodes((row as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan as PlanNode);
}

/**
 * The plan for any parameter values (a generic plan): what a prepared statement may switch
 * to after a few executions, so it must use the indexes too.
 */
async function genericPlan<T extends postgres.Row[]>(sql: Sql, query: postgres.PendingQuery<T>): Promise<PlanNode[]> {
  const { string } = await query.describe();
  const [row] = await sql.unsafe<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(`explain (generic_plan, format json) ${string}`).simple();
  return nodes((row as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan as PlanNode);
}

/** The plan PostgreSQL ran, with what it did (EXPLAIN ANALYZE: the query really runs). */
async function executedPlan<T extends postgres.Row[]>(sql: Sql, query: postgres.PendingQuery<T>): Promise<PlanNode[]> {
  const [row] = await sql<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>`explain (analyze, format json) ${query}`;
  return nodes((row as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan as PlanNode);
}

function describePlan(plan: PlanNode[]): string {
  return plan.map((node) => `${node['Node Type']}${node['Index Name'] ? ` on ${node['Index Name']}` : ''}`).join(' > ');
}

/** The two indexes of the `tasks` migration. */
const TASK_INDEXES = ['tasks_user_created_idx', 'tasks_user_status_created_idx'];

/**
 * The table scan of a plan: the nodes under its `Limit` (a listing batch aggregates the rows the
 * scan gives, and sorting those few by their row number above the limit costs nothing), or
 * the whole plan when it has no limit.
 */
function tableScan(plan: PlanNode[]): PlanNode[] {
  const limit = plan.find((node) => node['Node Type'] === 'Limit');
  return limit === undefined ? plan : nodes(limit);
}

/**
 * No sequential scan anywhere; one of `indexes` used; with `ordered`, the table's rows come in
 * index order (no sort of the user's tasks before the limit).
 */
function expectIndexed(plan: PlanNode[], options: { indexes?: string[]; ordered?: boolean } = {}): void {
  const text = describePlan(plan);
  const indexes = options.indexes ?? TASK_INDEXES;
  expect(plan.filter((node) => node['Node Type'] === 'Seq Scan'), text).to.deep.equal([]);
  expect(plan.some((node) => node['Index Name'] !== undefined && indexes.includes(node['Index Name'])), text).to.equal(true);
  if (options.ordered === true) expect(tableScan(plan).filter((node) => node['Node Type'].includes('Sort')), text).to.deep.equal([]);
}

describe('task query plans (EXPLAIN on 120 000 tasks)', function () {
  this.timeout(120_000);
  const db = useTestDatabase();
  /** One of 500 users with 200 tasks each. */
  const typical = 'user-42';
  /** One user with a sixth of the table: where reading a page in index order really matters. */
  const heavy = 'user-heavy';
  const cursors = new Map<string, CursorPosition>();

  before(async () => {
    const insert = (tasks: number, user: postgres.PendingQuery<postgres.Row[]>): postgres.PendingQuery<postgres.Row[]> => db.sql`
      insert into tasks (user_id, title, status, priority, due_date, created_at, completed_at)
      select ${user},
             'task ' || i,
             (array['pending', 'in_progress', 'completed'])[1 + i % 3],
             (array['low', 'medium', 'high', 'urgent'])[1 + i % 4],
             timestamptz '2026-01-01' + (i % 300) * interval '1 day',
             timestamptz '2026-01-01' + i * interval '1 second',
             case when i % 3 = 2 then timestamptz '2026-01-01' + i * interval '1 second' end
      from generate_series(1, ${tasks}) as i`;
    await insert(TASKS, db.sql`'user-' || (i % ${USERS})`);
    await insert(HEAVY_TASKS, db.sql`${heavy}::text`);
    // VACUUM also marks pages all-visible, as autovacuum does on a live table: what lets an
    // index-only scan skip the table. The test cluster commits asynchronously, and VACUUM
    // marks a page only once the inserting commit is flushed to WAL (the WAL writer does it
    // within wal_writer_delay), so it runs again until every page is marked.
    await waitFor(
      async () => {
        await db.sql`vacuum analyze tasks`;
        const [pages] = await db.sql<{ all: boolean }[]>`select relallvisible >= relpages as all from pg_class where relname = 'tasks'`;
        return pages?.all === true;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'VACUUM to mark every page of tasks all-visible' },
    );
    for (const user of [typical, heavy]) {
      // A cursor from the middle of the user's first page: the keyset predicate has work to do.
      const [middle] = await db.sql<CursorPosition[]>`
        select (extract(epoch from created_at) * 1000000)::int8::text as "createdMicros", id
        from tasks where user_id = ${user} order by created_at desc, id desc offset 50 limit 1`;
      cursors.set(user, middle as CursorPosition);
    }
  });

  it('the table is big enough that a sequential scan would be a real choice', async () => {
    const [row] = await db.sql<{ reltuples: number }[]>`select reltuples from pg_class where relname = 'tasks'`;
    expect(row?.reltuples).to.be.at.least((TASKS + HEAVY_TASKS) * 0.9);
  });

  const lists: { title: string; filter: ListFilters; nextPage: boolean; index: string }[] = [
    { title: 'list, first page', filter: {}, nextPage: false, index: 'tasks_user_created_idx' },
    { title: 'list, next page (keyset cursor)', filter: {}, nextPage: true, index: 'tasks_user_created_idx' },
    { title: 'list by status', filter: { status: 'pending' }, nextPage: false, index: 'tasks_user_status_created_idx' },
    { title: 'list by status, next page', filter: { status: 'pending' }, nextPage: true, index: 'tasks_user_status_created_idx' },
    { title: 'list by priority', filter: { priority: 'high' }, nextPage: false, index: 'tasks_user_created_idx' },
    { title: 'list by priority, next page', filter: { priority: 'high' }, nextPage: true, index: 'tasks_user_created_idx' },
    {
      title: 'list by status and priority',
      filter: { status: 'completed', priority: 'urgent' },
      nextPage: false,
      index: 'tasks_user_status_created_idx',
    },
  ];
  for (const { title, filter, nextPage, index } of lists) {
    const query = (user: string) => listTasksQuery(db.sql, user, filter, nextPage ? cursors.get(user) : undefined, PAGE);

    it(`${title}: an index, never a sequential scan (a typical user; custom and generic plans)`, async () => {
      expectIndexed(await customPlan(db.sql, query(typical)));
      expectIndexed(await genericPlan(db.sql, query(typical)));
    });

    it(`${title}: ${index} in index order, no sort (a user with ${HEAVY_TASKS} tasks)`, async () => {
      expectIndexed(await customPlan(db.sql, query(heavy)), { indexes: [index], ordered: true });
      // The query really is what list-tasks runs: the user's tasks, matching the filter, newest
      // first (by the stored times, in microseconds, then by id), and where the page ended.
      const [batch] = await query(heavy);
      if (batch === undefined) throw new Error('the batch statement returned no row');
      expect(batch).to.include({ count: PAGE, more: true });
      const tasks = JSON.parse(`[${batch.tasks ?? ''}]`) as Task[];
      expect(tasks).to.have.length(PAGE);
      for (const task of tasks) {
        expect(task.user_id).to.equal(heavy);
        if (filter.status !== undefined) expect(task.status).to.equal(filter.status);
        if (filter.priority !== undefined) expect(task.priority).to.equal(filter.priority);
      }
      const stored = await db.sql<{ id: string; micros: string }[]>`
        select id, (extract(epoch from created_at) * 1000000)::int8::text as micros from tasks where id = any(${tasks.map((task) => task.id)}::uuid[])`;
      const micros = new Map(stored.map((row) => [row.id, BigInt(row.micros)]));
      const keys = tasks.map((task) => ({ micros: micros.get(task.id) as bigint, id: task.id }));
      const newestFirst = (a: { micros: bigint; id: string }, b: { micros: bigint; id: string }) =>
        a.micros === b.micros ? (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) : a.micros < b.micros ? 1 : -1;
      expect(keys).to.deep.equal([...keys].sort(newestFirst));
      const last = keys[PAGE - 1] as { micros: bigint; id: string };
      expect({ micros: batch.last_micros, id: batch.last_id }).to.deep.equal({ micros: String(last.micros), id: last.id });
      if (nextPage) expect((keys[0] as { micros: bigint }).micros < BigInt((cursors.get(heavy) as CursorPosition).createdMicros)).to.equal(true);
    });
  }

  it('stats: an index on user_id, never a sequential scan (custom and generic plans), with the right counts', async () => {
    expectIndexed(await customPlan(db.sql, statsStatement(db.sql, typical)));
    expectIndexed(await genericPlan(db.sql, statsStatement(db.sql, typical)));
    expectIndexed(await customPlan(db.sql, statsStatement(db.sql, heavy)));
    const [stats] = await statsStatement(db.sql, typical);
    expect(stats?.total_tasks).to.equal(TASKS / USERS);
    expect((stats?.pending_tasks as number) + (stats?.in_progress_tasks as number) + (stats?.completed_tasks as number)).to.equal(
      TASKS / USERS,
    );
  });

  it('stats: an index-only scan of tasks_user_status_created_idx (it includes due_date), no table rows read', async () => {
    for (const user of [typical, heavy]) {
      const expectIndexOnly = (plan: PlanNode[]): void => {
        const text = describePlan(plan);
        const scans = plan.filter((node) => node['Relation Name'] === 'tasks' || node['Index Name'] !== undefined);
        expect(scans.length, text).to.be.greaterThan(0);
        for (const scan of scans) {
          expect(scan['Node Type'], text).to.equal('Index Only Scan');
          expect(scan['Index Name'], text).to.equal('tasks_user_status_created_idx');
        }
      };
      expectIndexOnly(await customPlan(db.sql, statsStatement(db.sql, user)));
      expectIndexOnly(await genericPlan(db.sql, statsStatement(db.sql, user)));
      const executed = await executedPlan(db.sql, statsStatement(db.sql, user));
      expectIndexOnly(executed);
      // Every page is all-visible after the vacuum: the counts came from the index alone.
      expect(executed.map((node) => node['Heap Fetches'] ?? 0), describePlan(executed)).to.satisfy((fetches: number[]) =>
        fetches.every((count) => count === 0),
      );
    }
    // And they are the right counts: the overdue count needs due_date, which only the INCLUDE supplies.
    const [stats] = await statsStatement(db.sql, typical);
    const [expected] = await db.sql<{ overdue: number }[]>`
      select count(*)::int as overdue from tasks
      where user_id = ${typical} and status <> 'completed' and due_date < now()`;
    expect(stats?.overdue_tasks).to.equal(expected?.overdue);
    expect(stats?.overdue_tasks).to.be.greaterThan(0);
  });
});
