/**
 * The statements of the `tasks` table: one per operation, each one round trip. They are built
 * here and run by the operations (`operations.ts`) under the query deadline. Every statement
 * names the `user_id`, so a task is only ever read, changed or deleted by its own user.
 *
 * A task comes back as JSON text written by PostgreSQL (`row_to_json` of the contract's fields,
 * in its order, the times formatted as UTC ISO 8601 with milliseconds): the API answers it as it
 * is, never parsing it into an object only to serialise it again (issue 14: a page of 50 tasks
 * was ~15 KB parsed and re-serialised per request). The text is byte for byte what
 * `JSON.stringify` writes for the same task (api/test/task-json.test.ts), and an idempotent
 * replay (the same text stored as jsonb) is the first response's data.
 */
import type { Queryable } from '../db.js';
import { TASK_FIELDS, TaskSchema, type Task, type TaskPriority, type TaskStatus } from '../schemas/tasks.js';
import type { CursorPosition, ListFilters } from './cursor.js';

/** UTC, ISO 8601, milliseconds (`to_char` truncates, as JavaScript's Date does). */
function isoUtc(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ${column}`;
}

/** Whether a field of the task schema is a time (written out by PostgreSQL, see `isoUtc`). */
function isTime(field: keyof Task): boolean {
  return (TaskSchema.properties[field] as { format?: unknown }).format === 'date-time';
}

/**
 * The ten fields of a task, in the contract's order, from the task schema (the one place they
 * are written). A constant: no input ever reaches it.
 */
const TASK_COLUMNS = TASK_FIELDS.map((field) => (isTime(field) ? isoUtc(field) : field)).join(', ');

/** `created_at` in microseconds since the epoch: the keyset cursor's full-precision position. */
const CREATED_MICROS = `(extract(epoch from created_at) * 1000000)::int8 as created_micros`;

/**
 * A task as JSON text, from the row in scope (a table row, or the row an INSERT or UPDATE
 * returns): `row_to_json` of a subquery names the fields, and writes them compactly, escaped as
 * `JSON.stringify` escapes them. Selected `as json`, beside the task's `id`.
 */
const TASK_JSON = `(select row_to_json(task)::text from (select ${TASK_COLUMNS}) as task) as json, id`;

/** A task as a statement returns it: its JSON text and its id (for `Location` and cursors). */
export interface TaskJsonRow {
  json: string;
  id: string;
}

/** The ten fields of a stored task in the contract's order (jsonb keeps its own key order). */
export function pickTask(row: Task): Task {
  return Object.fromEntries(TASK_FIELDS.map((field) => [field, row[field]])) as Task;
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

function taskJson(sql: Queryable) {
  return constant(sql, TASK_JSON);
}

/** A task to insert: its owner and its fields, validated and normalized. */
export interface NewTask {
  user_id: string;
  title: string;
  description: string | null;
  status: TaskStatus;
  priority: TaskPriority | null;
  due_date: Date | null;
}

/**
 * The INSERT of a new task: run alone, or inside the statement that also remembers an
 * idempotent create (`idempotency/`). A task created completed is completed at its creation
 * time (`now()` is one value per statement; created_at and updated_at default to it). Written
 * out rather than with porsager's `sql(object, columns)`: that helper binds every value as a
 * parameter, and completed_at must be the statement's own `now()`.
 */
export function insertTaskStatement(sql: Queryable, task: NewTask) {
  return sql<TaskJsonRow[]>`
    insert into tasks (user_id, title, description, status, priority, due_date, completed_at)
    values (${task.user_id}, ${task.title}, ${task.description}, ${task.status}, ${task.priority}, ${task.due_date},
            case when ${task.status}::text = 'completed' then now() end)
    returning ${taskJson(sql)}`;
}

/** The user's task with this id, if any. */
export function selectTaskStatement(sql: Queryable, userId: string, id: string) {
  return sql<TaskJsonRow[]>`select ${taskJson(sql)} from tasks where id = ${id} and user_id = ${userId}`;
}

/**
 * A batch of a listing, as the one row its statement returns: the tasks' JSON texts already
 * joined by PostgreSQL, so the API decodes one value per batch rather than a row per task
 * (issue 14: turning 51 rows into objects and back was a sixth of list-tasks' CPU).
 */
export interface PageBatchRow {
  /** The batch's tasks as JSON texts separated by commas, in listing order; null when none matched. */
  tasks: string | null;
  /** How many tasks `tasks` holds. */
  count: number;
  /** Whether another task follows the batch in the listing. */
  more: boolean;
  /** The position of the batch's last task (where the next batch or page starts); null without tasks. */
  last_micros: string | null;
  last_id: string | null;
}

/**
 * The statement of a batch: up to `wanted` tasks of the user after `after` (newest first, ties
 * by id), filtered, taking a task only while the batch's JSON text before it is under `bytes`
 * (so a batch always takes its first task, and ends at most one task past `bytes`),
 * aggregated into one row (`PageBatchRow`). The scan reads one row more than `wanted`, which
 * tells whether another task follows, so an exactly full last page has no cursor.
 * Served by `tasks_user_created_idx`, or `tasks_user_status_created_idx` with a status filter,
 * in index order (api/test/query-plans.test.ts checks the plans of this statement).
 */
export function taskBatchStatement(
  sql: Queryable,
  userId: string,
  filters: ListFilters,
  after: CursorPosition | undefined,
  wanted: number,
  bytes: number,
) {
  return sql<PageBatchRow[]>`
      select string_agg(page.json, ',' order by page.n) filter (where page.taken) as tasks,
             (count(*) filter (where page.taken))::int4 as count,
             count(*) > count(*) filter (where page.taken) as more,
             (array_agg(page.created_micros order by page.n desc) filter (where page.taken))[1] as last_micros,
             (array_agg(page.id order by page.n desc) filter (where page.taken))[1] as last_id
      from (
        -- Taken: within the count, and started before the batch's text reached its bytes
        -- (a running sum, so the tasks taken are always a prefix of the scan).
        select scan.*,
               scan.n <= ${wanted}::int8
                 and sum(octet_length(scan.json)) over (order by scan.n) - octet_length(scan.json) < ${bytes}::int8 as taken
        from (
          select ${taskJson(sql)}, ${constant(sql, CREATED_MICROS)},
                 row_number() over (order by tasks.created_at desc, tasks.id desc) as n
          from tasks
          where user_id = ${userId}
            ${filters.status === undefined ? sql`` : sql`and status = ${filters.status}`}
            ${filters.priority === undefined ? sql`` : sql`and priority = ${filters.priority}`}
            ${
              after === undefined
                ? sql``
                : sql`and (created_at, id) < (timestamptz 'epoch' + ${after.createdMicros}::int8 * interval '1 microsecond', ${after.id}::uuid)`
            }
          -- Qualified: a bare name here may be an output column's (ORDER BY prefers output
          -- names; created_at once was the formatted text), and PostgreSQL then sorted every
          -- task of the user instead of reading one page off the index (api/test/query-plans.test.ts).
          order by tasks.created_at desc, tasks.id desc
          limit ${wanted + 1}
        ) as scan
      ) as page`;
}

/** The columns an update sets; absent ones stay as they are, null clears a nullable one. */
export type TaskChanges = Partial<Pick<NewTask, 'title' | 'description' | 'status' | 'priority' | 'due_date'>>;

/**
 * Applies `changes` in one UPDATE, returning the task (no row when the user has no such task).
 * Only the columns present are set (porsager's `sql(object, columns)`). `completed_at`: kept
 * when the task was already completed, set to now when it becomes completed, cleared when the
 * status becomes anything else, untouched without a status.
 */
export function updateTaskStatement(sql: Queryable, userId: string, id: string, changes: TaskChanges) {
  const columns = (Object.keys(changes) as (keyof TaskChanges)[]).filter((column) => changes[column] !== undefined);
  const completedAt =
    changes.status === undefined
      ? sql``
      : changes.status === 'completed'
        ? sql`, completed_at = coalesce(completed_at, now())`
        : sql`, completed_at = null`;
  return sql<TaskJsonRow[]>`
      update tasks set ${sql(changes, columns)}, updated_at = now() ${completedAt}
      where id = ${id} and user_id = ${userId}
      returning ${taskJson(sql)}`;
}

/** Deletes the user's task, returning its id as stored (lowercase); no row when there was none. */
export function deleteTaskStatement(sql: Queryable, userId: string, id: string) {
  return sql<{ id: string }[]>`delete from tasks where id = ${id} and user_id = ${userId} returning id`;
}

/** The counts `statsStatement` returns. */
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
