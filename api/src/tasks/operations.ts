/**
 * The six task operations, as one table: each is a name, the schema of its input, the schema
 * of its data, and `run(deps, userId, input)`. They know nothing of HTTP: no status codes, no
 * JSON pointers, no request; a refusal is an `OperationError` naming the field at fault. The
 * transports (`/execute`, `/v1`) read and validate their own input into an operation's input,
 * call `run` and shape the answer.
 *
 * Each operation is one SQL statement (`sql.ts`) run under the query deadline; a listing is
 * a series of bounded keyset batches, read as the answer is written. A task is answered as the
 * JSON text PostgreSQL wrote (`TaskJson`), never parsed.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { withDeadline, type Db, type Queryable } from '../db.js';
import { JsonText } from '../envelope.js';
import type { JsonSchema } from '../schemas/common.js';
import { toDate } from '../schemas/date-time.js';
import {
  CreateTaskInputSchema,
  DeletedTaskSchema,
  ListTasksInputSchema,
  NoInputSchema,
  TaskIdInputSchema,
  TaskPageSchema,
  TaskSchema,
  TaskStatsSchema,
  UpdateTaskInputSchema,
  type CreateTaskInput,
  type DeletedTask,
  type ListTasksInput,
  type Task,
  type TaskIdInput,
  type TaskStats,
  type UpdateTaskInput,
} from '../schemas/tasks.js';
import { decodeCursor, encodeCursor, type CursorPosition } from './cursor.js';
import { OperationError } from './errors.js';
import {
  deleteTaskStatement,
  insertTaskStatement,
  pickTask,
  selectTaskStatement,
  statsStatement,
  taskBatchStatement,
  updateTaskStatement,
  type NewTask,
  type PageBatchRow,
  type TaskChanges,
  type TaskJsonRow,
} from './sql.js';

/** A task as its JSON text (the contract's fields and order), with its id. */
export class TaskJson extends JsonText {
  readonly id: string;

  constructor(text: string, id: string) {
    super(text);
    this.id = id;
  }

  static of(row: TaskJsonRow): TaskJson {
    return new TaskJson(row.json, row.id);
  }
}

/** What the operations need from the app. */
export interface TaskDeps {
  db: Db;
}

/** One task operation: what it takes, what it gives, and how it runs. */
export interface Operation<S extends TSchema, Data> {
  readonly name: OperationName;
  readonly summary: string;
  /** The input, as a schema; `run` takes what it validates. */
  readonly input: S;
  /** The data it answers, as a schema (for the documentation). */
  readonly output: JsonSchema;
  run(deps: TaskDeps, userId: string, input: Static<S>): Promise<Data>;
}

/** The operations' names: `/execute`'s actions. */
export const OPERATION_NAMES = ['create-task', 'list-tasks', 'get-task', 'update-task', 'delete-task', 'get-stats'] as const;
/** One of `OPERATION_NAMES`. */
export type OperationName = (typeof OPERATION_NAMES)[number];

/** An operation of the table, from its parts (one line each instead of an object literal). */
function operation<S extends TSchema, Data>(
  name: OperationName,
  summary: string,
  schemas: { input: S; output: JsonSchema },
  run: (deps: TaskDeps, userId: string, input: Static<S>) => Promise<Data>,
): Operation<S, Data> {
  return { name, summary, ...schemas, run };
}

/** Another user's task and no task at all answer alike: nothing tells them apart. */
function taskNotFound(): OperationError {
  return new OperationError('not_found', 'No such task for this user_id');
}

/** The single row a statement returns when it found its task. */
async function oneRow<T>(deps: TaskDeps, statement: PromiseLike<readonly T[]>): Promise<T | undefined> {
  const [row] = await withDeadline(statement, deps.db.queryTimeoutMs);
  return row;
}

/**
 * The row of a statement that always returns one (an insert, an aggregate); no row is a fault
 * (a 500), never an answer. `what` names the statement in that error.
 */
async function theRow<T>(deps: TaskDeps, statement: PromiseLike<readonly T[]>, what: string): Promise<T> {
  const row = await oneRow(deps, statement);
  if (row === undefined) throw new Error(`${what} returned no row`);
  return row;
}

/** The row of a statement about one task of the user; no row is that task not found. */
async function theTask<T>(deps: TaskDeps, statement: PromiseLike<readonly T[]>): Promise<T> {
  const row = await oneRow(deps, statement);
  if (row === undefined) throw taskNotFound();
  return row;
}

