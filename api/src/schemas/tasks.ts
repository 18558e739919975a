/**
 * The task and the six operations' inputs and outputs (docs/api.md, "The task" and the
 * operations). Input schemas are what an operation takes (`tasks/operations.ts`): `/execute`
 * carries them in `payload`, the `/v1` routes take the same fields from the path, the query
 * string and the body. Every type here is derived from its schema (TypeBox's `Static`).
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  DateTimeSchema,
  nullable,
  OutputDateTimeSchema,
  safeText,
  stringEnum,
  UserIdSchema,
  UuidSchema,
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

const StatusSchema = stringEnum(TASK_STATUSES);
const PrioritySchema = stringEnum(TASK_PRIORITIES);

const TitleSchema = safeText(1, TITLE_MAX, {
  description: 'Trimmed of surrounding whitespace first; 1..500 Unicode code points after trimming.',
  examples: ['Feed the cats'],
});
const DescriptionSchema = nullable(safeText(0, DESCRIPTION_MAX, { description: 'Up to 10 000 Unicode code points.' }));
const DueDateSchema = nullable({
  ...DateTimeSchema,
  description: 'RFC 3339 date-time with an offset (any offset; stored as an instant, shown in UTC).',
});

/**
 * A task as the API returns it: exactly these ten fields, unset ones null. The one place the
 * fields are written: the `Task` type and the SQL column list (`tasks/sql.ts`) come from it.
 */
export const TaskSchema = Type.Object(
  {
    id: UuidSchema,
    user_id: UserIdSchema,
    title: Type.Unsafe<string>({ type: 'string', minLength: 1, maxLength: TITLE_MAX }),
    description: Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: DESCRIPTION_MAX }),
    status: StatusSchema,
    priority: nullable(PrioritySchema),
    due_date: nullable(OutputDateTimeSchema),
    created_at: OutputDateTimeSchema,
    updated_at: OutputDateTimeSchema,
    completed_at: Type.Unsafe<string | null>({
      ...nullable(OutputDateTimeSchema),
      description: 'Set when the status becomes completed, null otherwise.',
    }),
  },
  {
    additionalProperties: false,
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
/** A task as the operations return it: the API's JSON shape, times already formatted. */
export type Task = Static<typeof TaskSchema>;
/** The ten fields, in the contract's order. */
export const TASK_FIELDS = Object.keys(TaskSchema.properties) as (keyof Task)[];

const TaskIdSchema = Type.Unsafe<string>({ ...UuidSchema, description: 'The task id (a UUID).' });

/** The opaque keyset cursor of `list-tasks` (base64url; see `tasks/cursor.ts`). */
export const CursorSchema = Type.Unsafe<string>({
  type: 'string',
  pattern: '^[A-Za-z0-9_-]{1,512}$',
  description: 'The `next_cursor` of the previous page, used with the same filters.',
});
const LimitSchema = Type.Unsafe<number>({
  type: 'integer',
  minimum: 1,
  maximum: LIST_LIMIT_MAX,
  description: `Page size. On /v1 the default is ${LIST_LIMIT_DEFAULT}; on /execute, without it, every matching task is returned.`,
});

/** The fields an update may change; `null` clears the nullable ones. */
const updateFields = {
  title: Type.Optional(TitleSchema),
  description: Type.Optional(DescriptionSchema),
  status: Type.Optional(StatusSchema),
  priority: Type.Optional(nullable(PrioritySchema)),
  due_date: Type.Optional(DueDateSchema),
};
/** The fields an update can change, for messages. */
export const UPDATE_FIELDS = Object.keys(updateFields) as (keyof typeof updateFields)[];

/** `create-task`'s input, and the `POST /v1/users/{user_id}/tasks` body. */
export const CreateTaskInputSchema = Type.Object(
  {
    title: TitleSchema,
    description: Type.Optional(DescriptionSchema),
    status: Type.Optional(Type.Unsafe<TaskStatus>({ ...StatusSchema, default: 'pending' })),
    priority: Type.Optional(nullable(PrioritySchema)),
    due_date: Type.Optional(DueDateSchema),
  },
  { additionalProperties: false, examples: [{ title: 'Feed the cats', priority: 'high', due_date: '2026-01-02T08:00:00Z' }] },
);
export type CreateTaskInput = Static<typeof CreateTaskInputSchema>;

/** `list-tasks`' input, and the `GET /v1/users/{user_id}/tasks` query. */
export const ListTasksInputSchema = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    priority: Type.Optional(PrioritySchema),
    limit: Type.Optional(LimitSchema),
    cursor: Type.Optional(CursorSchema),
  },
  { additionalProperties: false, examples: [{ status: 'pending', limit: 20 }] },
);
export type ListTasksInput = Static<typeof ListTasksInputSchema>;

