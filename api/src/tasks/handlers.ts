/**
 * The six task operations, called by both transports (`/execute` and `/v1`) with validated
 * input: each is one SQL statement (an idempotent create that replays, two) and returns the
 * `data` of the envelope.
 */
import type { Db } from '../db.js';
import { ApiError } from '../errors.js';
import type { CreateOutcome, CreateTaskOnce } from '../idempotency/create.js';
import type { IdempotencyScope } from '../idempotency/sql.js';
import { toDate } from '../schemas/date-time.js';
import {
  LIST_LIMIT_DEFAULT,
  type CreateTaskPayload,
  type DeletedTask,
  type ListTasksPayload,
  type Task,
  type TaskChanges,
  type TaskPage,
  type TaskStats,
} from '../schemas/tasks.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import * as tasks from './sql.js';

/** What the operations need from the app. */
export interface TaskDeps {
  db: Db;
  createTaskOnce: CreateTaskOnce;
}

/** Another user's task and no task at all answer alike: nothing tells them apart. */
function taskNotFound(): ApiError {
  return new ApiError('not_found', 'No such task for this user_id');
}

/** An `Idempotency-Key` in effect for a create. */
export interface CreateIdempotency {
  scope: IdempotencyScope;
  requestHash: Buffer;
}

/**
 * `create-task`. `payload.title` was trimmed before validation. `responseStatus` is what the
 * transport answers a fresh create with (200 or 201); a replay answers what was remembered.
 */
export async function createTask(
  deps: TaskDeps,
  input: {
    userId: string;
    payload: CreateTaskPayload;
    responseStatus: number;
    idempotency?: CreateIdempotency | undefined;
  },
): Promise<CreateOutcome> {
  const { payload } = input;
  const task: tasks.NewTask = {
    title: payload.title,
    description: payload.description ?? null,
    status: payload.status ?? 'pending',
    priority: payload.priority ?? null,
    dueDate: payload.due_date === undefined || payload.due_date === null ? null : toDate(payload.due_date),
  };
  if (input.idempotency === undefined) {
    return { task: await tasks.insertTask(deps.db, input.userId, task), status: input.responseStatus, replayed: false };
  }
  return await deps.createTaskOnce({
    ...input.idempotency,
    userId: input.userId,
    responseStatus: input.responseStatus,
    task,
  });
}

/**
 * `list-tasks`: newest first, ties broken by id; one row more than the page tells whether
 * another page follows, so an exactly full last page has no `next_cursor`.
 */
export async function listTasks(
  deps: TaskDeps,
  input: { userId: string; payload: ListTasksPayload; cursorPointer: string },
): Promise<TaskPage> {
  const { status, priority, cursor } = input.payload;
  const filters = { status, priority };
  const limit = input.payload.limit ?? LIST_LIMIT_DEFAULT;
  const after = cursor === undefined ? undefined : decodeCursor(cursor, filters, input.cursorPointer);
  const rows = await tasks.selectTaskPage(deps.db, input.userId, filters, after, limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    tasks: page.map(tasks.pickTask),
    count: page.length,
    next_cursor:
      rows.length > limit && last !== undefined ? encodeCursor({ createdMicros: last.created_micros, id: last.id }, filters) : null,
  };
}

/** `get-task`. */
export async function getTask(deps: TaskDeps, input: { userId: string; taskId: string }): Promise<Task> {
  const task = await tasks.selectTask(deps.db, input.userId, input.taskId);
  if (task === undefined) throw taskNotFound();
  return task;
}

/** `update-task`: the fields present change (null clears), `completed_at` follows the status. */
export async function updateTask(
  deps: TaskDeps,
  input: { userId: string; taskId: string; changes: TaskChanges },
): Promise<Task> {
  const { changes } = input;
  const update: tasks.TaskUpdate = {};
  if (changes.title !== undefined) update.title = changes.title;
  if (changes.description !== undefined) update.description = changes.description;
  if (changes.status !== undefined) update.status = changes.status;
  if (changes.priority !== undefined) update.priority = changes.priority;
  if (changes.due_date !== undefined) update.dueDate = changes.due_date === null ? null : toDate(changes.due_date);
  const task = await tasks.updateTask(deps.db, input.userId, input.taskId, update);
  if (task === undefined) throw taskNotFound();
  return task;
}

/** `delete-task`. */
export async function deleteTask(deps: TaskDeps, input: { userId: string; taskId: string }): Promise<DeletedTask> {
  const deletedId = await tasks.deleteTask(deps.db, input.userId, input.taskId);
  if (deletedId === undefined) throw taskNotFound();
  // The id as stored, not as sent: a client compares it with the task's `id`.
  return { success: true, deleted_id: deletedId };
}

/** completed / total × 100, rounded half up to 2 decimals; 0 without tasks. */
export function completionRate(completed: number, total: number): number {
  // Integer arithmetic up to the last step: completed × 10000 / total is exact or rounds
  // correctly for any realistic count, so x.xx5 rounds up as a person would expect.
  return total === 0 ? 0 : Math.round((completed * 10_000) / total) / 100;
}

/** `get-stats`. */
export async function getStats(deps: TaskDeps, input: { userId: string }): Promise<TaskStats> {
  const counts = await tasks.selectStats(deps.db, input.userId);
  return {
    total_tasks: counts.total_tasks,
    pending_tasks: counts.pending_tasks,
    in_progress_tasks: counts.in_progress_tasks,
    completed_tasks: counts.completed_tasks,
    completion_rate: completionRate(counts.completed_tasks, counts.total_tasks),
    overdue_tasks: counts.overdue_tasks,
  };
}