/** The row of a task to insert: defaults filled in, the due date read as an instant. */
function newTask(userId: string, input: CreateTaskInput): NewTask {
  return {
    user_id: userId,
    title: input.title,
    description: input.description ?? null,
    status: input.status ?? 'pending',
    priority: input.priority ?? null,
    due_date: input.due_date === undefined || input.due_date === null ? null : toDate(input.due_date),
  };
}

/**
 * `create-task`. Its statement is also what an idempotent create runs inside the statement
 * that remembers it (`idempotency/`), and `replay` writes a remembered task (jsonb, which keeps
 * its own key order) as the text the first response had.
 */
export const createTask: Operation<typeof CreateTaskInputSchema, TaskJson> & {
  statement(sql: Queryable, userId: string, input: CreateTaskInput): ReturnType<typeof insertTaskStatement>;
  replay(stored: unknown): TaskJsonRow;
} = {
  name: 'create-task',
  summary: 'Create a task',
  input: CreateTaskInputSchema,
  output: TaskSchema,
  statement: (sql: Queryable, userId: string, input: CreateTaskInput) => insertTaskStatement(sql, newTask(userId, input)),
  replay: (stored: unknown) => {
    // Remembered by `idempotency/` from this statement's own `json`: a task.
    const task = pickTask(stored as Task);
    return { json: JSON.stringify(task), id: task.id };
  },
  async run(deps: TaskDeps, userId: string, input: CreateTaskInput): Promise<TaskJson> {
    return TaskJson.of(await theRow(deps, createTask.statement(deps.db.sql, userId, input), 'insert into tasks'));
  },
};

/**
 * Tasks read per statement while a listing is written: each batch is one index scan under its
 * own deadline, so a slow reader never holds a connection or a transaction open.
 */
export const LIST_BATCH_SIZE = 50;

/**
 * JSON text per batch: a batch takes a task only while its text before that task is under
 * this, so it ends at most one task past it (a task is at most ~63 KB: 10 500 characters,
 * each escaped to six bytes at worst), and always takes its first task. Bounds what one
 * listing holds in memory whatever its length or its tasks' sizes: the batch as the driver
 * receives it, as a string, and as the socket's copy while it drains. Typical tasks (a few
 * hundred bytes) fill a batch by count long before this.
 */
export const LIST_BATCH_BYTES = 256 * 1024;

/** The end of a listing, known once its tasks were read through. */
export interface ListingEnd {
  count: number;
  next_cursor: string | null;
}

/**
 * `list-tasks`' data, read as it is written: `batches` yields the tasks' JSON texts a batch at
 * a time, each batch one string of comma-separated tasks as PostgreSQL joined them (fetched as
 * the reader asks for them; never an empty batch), then `end()` tells the count and the cursor
 * to the next page. The first batch is fetched before `run` resolves, so a fault or a bad
 * cursor is still an ordinary error, not a broken answer.
 */
export class TaskListing {
  readonly batches: AsyncIterable<string>;
  /** True when the first batch is the whole listing: reading `batches` touches the database no more. */
  readonly whole: boolean;
  private ending: ListingEnd | undefined;

  constructor(whole: boolean, batches: (finish: (end: ListingEnd) => void) => AsyncIterable<string>) {
    this.whole = whole;
    this.batches = batches((end) => (this.ending = end));
  }

  /** The count and the next cursor; only once `batches` was read through. */
  end(): ListingEnd {
    if (this.ending === undefined) throw new Error('TaskListing.end() before its tasks were read');
    return this.ending;
  }
}

/**
 * `list-tasks`: newest first, ties broken by id. With a `limit`, a page: one row more than the
 * page tells whether another follows, so an exactly full last page has no `next_cursor`.
 * Without one, every matching task, and no cursor.
 */
