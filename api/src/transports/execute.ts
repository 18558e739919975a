/**
 * `POST /execute`: the command endpoint the Cat House client speaks, as the earlier Python
 * service answered it, and a thin adapter over the operation table (`tasks/operations.ts`).
 *
 * Its own checks, in the contract's order: the body's own fields (`action`, `user_id`,
 * `payload` itself) are a 422; an action not in the table a 400 `unknown_action`; a payload
 * that does not fit the action a 400 `validation_failed`. It is lenient where the earlier
 * service was: unknown fields (top level or payload) are ignored and can never set what the
 * server owns, `null` for an optional field that cannot be null counts as absent, and dates
 * may come without an offset, alone, or as Unix seconds. Errors come in its own shape
 * (`error` is the message; see `envelope.ts`).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ApiError, type ErrorDetail } from '../errors.js';
import { readJsonBody } from '../http/body.js';
import type { RouteContext, RouteDefinition, Services } from '../routes.js';
import { UserIdSchema, type JsonSchema } from '../schemas/common.js';
import { lenientDateTime } from '../schemas/date-time.js';
import { DeletedTaskSchema, TaskPageSchema, TaskSchema, TaskStatsSchema } from '../schemas/tasks.js';
import { compileInput, validated, validationFailed } from '../schemas/validate.js';
import { OPERATION_NAMES, TASK_OPERATIONS, type Operation, type OperationName } from '../tasks/operations.js';
import { calling, createTaskFrom, IdempotencyKeySchema, readIdempotencyKey, REPLAYED_HEADER, respond, trimTitle, type OperationErrorStyle } from './input.js';

/** The earlier service's status for a payload that does not fit its action. */
const PAYLOAD_ERROR_STATUS = 400;

/** The body's own fields; anything else at the top level is ignored. */
const BodySchema = Type.Object(
  {
    action: Type.Unsafe<string>({ type: 'string', description: `One of: ${OPERATION_NAMES.join(', ')}.` }),
    user_id: UserIdSchema,
    payload: Type.Optional(Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'] })),
  },
  { description: 'Unknown fields are ignored.' },
);
const validateBody = compileInput(BodySchema);

/** A payload field's pointer, and the payload's status, for an operation's refusals. */
const PAYLOAD_ERRORS: OperationErrorStyle = { pointer: (field) => `/payload/${field}`, invalidStatus: PAYLOAD_ERROR_STATUS };

function isOperationName(value: string): value is OperationName {
  return (OPERATION_NAMES as readonly string[]).includes(value);
}

function unknownAction(action: string): ApiError {
  return new ApiError('unknown_action', `Unknown action ${JSON.stringify(action.slice(0, 64))}; valid actions: ${OPERATION_NAMES.join(', ')}`);
}

/** Whether a property schema allows null. */
function allowsNull(schema: JsonSchema): boolean {
  return Array.isArray(schema.type) && schema.type.includes('null');
}

/** Fields whose values may be dates in the earlier service's lenient forms. */
function isDateTimeField(schema: JsonSchema): boolean {
  return schema.format === 'date-time';
}

/**
 * The payload as the operation's strict schema expects it, from what an earlier-service client
 * sends: only the operation's own fields (the rest ignored), `null` dropped where the field
 * cannot be null, dates in their lenient forms written as RFC 3339, the title trimmed. Derived
 * from the operation's input schema, so a new field is handled without a change here.
 */
function lenientPayload(schema: TSchema, payload: Record<string, unknown>): Record<string, unknown> {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const fields: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    if (!Object.hasOwn(payload, name)) continue;
    const value = payload[name];
    if (value === null && !allowsNull(property)) continue;
    fields[name] = isDateTimeField(property) ? lenientDateTime(value) : value;
  }
  return trimTitle(fields);
}

/** An operation's payload validated into its input (400 naming each failing field), then run. */
interface Action {
  run(ctx: RouteContext, services: Services, userId: string, payload: Record<string, unknown>): Promise<unknown>;
}

function action<S extends TSchema, Data>(operation: Operation<S, Data>): Action {
  const validate = compileInput(operation.input);
  return {
    async run(_ctx, services, userId, payload) {
      const details: ErrorDetail[] = [];
      const input: Static<S> | undefined = validated(validate, lenientPayload(operation.input, payload), details, '/payload');
      if (input === undefined) throw validationFailed(details, PAYLOAD_ERROR_STATUS);
      return await calling(PAYLOAD_ERRORS, () => operation.run(services.tasks, userId, input));
    },
  };
}

