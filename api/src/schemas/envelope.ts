/**
 * The envelope as JSON Schema, for the OpenAPI document and for tests that check real
 * responses against it: `{ success, data, error, timestamp }`.
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

/** Every error response of /execute, /v1 and /admin. */
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
