/**
 * The shapes of an answer. `/execute` and `/v1/*` answer in the envelope
 * `{ success, data, error, timestamp }`; their errors differ: `/v1`'s `error` is an object,
 * `/execute`'s is the message (the earlier service's shape) with `error_code` and `details`
 * beside it. `/admin/*` answers bare JSON, its errors `{ detail, error_code }`, as the earlier
 * service did. Which shape a path gets is decided here, once, for the error handler and the
 * OpenAPI document alike.
 */
import type { ErrorCode, ErrorDetail } from './errors.js';

/** A success answer of `/execute` and `/v1`, as `successText` writes it. */
export interface SuccessEnvelope<T> {
  success: true;
  data: T;
  error: null;
  timestamp: string;
}

/** What any error says, before it takes its path's shape. */
export interface ErrorContent {
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[] | undefined;
  /** 5xx only: the request id to quote. */
  request_id?: string | undefined;
}

/** The three error shapes. */
export type ErrorShape = 'envelope' | 'execute' | 'bare';

/** The shape of the errors of a path: `/execute`, `/admin/*`, or the envelope everywhere else. */
export function errorShapeOf(path: string): ErrorShape {
  if (path === '/execute') return 'execute';
  if (path === '/admin' || path.startsWith('/admin/')) return 'bare';
  return 'envelope';
}

/**
 * JSON text written elsewhere (a task as PostgreSQL wrote it, `tasks/sql.ts`), answered as it
 * is: a task is never parsed into an object only to be serialised again.
 */
export class JsonText {
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }
}

/** The media type of every JSON answer (what Koa sets for an object body). */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** What a success envelope's text has before its data. */
const SUCCESS_HEAD = '{"success":true,"data":';

/** What a success envelope's text has after its data. */
function successTail(now: number): string {
  return `,"error":null,"timestamp":"${new Date(now).toISOString()}"}`;
}

/**
 * The success envelope as text: the same bytes as `JSON.stringify` of the `SuccessEnvelope`
 * (api/test/envelope.test.ts), with `data` either JSON text (spliced in as it is) or a value
 * (serialised here). Every success answer of `/execute` and `/v1` is written by it.
 */
export function successText(data: JsonText | unknown, now: number): string {
  return SUCCESS_HEAD + (data instanceof JsonText ? data.text : JSON.stringify(data)) + successTail(now);
}

/** The success envelope's text before and after its data: for an answer written in pieces. */
export function successTextAround(now: number): [head: string, tail: string] {
  return [SUCCESS_HEAD, successTail(now)];
}

/** An error in the given shape. */
export function failure(shape: ErrorShape, error: ErrorContent, now: number): Record<string, unknown> {
  const { code, message, details, request_id: requestId } = error;
  const extra = { ...(details === undefined ? {} : { details }), ...(requestId === undefined ? {} : { request_id: requestId }) };
  switch (shape) {
    case 'envelope':
      return { success: false, data: null, error: { code, message, ...extra }, timestamp: new Date(now).toISOString() };
    case 'execute':
      return { success: false, data: null, error: message, error_code: code, ...extra, timestamp: new Date(now).toISOString() };
    case 'bare':
      return { detail: message, error_code: code, ...extra };
  }
}
