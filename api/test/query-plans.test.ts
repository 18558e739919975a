/**
 * Proves with EXPLAIN that the task queries are served by the `tasks` indexes, not by a
 * sequential scan, on a table big enough for the planner to care (100 000 tasks over 500
 * users, and one user with 20 000 tasks, for whom a page must come straight off the index).
 *
 * The queries below are the ones the contract implies (list-tasks: newest first, keyset
 * pages on (created_at, id), optional status/priority filters; get-stats: one aggregate).
 * NOTE for the merge: `api/src/tasks/sql.ts` is written on another branch; once it lands,
 * these builders should be replaced by imports of its real query functions, so that the test
 * guards the SQL the API actually sends.
 */
import { expect } from 'chai';
import type postgres from 'postgres';
import type { Sql } from '../src/db.js';
import { useTestDatabase } from '../../test/support/databases.js';

const TASKS = 100_000;
const USERS = 500;
const HEAVY_TASKS = 20_000;
const PAGE = 100;

interface ListFilter {
  status?: string;
  priority?: string;
  cursor?: { createdAt: string; id: string };
}

/** list-tasks: one page of a user's tasks, newest first, one extra row to know if a next page exists. */
function listTasksQuery(sql: Sql, userId: string, filter: ListFilter, limit: number): postgres.PendingQuery<postgres.Row[]> {
  return sql`
    select id, user_id, title, description, status, priority, due_date, created_at, updated_at, completed_at
    from tasks
    where user_id = ${userId}
      ${filter.status === undefined ? sql`` : sql`and status = ${filter.status}`}
      ${filter.priority === undefined ? sql`` : sql`and priority = ${filter.priority}`}
      ${filter.cursor === undefined ? sql`` : sql`and (created_at, id) < (${filter.cursor.createdAt}::timestamptz, ${filter.cursor.id}::uuid)`}
    order by created_at desc, id desc
    limit ${limit + 1}`;
}

/** get-stats: every count in one pass over the user's tasks. */
function statsQuery(sql: Sql, userId: string, now: Date): postgres.PendingQuery<postgres.Row[]> {
  return sql`
    select count(*)::int as total_tasks,
           count(*) filter (where status = 'pending')::int as pending_tasks,
           count(*) filter (where status = 'in_progress')::int as in_progress_tasks,
           count(*) filter (where status = 'completed')::int as completed_tasks,
           count(*) filter (where due_date < ${now} and status <> 'completed')::int as overdue_tasks
    from tasks
    where user_id = ${userId}`;
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** The plan PostgreSQL chooses with these parameter values (a custom plan). */
async function customPlan(sql: Sql, query: postgres.PendingQuery<postgres.Row[]>): Promise<PlanNode[]> {
  const [row] = await sql<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>`explain (format json) ${query}`;
  return nodes((row as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan as PlanNode);
}

/**
 * The plan for any parameter values (a generic plan): what a prepared statement may switch
 * to after a few executions, so it must use the indexes too.
 */
async function genericPlan(sql: Sql, query: postgres.PendingQuery<postgres.Row[]>): Promise<PlanNode[]> {
  const { string } = await query.describe();
  const [row] = await sql.unsafe<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(`explain (generic_plan, format json) ${string}`).simple();
  return nodes((row as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]?.Plan as PlanNode);
}

function describePlan(plan: PlanNode[]): string {
  return plan.map((node) => `${node['Node Type']}${node['Index Name'] ? ` on ${node['Index Name']}` : ''}`).join(' > ');
}

/** The two indexes of the `tasks` migration. */
const TASK_INDEXES = ['tasks_user_created_idx', 'tasks_user_status_created_idx'];

/** No sequential scan anywhere; one of `indexes` used; with `ordered`, rows come in index order (no sort). */
function expectIndexed(plan: PlanNode[], options: { indexes?: string[]; ordered?: boolean } = {}): void {
  const text = describePlan(plan);
  const indexes = options.indexes ?? TASK_INDEXES;
  expect(plan.filter((node) => node['Node Type'] === 'Seq Scan'), text).to.deep.equal([]);
  expect(plan.some((node) => node['Index Name'] !== undefined && indexes.includes(node['Index Name'])), text).to.equal(true);
  if (options.ordered === true) expect(plan.filter((node) => node['Node Type'].includes('Sort')), text).to.deep.equal([]);
}

describe('task query plans (EXPLAIN on 120 000 tasks)', function () {
  this.timeout(120_000);
  const db = useTestDatabase();
  const now = new Date('2026-06-01T00:00:00.000Z');
  /** One of 500 users with 200 tasks each. */
  const typical = 'user-42';
  /** One user with a sixth of the table: where reading a page in index order really matters. */
  const heavy = 'user-heavy';
  const cursors = new Map<string, { createdAt: string; id: string }>();

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
    await db.sql`analyze tasks`;
    for (const user of [typical, heavy]) {
      // A cursor from the middle of the user's first page: the keyset predicate has work to do.
      const [middle] = await db.sql<{ created_at: string; id: string }[]>`
        select created_at::text, id from tasks where user_id = ${user} order by created_at desc, id desc offset 50 limit 1`;
      cursors.set(user, { createdAt: (middle as { created_at: string }).created_at, id: (middle as { id: string }).id });
    }
  });

  it('the table is big enough that a sequential scan would be a real choice', async () => {
    const [row] = await db.sql<{ reltuples: number }[]>`select reltuples from pg_class where relname = 'tasks'`;
    expect(row?.reltuples).to.be.at.least((TASKS + HEAVY_TASKS) * 0.9);
  });

  const lists: { title: string; filter: Omit<ListFilter, 'cursor'>; nextPage: boolean; index: string }[] = [
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
    const query = (user: string): postgres.PendingQuery<postgres.Row[]> =>
      listTasksQuery(db.sql, user, nextPage ? { ...filter, cursor: cursors.get(user) as ListFilter['cursor'] } : filter, PAGE);

    it(`${title}: an index, never a sequential scan (a typical user; custom and generic plans)`, async () => {
      expectIndexed(await customPlan(db.sql, query(typical)));
      expectIndexed(await genericPlan(db.sql, query(typical)));
    });

    it(`${title}: ${index} in index order, no sort (a user with ${HEAVY_TASKS} tasks)`, async () => {
      expectIndexed(await customPlan(db.sql, query(heavy)), { indexes: [index], ordered: true });
      // The query really is what list-tasks runs: the user's tasks, matching the filter, newest first.
      const rows = await query(heavy);
      expect(rows).to.have.length(PAGE + 1);
      for (const task of rows) {
        expect(task.user_id).to.equal(heavy);
        if (filter.status !== undefined) expect(task.status).to.equal(filter.status);
        if (filter.priority !== undefined) expect(task.priority).to.equal(filter.priority);
      }
      const times = rows.map((task) => (task.created_at as Date).getTime());
      expect(times).to.deep.equal([...times].sort((a, b) => b - a));
    });
  }

  it('stats: an index on user_id, never a sequential scan (custom and generic plans), with the right counts', async () => {
    expectIndexed(await customPlan(db.sql, statsQuery(db.sql, typical, now)));
    expectIndexed(await genericPlan(db.sql, statsQuery(db.sql, typical, now)));
    expectIndexed(await customPlan(db.sql, statsQuery(db.sql, heavy, now)));
    const [stats] = await statsQuery(db.sql, typical, now);
    expect(stats?.total_tasks).to.equal(TASKS / USERS);
    expect((stats?.pending_tasks as number) + (stats?.in_progress_tasks as number) + (stats?.completed_tasks as number)).to.equal(
      TASKS / USERS,
    );
  });
});
