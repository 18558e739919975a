/**
 * `/v1`: the six task operations as resources under `/v1/users/{user_id}`, a thin adapter over
 * the operation table (`tasks/operations.ts`): path, query and body are validated into the
 * operation's input (every failure a 422), the operation runs, and the answer is shaped here
 * (201 with `Location` for a create, 422 pointers into the path, query or body).
 */
import type { RouteContext, RouteDefinition, Services } from '../routes.js';
import {
  CreateTaskInputSchema,
  DeletedTaskSchema,
  LIST_LIMIT_DEFAULT,
  ListTasksInputSchema,
  TaskPageSchema,
  TaskPathSchema,
  TaskSchema,
  TaskStatsSchema,
  UpdateTaskBodySchema,
  UserPathSchema,
} from '../schemas/tasks.js';
import { compileInput, compileQuery } from '../schemas/validate.js';
import { deleteTask, getStats, getTask, listTasks, updateTask } from '../tasks/operations.js';
import {
  calling,
  createTaskFrom,
  IdempotencyKeySchema,
  NOTHING,
  readInput,
  REPLAYED_HEADER,
  respond,
  trimTitle,
  type OperationErrorStyle,
} from './input.js';

const TASKS_PATH = '/v1/users/:user_id/tasks';
const TASK_PATH = '/v1/users/:user_id/tasks/:task_id';
const STATS_PATH = '/v1/users/:user_id/stats';

const userPath = compileInput(UserPathSchema);
const taskPath = compileInput(TaskPathSchema);

const LIST = { params: userPath, query: compileQuery(ListTasksInputSchema), body: NOTHING };
const CREATE = { params: userPath, query: NOTHING, body: compileInput(CreateTaskInputSchema), bodyRequired: true, normalize: trimTitle, idempotent: true };
const ONE_TASK = { params: taskPath, query: NOTHING, body: NOTHING };
const UPDATE = { params: taskPath, query: NOTHING, body: compileInput(UpdateTaskBodySchema), bodyRequired: true, normalize: trimTitle };
const STATS = { params: userPath, query: NOTHING, body: NOTHING };

/** Every property name a create body may hold: the canonical form's key list. */
const CREATE_BODY_KEYS = Object.keys(CreateTaskInputSchema.properties);

/** A listing's only refusable field, the cursor, is in the query. */
const LIST_ERRORS: OperationErrorStyle = { pointer: (field) => `/query/${field}` };
/** The other operations refuse nothing but a missing task. */
const BODY_ERRORS: OperationErrorStyle = { pointer: (field) => `/${field}` };

/**
 * A path segment: percent-encoded, dots included, so that a `user_id` of `.` or `..` stays a
 * segment (a client or proxy would otherwise resolve it as "this" or "the parent" directory).
 */
function pathSegment(text: string): string {
  return encodeURIComponent(text).replaceAll('.', '%2E');
}

/** Where a created task lives. */
export function taskLocation(userId: string, taskId: string): string {
  return `/v1/users/${pathSegment(userId)}/tasks/${pathSegment(taskId)}`;
}

async function list(ctx: RouteContext, services: Services): Promise<void> {
  const { params, query } = await readInput(ctx, LIST);
  const userId = (ctx.state.userId = params.user_id);
  // /v1 always pages: the contract's default page size when no limit is given.
  const input = { ...query, limit: query.limit ?? LIST_LIMIT_DEFAULT };
  await respond(ctx, services, 200, await calling(LIST_ERRORS, () => listTasks.run(services.tasks, userId, input)));
}

async function create(ctx: RouteContext, services: Services): Promise<void> {
  const { params, body, sentBody, idempotencyKey } = await readInput(ctx, CREATE);
  const userId = (ctx.state.userId = params.user_id);
  const outcome = await createTaskFrom(ctx, services, {
    transport: 'v1',
    userId,
    input: body,
    responseStatus: 201,
    idempotencyKey,
    sentBody,
    bodyKeys: CREATE_BODY_KEYS,
  });
  ctx.set('Location', taskLocation(userId, outcome.data.id));
  await respond(ctx, services, outcome.status, outcome.data);
}

async function get(ctx: RouteContext, services: Services): Promise<void> {
  const { params } = await readInput(ctx, ONE_TASK);
  const userId = (ctx.state.userId = params.user_id);
  await respond(ctx, services, 200, await calling(BODY_ERRORS, () => getTask.run(services.tasks, userId, { task_id: params.task_id })));
}