/** `create-task` runs through idempotency (an `Idempotency-Key` makes it safe to retry). */
const createAction: Action = (() => {
  const { input: schema } = TASK_OPERATIONS['create-task'];
  const validate = compileInput(schema);
  /** The fields that make two bodies the same request: the body's own and the payload's. */
  const bodyKeys = ['action', 'user_id', 'payload', ...Object.keys(schema.properties)];
  return {
    async run(ctx, services, userId, payload) {
      const details: ErrorDetail[] = [];
      const lenient = lenientPayload(schema, payload);
      const input = validated(validate, lenient, details, '/payload');
      if (input === undefined) throw validationFailed(details, PAYLOAD_ERROR_STATUS);
      const outcome = await createTaskFrom(ctx, services, {
        transport: 'execute',
        userId,
        input,
        responseStatus: 200,
        idempotencyKey: readIdempotencyKeyChecked(ctx),
        // As sent; `bodyKeys` leaves out the ignored fields, so they never make another request.
        sentBody: { action: 'create-task', user_id: userId, payload },
        bodyKeys,
      });
      return outcome.data;
    },
  };
})();

/** The `Idempotency-Key`, or a 422 for a bad one (a header, not the payload). */
function readIdempotencyKeyChecked(ctx: RouteContext): string | undefined {
  const details: ErrorDetail[] = [];
  const key = readIdempotencyKey(ctx, details);
  if (details.length > 0) throw validationFailed(details);
  return key;
}

/** Every action: the table's operations, create wrapped by idempotency. */
const ACTIONS: Record<OperationName, Action> = {
  'create-task': createAction,
  'list-tasks': action(TASK_OPERATIONS['list-tasks']),
  'get-task': action(TASK_OPERATIONS['get-task']),
  'update-task': action(TASK_OPERATIONS['update-task']),
  'delete-task': action(TASK_OPERATIONS['delete-task']),
  'get-stats': action(TASK_OPERATIONS['get-stats']),
};

/** Reads the body, checks it in the contract's order, runs the action. */
async function execute(ctx: RouteContext, services: Services): Promise<void> {
  const sent = await readJsonBody(ctx);
  if (sent === undefined) {
    throw new ApiError('malformed_json', 'The body must be a JSON object: { "action", "user_id", "payload" }');
  }
  const details: ErrorDetail[] = [];
  const body = validated(validateBody, sent, details);
  if (body === undefined) throw validationFailed(details);
  if (!isOperationName(body.action)) throw unknownAction(body.action);
  const userId = (ctx.state.userId = body.user_id);
  const data = await ACTIONS[body.action].run(ctx, services, userId, body.payload ?? {});
  await respond(ctx, services, 200, data);
}

/** The documented body of one action: `{ action, user_id, payload }`. */
function actionBodySchema(name: OperationName): JsonSchema {
  const operation = TASK_OPERATIONS[name];
  const payloadRequired = ((operation.input.required ?? []) as string[]).length > 0;
  return {
    type: 'object',
    title: name,
    description: operation.summary,
    properties: { action: { const: name }, user_id: UserIdSchema, payload: operation.input },
    required: payloadRequired ? ['action', 'user_id', 'payload'] : ['action', 'user_id'],
  };
}

const EXAMPLE_TASK_ID = '0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d';
const BODY_EXAMPLES: Record<OperationName, unknown> = {
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
      'The body names the action, the user and the payload. `payload` may be omitted (or null) for `list-tasks` and `get-stats`.',
      'The body\'s own fields wrong: 422. An action not in the list: 400 `unknown_action`. A payload that does not fit the action: 400 `validation_failed`.',
      'Unknown fields are ignored; `null` for an optional field that cannot be null counts as absent; `due_date` may also be a date-time',
      'without an offset (UTC), a date alone (midnight UTC) or a number (Unix seconds).',
      '`list-tasks` without `limit` returns every matching task (streamed) and `next_cursor` null.',
      '`create-task` honours `Idempotency-Key`. Success is always 200. Errors: `error` is the message, with `error_code` and `details` beside it.',
    ].join(' '),
    tags: ['execute'],
    headers: [{ name: 'Idempotency-Key', description: `For \`create-task\`. ${IdempotencyKeySchema.description}`, schema: IdempotencyKeySchema }],
    body: {
      schema: { oneOf: OPERATION_NAMES.map(actionBodySchema) },
      examples: Object.fromEntries(
        OPERATION_NAMES.map((name) => [name, { summary: TASK_OPERATIONS[name].summary, value: BODY_EXAMPLES[name] }]),
      ),
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
    errors: ['unknown_action', { code: 'validation_failed', status: PAYLOAD_ERROR_STATUS }, 'not_found', 'idempotency_conflict'],
    readsBody: true,
    usesDatabase: true,
  },
};
