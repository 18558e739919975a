/**
 * The task and the six operations' inputs and outputs (../shared/spec/api.md, "The task" and
 * "POST /execute"). Payload schemas are what `/execute` carries in `payload`; the `/v1` routes
 * take the same fields from the path, the query string and the body.
 */
import {
  DateTimeSchema,
  nullable,
  OutputDateTimeSchema,
  safeText,
  strictObject,
  UserIdSchema,
  UuidSchema,
  type JsonSchema,
} from './common.js';

/** A task's status; never null. */
export const TASK_STATUSES = ['pending', 'in_progress', 'completed'] as const;
/** One of `TASK_STATUSES`. */
export type TaskStatus = (typeof TASK_STATUSES)[number];
/** A task's priority, when it has one. */
export const TASK_PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
/** One of `TASK_PRIORITIES`. */
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

/** Limits of the contract; the `tasks` table's CHECK constraints say the same. */
export const TITLE_MAX = 500;
/** Longest description, in code points. */
export const DESCRIPTION_MAX = 10_000;
/** `list-tasks`: page size bounds and default. */
export const LIST_LIMIT_MAX = 1_000;
/** Page size when `limit` is not given. */
export const LIST_LIMIT_DEFAULT = 100;

const StatusSchema: JsonSchema = { type: 'string', enum: [...TASK_STATUSES] };
const PrioritySchema: JsonSchema = { type: 'string', enum: [...TASK_PRIORITIES] };

const TitleSchema = safeText(1, TITLE_MAX, {
  description: 'Trimmed of surrounding whitespace first; 1..500 Unicode code points after trimming.',
  examples: ['Feed the cats'],
});
const DescriptionSchema = nullable(safeText(0, DESCRIPTION_MAX, { description: 'Up to 10 000 Unicode code points.' }));
const DueDateSchema = nullable({
  ...DateTimeSchema,
  description: 'RFC 3339 date-time with an offset (any offset; stored as an instant, shown in UTC).',
});

/** A task as the API returns it: exactly these ten fields, unset ones null. */
export const TaskSchema: JsonSchema = strictObject(
  {
    id: UuidSchema,
    user_id: UserIdSchema,
    title: { type: 'string', minLength: 1, maxLength: TITLE_MAX },
    description: { type: ['string', 'null'], maxLength: DESCRIPTION_MAX },
    status: StatusSchema,
    priority: nullable(PrioritySchema),
    due_date: nullable(OutputDateTimeSchema),
    created_at: OutputDateTimeSchema,
    updated_at: OutputDateTimeSchema,
    completed_at: { ...nullable(OutputDateTimeSchema), description: 'Set when the status becomes completed, null otherwise.' },
  },
  ['id', 'user_id', 'title', 'description', 'status', 'priority', 'due_date', 'created_at', 'updated_at', 'completed_at'],
  {
    examples: [
      {
        id: '0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d',
        user_id: 'user-42',
        title: 'Feed the cats',
        description: 'Wet food at 8, dry food at 18',
        status: 'pending',
        priority: 'high',
        due_date: '2026-01-02T08:00:00.000Z',
        created_at: '2026-01-01T10:00:00.000Z',
        updated_at: '2026-01-01T10:00:00.000Z',
        completed_at: null,
      },
    ],
  },
);

const TaskIdSchema: JsonSchema = { ...UuidSchema, description: 'The task id (a UUID; anything else is a 422).' };

/** The opaque keyset cursor of `list-tasks` (base64url; see `tasks/cursor.ts`). */
export const CursorSchema: JsonSchema = {
  type: 'string',
  pattern: '^[A-Za-z0-9_-]{1,512}$',
  description: 'The `next_cursor` of the previous page, used with the same filters.',
};
const LimitSchema: JsonSchema = {
  type: 'integer',
  minimum: 1,
  maximum: LIST_LIMIT_MAX,
  default: LIST_LIMIT_DEFAULT,
  description: 'Page size.',
};

/** The fields a task is created with. */
const createFields = {
  title: TitleSchema,
  description: DescriptionSchema,
  status: { ...StatusSchema, default: 'pending' },
  priority: nullable(PrioritySchema),
  due_date: DueDateSchema,
};
/** The fields an update may change; `null` clears the nullable ones. */
const updateFields = {
  title: TitleSchema,
  description: DescriptionSchema,
  status: StatusSchema,
  priority: nullable(PrioritySchema),
  due_date: DueDateSchema,
};
/** The fields an update can change, for messages. */
export const UPDATE_FIELDS = Object.keys(updateFields) as (keyof typeof updateFields)[];