/** `get-task`'s and `delete-task`'s input. */
export const TaskIdInputSchema = Type.Object(
  { task_id: TaskIdSchema },
  { additionalProperties: false, examples: [{ task_id: '0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d' }] },
);
export type TaskIdInput = Static<typeof TaskIdInputSchema>;

/** `update-task`'s input: the task id plus at least one field (minProperties counts task_id). */
export const UpdateTaskInputSchema = Type.Object(
  { task_id: TaskIdSchema, ...updateFields },
  { additionalProperties: false, minProperties: 2, examples: [{ task_id: '0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d', status: 'completed' }] },
);
export type UpdateTaskInput = Static<typeof UpdateTaskInputSchema>;

/** `PATCH /v1/…/tasks/{task_id}`: the same fields, the id being in the path. */
export const UpdateTaskBodySchema = Type.Object(updateFields, {
  additionalProperties: false,
  minProperties: 1,
  examples: [{ status: 'completed' }],
});

/** `get-stats`' input: nothing. */
export const NoInputSchema = Type.Object({}, { additionalProperties: false, description: 'Takes nothing.' });
export type NoInput = Static<typeof NoInputSchema>;

/** Path parameters of the `/v1` task routes. */
export const UserPathSchema = Type.Object({ user_id: UserIdSchema }, { additionalProperties: false });
/** Path parameters of the `/v1` routes of one task. */
export const TaskPathSchema = Type.Object({ user_id: UserIdSchema, task_id: TaskIdSchema }, { additionalProperties: false });

/** `list-tasks`' data. */
export const TaskPageSchema = Type.Object(
  {
    tasks: Type.Array(TaskSchema),
    count: Type.Integer({ minimum: 0, description: 'Tasks in this page.' }),
    next_cursor: Type.Unsafe<string | null>({
      type: ['string', 'null'],
      description: 'Pass as `cursor` for the next page; null when no task follows.',
    }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        tasks: TaskSchema.examples,
        count: 1,
        next_cursor: 'WzEsIjE3NjcyNjE2MDAxMjM0NTYiLCIwYjdlOGY1Yy0zZDZhLTRkMWUtOWI4YS0yZjRjNmU4YTBiMWQiLG51bGwsbnVsbF0',
      },
    ],
  },
);
/** `list-tasks`' data. */
export type TaskPage = Static<typeof TaskPageSchema>;

/** `delete-task`'s data. */
export const DeletedTaskSchema = Type.Object(
  { success: Type.Literal(true), deleted_id: UuidSchema },
  { additionalProperties: false, examples: [{ success: true, deleted_id: '0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d' }] },
);
/** `delete-task`'s data. */
export type DeletedTask = Static<typeof DeletedTaskSchema>;

/** `get-stats`' data. */
export const TaskStatsSchema = Type.Object(
  {
    total_tasks: Type.Integer({ minimum: 0 }),
    pending_tasks: Type.Integer({ minimum: 0 }),
    in_progress_tasks: Type.Integer({ minimum: 0 }),
    completed_tasks: Type.Integer({ minimum: 0 }),
    completion_rate: Type.Number({
      minimum: 0,
      maximum: 100,
      description: 'completed / total × 100, rounded to 2 decimals; 0 with no tasks.',
    }),
    overdue_tasks: Type.Integer({ minimum: 0, description: 'Tasks due before now and not completed.' }),
  },
  {
    additionalProperties: false,
    examples: [
      { total_tasks: 3, pending_tasks: 1, in_progress_tasks: 1, completed_tasks: 1, completion_rate: 33.33, overdue_tasks: 0 },
    ],
  },
);
/** `get-stats`' data. */
export type TaskStats = Static<typeof TaskStatsSchema>;