async function update(ctx: RouteContext, services: Services): Promise<void> {
  const { params, body } = await readInput(ctx, UPDATE);
  const userId = (ctx.state.userId = params.user_id);
  const input = { ...body, task_id: params.task_id };
  await respond(ctx, services, 200, await calling(BODY_ERRORS, () => updateTask.run(services.tasks, userId, input)));
}

async function remove(ctx: RouteContext, services: Services): Promise<void> {
  const { params } = await readInput(ctx, ONE_TASK);
  const userId = (ctx.state.userId = params.user_id);
  await respond(ctx, services, 200, await calling(BODY_ERRORS, () => deleteTask.run(services.tasks, userId, { task_id: params.task_id })));
}

async function stats(ctx: RouteContext, services: Services): Promise<void> {
  const { params } = await readInput(ctx, STATS);
  const userId = (ctx.state.userId = params.user_id);
  await respond(ctx, services, 200, await calling(BODY_ERRORS, () => getStats.run(services.tasks, userId, {})));
}

/** What every `/v1` route shares in its documentation. */
const COMMON = { readsBody: true, usesDatabase: true, tags: ['tasks'] };

/** The `/v1` routes. */
export const v1Routes: RouteDefinition[] = [
  {
    method: 'GET',
    path: TASKS_PATH,
    auth: 'service',
    handle: list,
    doc: {
      ...COMMON,
      operationId: 'listTasks',
      summary: "A page of the user's tasks (same as list-tasks)",
      description:
        'Newest first (created_at, then id, descending). `next_cursor` continues the listing with the same filters; it is ' +
        'null when no task follows. Unknown query parameters are a 422.',
      params: UserPathSchema,
      query: ListTasksInputSchema,
      responses: { 200: { description: 'The page.', data: TaskPageSchema } },
    },
  },
  {
    method: 'POST',
    path: TASKS_PATH,
    auth: 'service',
    handle: create,
    doc: {
      ...COMMON,
      operationId: 'createTask',
      summary: 'Create a task (same as create-task)',
      params: UserPathSchema,
      headers: [{ name: 'Idempotency-Key', description: IdempotencyKeySchema.description, schema: IdempotencyKeySchema }],
      body: { schema: CreateTaskInputSchema },
      responses: {
        201: {
          description: 'The task, created (or, with `Idempotent-Replayed: true`, the one an earlier request created).',
          data: TaskSchema,
          headers: {
            Location: { description: 'The new task: /v1/users/{user_id}/tasks/{task_id}.', schema: { type: 'string' } },
            [REPLAYED_HEADER]: { description: '`true` on an idempotent replay.', schema: { type: 'string', const: 'true' } },
          },
        },
      },
      errors: ['idempotency_conflict'],
    },
  },
  {
    method: 'GET',
    path: TASK_PATH,
    auth: 'service',
    handle: get,
    doc: {
      ...COMMON,
      operationId: 'getTask',
      summary: 'One task (same as get-task)',
      params: TaskPathSchema,
      responses: { 200: { description: 'The task.', data: TaskSchema } },
      errors: ['not_found'],
    },
  },
  {
    method: 'PATCH',
    path: TASK_PATH,
    auth: 'service',
    handle: update,
    doc: {
      ...COMMON,
      operationId: 'updateTask',
      summary: 'Change a task (same as update-task)',
      description: 'At least one field; `null` clears description, priority and due_date. `completed_at` follows the status.',
      params: TaskPathSchema,
      body: { schema: UpdateTaskBodySchema },
      responses: { 200: { description: 'The updated task.', data: TaskSchema } },
      errors: ['not_found'],
    },
  },
  {
    method: 'DELETE',
    path: TASK_PATH,
    auth: 'service',
    handle: remove,
    doc: {
      ...COMMON,
      operationId: 'deleteTask',
      summary: 'Delete a task (same as delete-task)',
      params: TaskPathSchema,
      responses: { 200: { description: 'Deleted.', data: DeletedTaskSchema } },
      errors: ['not_found'],
    },
  },
  {
    method: 'GET',
    path: STATS_PATH,
    auth: 'service',
    handle: stats,
    doc: {
      ...COMMON,
      operationId: 'getStats',
      summary: "The user's task counts (same as get-stats)",
      params: UserPathSchema,
      responses: { 200: { description: 'The counts.', data: TaskStatsSchema } },
    },
  },
];
