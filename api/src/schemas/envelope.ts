/**
 * The answers' shapes (`envelope.ts`) as JSON Schema, for the OpenAPI document and for tests
 * that check real responses against them.
 */
import { ERROR_STATUS } from '../errors.js';
import { OutputDateTimeSchema, strictObject, type JsonSchema } from './common.js';

/** A success envelope around `data`. */
export function successEnvelope(data: JsonSchema): JsonSchema {
  return strictObject(
    { success: { const: true }, data, error: { type: 'null' }, timestamp: OutputDateTimeSchema },
    ['success', 'data', 'error', 'timestamp'],
  );
}

/** One failing field of a 422. */
export const ErrorDetailSchema = strictObject(
  {
    path: { type: 'string', description: 'JSON pointer into what was sent: /payload/title, /title, /query/limit, /path/task_id.' },
    message: { type: 'string' },
  },
  ['path', 'message'],
);

const CODES = { type: 'string', enum: Object.keys(ERROR_STATUS) };
const DETAILS = { type: 'array', items: ErrorDetailSchema, description: 'Each failing field (validation_failed only).' };
const REQUEST_ID = { type: 'string', description: 'The X-Request-Id (5xx only): quote it when reporting a problem.' };

/** An error of `/execute`: the earlier service's `error` message, the code and details beside it. */
export const ExecuteErrorSchema = strictObject(
  {
    success: { const: false },
    data: { type: 'null' },
    error: { type: 'string', description: 'What went wrong, as a message.' },
    error_code: CODES,
    details: DETAILS,
    request_id: REQUEST_ID,
    timestamp: OutputDateTimeSchema,
  },
  ['success', 'data', 'error', 'error_code', 'timestamp'],
);

/** An error of `/admin/*`: bare, as the earlier service answered. */
export const AdminErrorSchema = strictObject(
  { detail: { type: 'string', description: 'What went wrong, as a message.' }, error_code: CODES, details: DETAILS, request_id: REQUEST_ID },
  ['detail', 'error_code'],
);

/** Every error response of /v1 (and of paths no route has). */
export const ErrorEnvelopeSchema = strictObject(
  {
    success: { const: false },
    data: { type: 'null' },
    error: strictObject(
      {
        code: { type: 'string', enum: Object.keys(ERROR_STATUS) },
        message: { type: 'string' },
        details: { type: 'array', items: ErrorDetailSchema, description: 'Each failing field (422 only).' },
        request_id: { type: 'string', description: 'The X-Request-Id (5xx only): quote it when reporting a problem.' },
      },
      ['code', 'message'],
    ),
    timestamp: OutputDateTimeSchema,
  },
  ['success', 'data', 'error', 'timestamp'],
);
