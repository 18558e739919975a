/**
 * `/v1`: the six task operations as resources under `/v1/users/{user_id}`. Path, query and
 * body map onto the same payloads as `/execute` and the same handlers run; only the status of
 * a create (201 with `Location`) differs.
 */
import type { RouteContext, RouteDefinition, Services } from '../routes.js';
import {
  CreateTaskPayloadSchema,
  DeletedTaskSchema,
  ListTasksPayloadSchema,
  TaskPageSchema,
  TaskPathSchema,
  TaskSchema,
  TaskStatsSchema,
  UpdateTaskBodySchema,
  UserPathSchema,
  type CreateTaskPayload,
  type ListTasksPayload,
  type TaskChanges,
} from '../schemas/tasks.js';
import { compileBody, compileQuery } from '../schemas/validate.js';
import { deleteTask, getStats, getTask, listTasks, updateTask } from '../tasks/handlers.js';
import { createTaskFrom, IdempotencyKeySchema, readInput, REPLAYED_HEADER, respond, trimTitle, type InputSpec } from './input.js';

const TASKS_PATH = '/v1/users/:user_id/tasks';
const TASK_PATH = '/v1/users/:user_id/tasks/:task_id';
const STATS_PATH = '/v1/users/:user_id/stats';

const userPath = compileBody(UserPathSchema);
const taskPath = compileBody(TaskPathSchema);

const LIST: InputSpec = { params: userPath, query: compileQuery(ListTasksPayloadSchema) };
const CREATE: InputSpec = { params: userPath, body: { validate: compileBody(CreateTaskPayloadSchema), normalize: trimTitle }, idempotent: true };
const ONE_TASK: InputSpec = { params: taskPath };
const UPDATE: InputSpec = { params: taskPath, body: { validate: compileBody(UpdateTaskBodySchema), normalize: trimTitle } };
const STATS: InputSpec = { params: userPath };

/** Every property name a create body may hold: the canonical form's key list. */
const CREATE_BODY_KEYS = Object.keys(CreateTaskPayloadSchema.properties as object);

/** Where a created task lives. */
export function taskLocation(userId: string, taskId: string): string {
  return `/v1/users/${encodeURIComponent(userId)}/tasks/${taskId}`;
}

async function list(ctx: RouteContext, services: Services): Promise<void> {
  const { params, query } = await readInput(ctx, LIST);
  const userId = (ctx.state.userId = params.user_id as string);
  respond(ctx, services, 200, await listTasks(services.tasks, { userId, payload: query as ListTasksPayload, cursorPointer: '/query/cursor' }));
}

async function create(ctx: RouteContext, services: Services): Promise<void> {
  const { params, body, sentBody, idempotencyKey } = await readInput(ctx, CREATE);
  const userId = (ctx.state.userId = params.user_id as string);
  const outcome = await createTaskFrom(ctx, services, {
    transport: 'v1',
    userId,
    payload: body as unknown as CreateTaskPayload,
    responseStatus: 201,
    idempotencyKey,
    sentBody,
    bodyKeys: CREATE_BODY_KEYS,
  });
  ctx.set('Location', taskLocation(userId, outcome.task.id));
  respond(ctx, services, outcome.status, outcome.task);
}

async function get(ctx: RouteContext, services: Services): Promise<void> {
  const { params } = await readInput(ctx, ONE_TASK);
  const userId = (ctx.state.userId = params.user_id as string);
  respond(ctx, services, 200, await getTask(services.tasks, { userId, taskId: params.task_id as string }));
}

async function update(ctx: RouteContext, services: Services): Promise<void> {
  const { params, body } = await readInput(ctx, UPDATE);
  const userId = (ctx.state.userId = params.user_id as string);
  respond(ctx, services, 200, await updateTask(services.tasks, { userId, taskId: params.task_id as string, changes: body as TaskChanges }));
}

async function remove(ctx: RouteContext, services: Services): Promise<void> {
  const { params } = await readInput(ctx, ONE_TASK);
  const userId = (ctx.state.userId = params.user_id as string);
  respond(ctx, services, 200, await deleteTask(services.tasks, { userId, taskId: params.task_id as string }));
}

async function stats(ctx: RouteContext, services: Services): Promise<void> {
  const { params } = await readInput(ctx, STATS);
  const userId = (ctx.state.userId = params.user_id as string);
  respond(ctx, services, 200, await getStats(services.tasks, { userId }));
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
      query: ListTasksPayloadSchema,
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
      body: { schema: CreateTaskPayloadSchema },
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
