/**
 * The keyset cursor of `list-tasks`: where the last page ended (its last task's `created_at`
 * at full stored precision, in microseconds, and its id) and the filters it was issued for.
 * Opaque to clients: base64url of a small JSON array.
 */
import { TASK_PRIORITIES, TASK_STATUSES, type TaskPriority, type TaskStatus } from '../schemas/tasks.js';
import { OperationError } from './errors.js';

const CURSOR_VERSION = 1;
/**
 * Microseconds since the epoch, as PostgreSQL stores `timestamptz`. Up to 16 digits (year
 * 2286) keeps the arithmetic that turns it back into a timestamp far from overflowing.
 */
const MICROS = /^-?\d{1,16}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The last task of a page: the next page starts strictly after it. */
export interface CursorPosition {
  /** `created_at` in microseconds since the epoch, as a decimal string (exceeds 2^53). */
  createdMicros: string;
  id: string;
}

/** The filters a page was listed with; a cursor only continues the same listing. */
export interface ListFilters {
  status?: TaskStatus | undefined;
  priority?: TaskPriority | undefined;
}

/** The opaque cursor for the page after `position`, in the listing `filters` define. */
export function encodeCursor(position: CursorPosition, filters: ListFilters): string {
  const value = [CURSOR_VERSION, position.createdMicros, position.id, filters.status ?? null, filters.priority ?? null];
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function invalid(message: string): OperationError {
  return new OperationError('invalid_input', message, 'cursor');
}

/**
 * The position a cursor names, if it is one this API issued for these filters; otherwise an
 * `invalid_input` error naming the `cursor` field (each transport points at it its own way).
 */
export function decodeCursor(cursor: string, filters: ListFilters): CursorPosition {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid('is not a cursor this API issued');
  }
  if (
    !Array.isArray(value) ||
    value.length !== 5 ||
    value[0] !== CURSOR_VERSION ||
    typeof value[1] !== 'string' ||
    !MICROS.test(value[1]) ||
    typeof value[2] !== 'string' ||
    !UUID.test(value[2]) ||
    !(value[3] === null || (TASK_STATUSES as readonly unknown[]).includes(value[3])) ||
    !(value[4] === null || (TASK_PRIORITIES as readonly unknown[]).includes(value[4]))
  ) {
    throw invalid('is not a cursor this API issued');
  }
  if (value[3] !== (filters.status ?? null) || value[4] !== (filters.priority ?? null)) {
    throw invalid('was issued for other filters: list with the same status and priority as the page it came from');
  }
  return { createdMicros: value[1], id: value[2] };
}