export const listTasks = operation(
  'list-tasks',
  "The user's tasks (a page with `limit`)",
  { input: ListTasksInputSchema, output: TaskPageSchema },
  async (deps, userId, input: ListTasksInput): Promise<TaskListing> => {
    const filters = { status: input.status, priority: input.priority };
    const limit = input.limit ?? Number.POSITIVE_INFINITY;
    const fetch = (after: CursorPosition | undefined, wanted: number): Promise<PageBatchRow> =>
      theRow(deps, taskBatchStatement(deps.db.sql, userId, filters, after, wanted, LIST_BATCH_BYTES), 'the listing aggregate');
    const start = input.cursor === undefined ? undefined : decodeCursor(input.cursor, filters);
    const firstWanted = Math.min(LIST_BATCH_SIZE, limit);
    const first = await fetch(start, firstWanted);
    // Whole when nothing follows the first batch, or when it completes the page.
    const whole = !first.more || first.count >= limit;

    // Handed to the reader once, then let go (the generator keeps no batch while it yields).
    let firstBatch: PageBatchRow | undefined = first;
    return new TaskListing(whole, async function* batches(finish) {
      let served = 0;
      let after = start;
      let wanted = firstWanted;
      for (;;) {
        const batch = firstBatch ?? (await fetch(after, wanted));
        firstBatch = undefined;
        served += batch.count;
        if (batch.tasks !== null) yield batch.tasks;
        if (!batch.more) return finish({ count: served, next_cursor: null });
        after = lastOf(batch);
        if (served >= limit) return finish({ count: served, next_cursor: encodeCursor(after, filters) });
        // A batch its bytes cut short (large tasks): the next asks for one task more than it
        // took, not for a whole batch whose scan would be mostly thrown away; otherwise a
        // whole batch.
        wanted = Math.min(batch.count < wanted ? batch.count + 1 : LIST_BATCH_SIZE, limit - served);
      }
    });
  },
);

/** The position of the last task of a batch that has tasks: where the next batch or page starts. */
function lastOf(batch: PageBatchRow): CursorPosition {
  if (batch.last_micros === null || batch.last_id === null) throw new Error('a listing batch with more to come has no last task');
  return { createdMicros: batch.last_micros, id: batch.last_id };
}

/** `get-task`. */
export const getTask = operation('get-task', 'One task', { input: TaskIdInputSchema, output: TaskSchema }, async (deps, userId, input: TaskIdInput) =>
  TaskJson.of(await theTask(deps, selectTaskStatement(deps.db.sql, userId, input.task_id))),
);

/** The columns an update's input changes: the fields present (null clears), the due date as an instant. */
function taskChanges(input: UpdateTaskInput): TaskChanges {
  const { task_id: _taskId, due_date: dueDate, ...fields } = input;
  return { ...fields, ...(dueDate === undefined ? {} : { due_date: dueDate === null ? null : toDate(dueDate) }) };
}

/** `update-task`: the fields present change (null clears), `completed_at` follows the status. */
export const updateTask = operation('update-task', 'Change a task', { input: UpdateTaskInputSchema, output: TaskSchema }, async (deps, userId, input: UpdateTaskInput) =>
  TaskJson.of(await theTask(deps, updateTaskStatement(deps.db.sql, userId, input.task_id, taskChanges(input)))),
);

/** `delete-task`. */
export const deleteTask = operation(
  'delete-task',
  'Delete a task',
  { input: TaskIdInputSchema, output: DeletedTaskSchema },
  async (deps, userId, input: TaskIdInput): Promise<DeletedTask> => {
    const row = await theTask(deps, deleteTaskStatement(deps.db.sql, userId, input.task_id));
    // The id as stored, not as sent: a client compares it with the task's `id`.
    return { success: true, deleted_id: row.id };
  },
);

/** completed / total × 100, rounded half up to 2 decimals; 0 without tasks. */
export function completionRate(completed: number, total: number): number {
  // Integer arithmetic up to the last step: completed × 10000 / total is exact or rounds
  // correctly for any realistic count, so x.xx5 rounds up as a person would expect.
  return total === 0 ? 0 : Math.round((completed * 10_000) / total) / 100;
}

/** `get-stats`. */
export const getStats = operation(
  'get-stats',
  "The user's task counts",
  { input: NoInputSchema, output: TaskStatsSchema },
  async (deps, userId): Promise<TaskStats> => {
    const counts = await theRow(deps, statsStatement(deps.db.sql, userId), 'the stats aggregate');
    return {
      total_tasks: counts.total_tasks,
      pending_tasks: counts.pending_tasks,
      in_progress_tasks: counts.in_progress_tasks,
      completed_tasks: counts.completed_tasks,
      completion_rate: completionRate(counts.completed_tasks, counts.total_tasks),
      overdue_tasks: counts.overdue_tasks,
    };
  },
);

/** The table: every operation by name, in the contract's order. */
export const TASK_OPERATIONS = {
  'create-task': createTask,
  'list-tasks': listTasks,
  'get-task': getTask,
  'update-task': updateTask,
  'delete-task': deleteTask,
  'get-stats': getStats,
} satisfies Record<OperationName, Operation<TSchema, unknown>>;
