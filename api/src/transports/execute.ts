/**
 * `POST /execute`: the command endpoint the Cat House client speaks. One body names the
 * action, the user and the payload; the dispatcher validates it against that action's schema
 * and calls the same handler the `/v1` route calls.
 */
import { ApiError } from '../errors.js';
import { readJsonBody } from '../http/body.js';
import type { RouteContext, RouteDefinition, Services } from '../routes.js';
import { strictObject, UserIdSchema, type JsonSchema } from '../schemas/common.js';
import {
  CreateTaskPayloadSchema,
  DeletedTaskSchema,
  EmptyPayloadSchema,
  ListTasksPayloadSchema,
  TaskIdPayloadSchema,
  TaskPageSchema,
  TaskSchema,
  TaskStatsSchema,
  UpdateTaskPayloadSchema,
  type CreateTaskPayload,
  type ListTasksPayload,
  type TaskIdPayload,
  type UpdateTaskPayload,
} from '../schemas/tasks.js';
import { check, compileBody, validationFailed } from '../schemas/validate.js';
import { deleteTask, getStats, getTask, listTasks, updateTask } from '../tasks/handlers.js';
import { createTaskFrom, IdempotencyKeySchema, readIdempotencyKey, REPLAYED_HEADER, respond, trimTitle } from './input.js';

/** The actions, in the contract's order. */
export const ACTIONS = ['create-task', 'list-tasks', 'get-task', 'update-task', 'delete-task', 'get-stats'] as const;
/** One of `ACTIONS`. */
export type Action = (typeof ACTIONS)[number];

interface ActionSpec {
  summary: string;
  payload: JsonSchema;
  /** Whether `payload` must be sent (it may be omitted where every field is optional). */
  payloadRequired: boolean;
  data: JsonSchema;
}

const ACTION_SPECS: Record<Action, ActionSpec> = {
  'create-task': { summary: 'Create a task', payload: CreateTaskPayloadSchema, payloadRequired: true, data: TaskSchema },
  'list-tasks': { summary: "A page of the user's tasks", payload: ListTasksPayloadSchema, payloadRequired: false, data: TaskPageSchema },
  'get-task': { summary: 'One task', payload: TaskIdPayloadSchema, payloadRequired: true, data: TaskSchema },
  'update-task': { summary: 'Change a task', payload: UpdateTaskPayloadSchema, payloadRequired: true, data: TaskSchema },
  'delete-task': { summary: 'Delete a task', payload: TaskIdPayloadSchema, payloadRequired: true, data: DeletedTaskSchema },
  'get-stats': { summary: "The user's task counts", payload: EmptyPayloadSchema, payloadRequired: false, data: TaskStatsSchema },
};

/** The full body of one action: `{ action, user_id, payload }`, nothing else. */
function actionBodySchema(action: Action): JsonSchema {
  const spec = ACTION_SPECS[action];
  return strictObject(
    { action: { const: action }, user_id: UserIdSchema, payload: spec.payload },
    spec.payloadRequired ? ['action', 'user_id', 'payload'] : ['action', 'user_id'],
    { title: action, description: spec.summary },
  );
}

/** One per action (compiled once, right after the server starts listening). */
const VALIDATORS = Object.fromEntries(ACTIONS.map((action) => [action, compileBody(actionBodySchema(action))])) as Record<
  Action,
  ReturnType<typeof compileBody>
>;
/** For a body whose `action` is missing or not a string: says what is wrong with all of it. */
const validateAnyAction = compileBody(
  strictObject({ action: { type: 'string', enum: [...ACTIONS] }, user_id: UserIdSchema, payload: { type: 'object' } }, ['action', 'user_id']),
);

/** Every property name a create body may hold, at any depth: the canonical form's key list. */
const CREATE_BODY_KEYS = ['action', 'user_id', 'payload', ...Object.keys(CreateTaskPayloadSchema.properties as object)];

function isAction(value: unknown): value is Action {
  return typeof value === 'string' && (ACTIONS as readonly string[]).includes(value);
}

function unknownAction(action: string): ApiError {
  return new ApiError('unknown_action', `Unknown action ${JSON.stringify(action.slice(0, 64))}; valid actions: ${ACTIONS.join(', ')}`);
}