/** `create-task` payload, and the `POST /v1/users/{user_id}/tasks` body. */
export const CreateTaskPayloadSchema = strictObject(createFields, ['title'], {
  examples: [{ title: 'Feed the cats', priority: 'high', due_date: '2026-01-02T08:00:00Z' }],
});
/** `list-tasks` payload, and the `GET /v1/users/{user_id}/tasks` query. */
export const ListTasksPayloadSchema = strictObject(
  { status: StatusSchema, priority: PrioritySchema, limit: LimitSchema, cursor: CursorSchema },
  [],
  { examples: [{ status: 'pending', limit: 20 }] },
);
/** `get-task` and `delete-task` payload. */
export const TaskIdPayloadSchema = strictObject({ task_id: TaskIdSchema }, ['task_id'], {
  examples: [{ task_id: '0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d' }],
});
/** `/execute` update: the task id plus at least one field (minProperties counts task_id). */
export const UpdateTaskPayloadSchema = strictObject({ task_id: TaskIdSchema, ...updateFields }, ['task_id'], {
  minProperties: 2,
  examples: [{ task_id: '0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d', status: 'completed' }],
});
/** `PATCH /v1/…/tasks/{task_id}`: the same fields, the id being in the path. */
export const UpdateTaskBodySchema = strictObject(updateFields, [], {
  minProperties: 1,
  examples: [{ status: 'completed' }],
});
/** `get-stats` payload: nothing. */
export const EmptyPayloadSchema = strictObject({}, [], { description: 'Takes nothing.' });

/** Path parameters of the `/v1` task routes. */
export const UserPathSchema = strictObject({ user_id: UserIdSchema }, ['user_id']);
/** Path parameters of the `/v1` routes of one task. */
export const TaskPathSchema = strictObject({ user_id: UserIdSchema, task_id: TaskIdSchema }, ['user_id', 'task_id']);

/** `list-tasks`' data. */
export const TaskPageSchema = strictObject(
  {
    tasks: { type: 'array', items: TaskSchema },
    count: { type: 'integer', minimum: 0, description: 'Tasks in this page.' },
    next_cursor: {
      type: ['string', 'null'],
      description: 'Pass as `cursor` for the next page; null when no task follows.',
    },
  },
  ['tasks', 'count', 'next_cursor'],
  {
    examples: [
      {
        tasks: TaskSchema.examples,
        count: 1,
        next_cursor: 'WzEsIjE3NjcyNjE2MDAxMjM0NTYiLCIwYjdlOGY1Yy0zZDZhLTRkMWUtOWI4YS0yZjRjNmU4YTBiMWQiLG51bGwsbnVsbF0',
      },
    ],
  },
);
/** `delete-task`'s data. */
export const DeletedTaskSchema = strictObject(
  { success: { const: true }, deleted_id: UuidSchema },
  ['success', 'deleted_id'],
  { examples: [{ success: true, deleted_id: '0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d' }] },
);
/** `get-stats`' data. */
export const TaskStatsSchema = strictObject(
  {
    total_tasks: { type: 'integer', minimum: 0 },
    pending_tasks: { type: 'integer', minimum: 0 },
    in_progress_tasks: { type: 'integer', minimum: 0 },
    completed_tasks: { type: 'integer', minimum: 0 },
    completion_rate: {
      type: 'number',
      minimum: 0,
      maximum: 100,
      description: 'completed / total × 100, rounded to 2 decimals; 0 with no tasks.',
    },
    overdue_tasks: { type: 'integer', minimum: 0, description: 'Tasks due before now and not completed.' },
  },
  ['total_tasks', 'pending_tasks', 'in_progress_tasks', 'completed_tasks', 'completion_rate', 'overdue_tasks'],
  {
    examples: [
      { total_tasks: 3, pending_tasks: 1, in_progress_tasks: 1, completed_tasks: 1, completion_rate: 33.33, overdue_tasks: 0 },
    ],
  },
);

/** A task as the handlers see it: the API's JSON shape, times already formatted. */
export interface Task {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  status: TaskStatus;
  priority: TaskPriority | null;
  due_date: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

/** Validated `create-task` payload. */
export interface CreateTaskPayload {
  title: string;
  description?: string | null;
  status?: TaskStatus;
  priority?: TaskPriority | null;
  due_date?: string | null;
}
/** Validated `list-tasks` payload. */
export interface ListTasksPayload {
  status?: TaskStatus;
  priority?: TaskPriority;
  limit?: number;
  cursor?: string;
}
/** Validated payload of the actions that name one task. */
export interface TaskIdPayload {
  task_id: string;
}
/** Validated `update-task` changes (without the id). */
export interface TaskChanges {
  title?: string;
  description?: string | null;
  status?: TaskStatus;
  priority?: TaskPriority | null;
  due_date?: string | null;
}
/** Validated `update-task` payload. */
export type UpdateTaskPayload = TaskIdPayload & TaskChanges;

/** `list-tasks`' data. */
export interface TaskPage {
  tasks: Task[];
  count: number;
  next_cursor: string | null;
}
/** `delete-task`'s data. */
export interface DeletedTask {
  success: true;
  deleted_id: string;
}
/** `get-stats`' data. */
export interface TaskStats {
  total_tasks: number;
  pending_tasks: number;
  in_progress_tasks: number;
  completed_tasks: number;
  completion_rate: number;
  overdue_tasks: number;
}
