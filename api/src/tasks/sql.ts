/**
 * SQL for the `tasks` table: one statement per operation, each one round trip, each under the
 * query deadline (`withDeadline`). Every statement names the `user_id`, so a task is only ever
 * read, changed or deleted by its own user.
 *
 * Rows come back in the API's JSON shape: PostgreSQL formats the times (UTC, ISO 8601,
 * milliseconds), so a row is a response as it stands and an idempotent replay (`to_jsonb` of
 * the same columns) is byte-for-byte the first response's data.
 */
import { withDeadline, type Db, type Queryable } from '../db.js';
import type { Task, TaskPriority, TaskStatus } from '../schemas/tasks.js';
import type { CursorPosition, ListFilters } from './cursor.js';

/** UTC, ISO 8601, milliseconds (`to_char` truncates, as JavaScript's Date does). */
function isoUtc(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** The ten fields of a task, in the contract's order. A constant: no input ever reaches it. */
const TASK_COLUMNS = `id, user_id, title, description, status, priority,
  ${isoUtc('due_date')} as due_date, ${isoUtc('created_at')} as created_at,
  ${isoUtc('updated_at')} as updated_at, ${isoUtc('completed_at')} as completed_at`;

/** `created_at` in microseconds since the epoch: the keyset cursor's full-precision position. */
const CREATED_MICROS = `(extract(epoch from created_at) * 1000000)::int8 as created_micros`;

/** The ten fields of a row that carries more (a page row's cursor position, a jsonb replay). */
export function pickTask(row: Task): Task {
  return {
    id: row.id,
    user_id: row.user_id,
    title: row.title,
    description: row.description,
    status: row.status,
    priority: row.priority,
    due_date: row.due_date,
    created_at: row.created_at,
    updated_at: row.updated_at,
    completed_at: row.completed_at,
  };
}

/**
 * A constant piece of SQL as a fragment, made once per connection pool or transaction:
 * building a fragment is a whole driver query object, a measurable cost when every request
 * needs one. A fragment is only read when interpolated (never run alone): reusing it is safe.
 */
const fragments = new WeakMap<Queryable, Map<string, ReturnType<Queryable['unsafe']>>>();

function constant(sql: Queryable, text: string) {
  let known = fragments.get(sql);
  if (known === undefined) {
    known = new Map();
    fragments.set(sql, known);
  }
  let fragment = known.get(text);
  if (fragment === undefined) {
    fragment = sql.unsafe(text);
    known.set(text, fragment);
  }
  return fragment;
}

function taskColumns(sql: Queryable) {
  return constant(sql, TASK_COLUMNS);
}

/** A task to insert, validated and normalized. */
export interface NewTask {
  title: string;
  description: string | null;
  status: TaskStatus;
  priority: TaskPriority | null;
  dueDate: Date | null;
}

/**
 * The INSERT of a new task, as a fragment: run alone by `insertTask`, or inside the statement
 * that also remembers an idempotent create (`idempotency/sql.ts`). A task created completed
 * is completed at its creation time (`now()` is one value per statement).
 */
export function insertTaskStatement(sql: Queryable, userId: string, task: NewTask) {
  return sql<Task[]>`
    insert into tasks (user_id, title, description, status, priority, due_date, created_at, updated_at, completed_at)
    values (${userId}, ${task.title}, ${task.description}, ${task.status}, ${task.priority}, ${task.dueDate},
            now(), now(), case when ${task.status}::text = 'completed' then now() end)
    returning ${taskColumns(sql)}`;
}

/** Inserts a task (one statement) and returns it. */
export async function insertTask(db: Db, userId: string, task: NewTask): Promise<Task> {
  const [row] = await withDeadline(insertTaskStatement(db.sql, userId, task), db.queryTimeoutMs);
  if (row === undefined) throw new Error('insert into tasks returned no row');
  return row;
}

/** The user's task with this id, if any. */
export async function selectTask(db: Db, userId: string, id: string): Promise<Task | undefined> {
  const [row] = await withDeadline(
    db.sql<Task[]>`select ${taskColumns(db.sql)} from tasks where id = ${id} and user_id = ${userId}`,
    db.queryTimeoutMs,
  );
  return row;
}

/** A task of a page, with its cursor position. */
export type PageRow = Task & { created_micros: string };

/**
 * The statement of a page: up to `limit` tasks of the user after `after` (newest first, ties
 * by id), filtered. Served by `tasks_user_created_idx`, or `tasks_user_status_created_idx`
 * with a status filter (api/test/query-plans.test.ts checks the plans of this statement).
 */
export function taskPageStatement(sql: Queryable, userId: string, filters: ListFilters, after: CursorPosition | undefined, limit: number) {
  return sql<PageRow[]>`
      select ${taskColumns(sql)}, ${constant(sql, CREATED_MICROS)}
      from tasks
      where user_id = ${userId}
        ${filters.status === undefined ? sql`` : sql`and status = ${filters.status}`}
        ${filters.priority === undefined ? sql`` : sql`and priority = ${filters.priority}`}
        ${
          after === undefined
            ? sql``
            : sql`and (created_at, id) < (timestamptz 'epoch' + ${after.createdMicros}::int8 * interval '1 microsecond', ${after.id}::uuid)`
        }
      -- Qualified: a bare created_at here names the select list's formatted text column
      -- (ORDER BY prefers output names), and PostgreSQL then sorted every task of the user
      -- instead of reading one page off the index (api/test/query-plans.test.ts).
      order by tasks.created_at desc, tasks.id desc
      limit ${limit}`;
}

/** Up to `limit` tasks of the user after `after` (see `taskPageStatement`). */
export async function selectTaskPage(
  db: Db,
  userId: string,
  filters: ListFilters,
  after: CursorPosition | undefined,
  limit: number,
): Promise<PageRow[]> {
  return await withDeadline(taskPageStatement(db.sql, userId, filters, after, limit), db.queryTimeoutMs);
}

/** The columns an update sets; absent ones stay as they are, null clears a nullable one. */
export interface TaskUpdate {
  title?: string;
  description?: string | null;
  status?: TaskStatus;
  priority?: TaskPriority | null;
  dueDate?: Date | null;
}

/**
 * Applies `changes` in one UPDATE and returns the task, or undefined when the user has no
 * such task. `completed_at`: kept when the task was already completed, set to now when it
 * becomes completed, cleared when the status becomes anything else, untouched without a status.
 */
export async function updateTask(db: Db, userId: string, id: string, changes: TaskUpdate): Promise<Task | undefined> {
  const sql = db.sql;
  const assignments: Record<string, string | Date | null> = {};
  if (changes.title !== undefined) assignments.title = changes.title;
  if (changes.description !== undefined) assignments.description = changes.description;
  if (changes.status !== undefined) assignments.status = changes.status;
  if (changes.priority !== undefined) assignments.priority = changes.priority;
  if (changes.dueDate !== undefined) assignments.due_date = changes.dueDate;
  const completedAt =
    changes.status === undefined
      ? sql``
      : changes.status === 'completed'
        ? sql`, completed_at = coalesce(completed_at, now())`
        : sql`, completed_at = null`;
  const [row] = await withDeadline(
    sql<Task[]>`
      update tasks set ${sql(assignments)}, updated_at = now() ${completedAt}
      where id = ${id} and user_id = ${userId}
      returning ${taskColumns(sql)}`,
    db.queryTimeoutMs,
  );
  return row;
}

/** Deletes the user's task; its id as stored (lowercase), or undefined when there was none. */
export async function deleteTask(db: Db, userId: string, id: string): Promise<string | undefined> {
  const [row] = await withDeadline(
    db.sql<{ id: string }[]>`delete from tasks where id = ${id} and user_id = ${userId} returning id`,
    db.queryTimeoutMs,
  );
  return row?.id;
}

/** The counts `selectStats` returns. */
export interface StatsRow {
  total_tasks: number;
  pending_tasks: number;
  in_progress_tasks: number;
  completed_tasks: number;
  overdue_tasks: number;
}

/**
 * The statement of the user's counts: one aggregate over the user's index entries, an
 * index-only scan of `tasks_user_status_created_idx`, which includes `due_date` for the
 * overdue count (api/test/query-plans.test.ts).
 */
export function statsStatement(sql: Queryable, userId: string) {
  return sql<StatsRow[]>`
      select count(*)::int as total_tasks,
             count(*) filter (where status = 'pending')::int as pending_tasks,
             count(*) filter (where status = 'in_progress')::int as in_progress_tasks,
             count(*) filter (where status = 'completed')::int as completed_tasks,
             count(*) filter (where status <> 'completed' and due_date < now())::int as overdue_tasks
      from tasks where user_id = ${userId}`;
}

/** The user's counts in one aggregate (see `statsStatement`). */
export async function selectStats(db: Db, userId: string): Promise<StatsRow> {
  const [row] = await withDeadline(statsStatement(db.sql, userId), db.queryTimeoutMs);
  if (row === undefined) throw new Error('the stats aggregate returned no row');
  return row;
}