/** Validates the body for its action, then calls the action's handler. */
async function execute(ctx: RouteContext, services: Services): Promise<void> {
  const body = await readJsonBody(ctx);
  if (body === undefined) {
    throw new ApiError('malformed_json', 'The body must be a JSON object: { "action", "user_id", "payload" }');
  }
  const { action } = body;
  if (typeof action === 'string' && !isAction(action)) throw unknownAction(action);
  if (!isAction(action)) throw validationFailed(check(validateAnyAction, body));

  const payloadSent = body.payload;
  const normalized =
    (action === 'create-task' || action === 'update-task') && typeof payloadSent === 'object' && payloadSent !== null
      ? { ...body, payload: trimTitle(payloadSent as Record<string, unknown>) }
      : body;
  const details = check(VALIDATORS[action], normalized);
  const idempotencyKey = action === 'create-task' ? readIdempotencyKey(ctx, details) : undefined;
  if (details.length > 0) throw validationFailed(details);

  const userId = normalized.user_id as string;
  ctx.state.userId = userId;
  const payload = (normalized.payload ?? {}) as Record<string, unknown>;
  const deps = services.tasks;
  switch (action) {
    case 'create-task': {
      const outcome = await createTaskFrom(ctx, services, {
        transport: 'execute',
        userId,
        payload: payload as unknown as CreateTaskPayload,
        responseStatus: 200,
        idempotencyKey,
        sentBody: body,
        bodyKeys: CREATE_BODY_KEYS,
      });
      return respond(ctx, services, outcome.status, outcome.task);
    }
    case 'list-tasks':
      return respond(ctx, services, 200, await listTasks(deps, { userId, payload: payload as ListTasksPayload, cursorPointer: '/payload/cursor' }));
    case 'get-task':
      return respond(ctx, services, 200, await getTask(deps, { userId, taskId: (payload as unknown as TaskIdPayload).task_id }));
    case 'update-task': {
      const { task_id: taskId, ...changes } = payload as unknown as UpdateTaskPayload;
      return respond(ctx, services, 200, await updateTask(deps, { userId, taskId, changes }));
    }
    case 'delete-task':
      return respond(ctx, services, 200, await deleteTask(deps, { userId, taskId: (payload as unknown as TaskIdPayload).task_id }));
    case 'get-stats':
      return respond(ctx, services, 200, await getStats(deps, { userId }));
  }
}

const EXAMPLE_TASK_ID = '0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d';
const BODY_EXAMPLES: Record<Action, unknown> = {
  'create-task': { action: 'create-task', user_id: 'user-42', payload: { title: 'Feed the cats', priority: 'high', due_date: '2026-01-02T08:00:00Z' } },
  'list-tasks': { action: 'list-tasks', user_id: 'user-42', payload: { status: 'pending', limit: 20 } },
  'get-task': { action: 'get-task', user_id: 'user-42', payload: { task_id: EXAMPLE_TASK_ID } },
  'update-task': { action: 'update-task', user_id: 'user-42', payload: { task_id: EXAMPLE_TASK_ID, status: 'completed' } },
  'delete-task': { action: 'delete-task', user_id: 'user-42', payload: { task_id: EXAMPLE_TASK_ID } },
  'get-stats': { action: 'get-stats', user_id: 'user-42' },
};

/** `POST /execute`. */
export const executeRoute: RouteDefinition = {
  method: 'POST',
  path: '/execute',
  auth: 'service',
  handle: execute,
  doc: {
    operationId: 'execute',
    summary: 'Run one task action (the Cat House command endpoint)',
    description: [
      'The body names the action, the user and the payload. `payload` may be omitted for `list-tasks` and `get-stats`.',
      'An action not in the list is a 400 `unknown_action`; unknown fields anywhere are a 422.',
      '`create-task` honours `Idempotency-Key`. Success is always 200.',
    ].join(' '),
    tags: ['execute'],
    headers: [{ name: 'Idempotency-Key', description: `For \`create-task\`. ${IdempotencyKeySchema.description}`, schema: IdempotencyKeySchema }],
    body: {
      schema: { oneOf: ACTIONS.map(actionBodySchema) },
      examples: Object.fromEntries(ACTIONS.map((action) => [action, { summary: ACTION_SPECS[action].summary, value: BODY_EXAMPLES[action] }])),
    },
    responses: {
      200: {
        description:
          'The action\'s data: a task (create, get, update), `{ tasks, count, next_cursor }` (list), `{ success, deleted_id }` ' +
          '(delete) or the counts (stats).',
        data: { oneOf: [TaskSchema, TaskPageSchema, DeletedTaskSchema, TaskStatsSchema] },
        example: (TaskSchema.examples as unknown[])[0],
        headers: { [REPLAYED_HEADER]: { description: '`true` on an idempotent replay of `create-task`.', schema: { type: 'string', const: 'true' } } },
      },
    },
    errors: ['unknown_action', 'not_found', 'idempotency_conflict'],
    readsBody: true,
    usesDatabase: true,
  },
};
