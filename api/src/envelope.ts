/**
 * The shapes of an answer. `/execute` and `/v1/*` answer in the envelope
 * `{ success, data, error, timestamp }`; their errors differ: `/v1`'s `error` is an object,
 * `/execute`'s is the message (the earlier service's shape) with `error_code` and `details`
 * beside it. `/admin/*` answers bare JSON, its errors `{ detail, error_code }`, as the earlier
 * service did. Which shape a path gets is decided here, once, for the error handler and the
 * OpenAPI document alike.
 */
import type { ErrorCode, ErrorDetail } from './errors.js';

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

export function success<T>(data: T, now: number): SuccessEnvelope<T> {
  return { success: true, data, error: null, timestamp: new Date(now).toISOString() };
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

/**
 * The success envelope as text: the same bytes as `JSON.stringify(success(data, now))`, with
 * `data` either JSON text (spliced in as it is) or a value (serialised here).
 */
export function successText(data: JsonText | unknown, now: number): string {
  const [head, tail] = successTextAround(now);
  return head + (data instanceof JsonText ? data.text : JSON.stringify(data)) + tail;
}

/** The success envelope's text before and after its data: for an answer written in pieces. */
export function successTextAround(now: number): [head: string, tail: string] {
  return ['{"success":true,"data":', `,"error":null,"timestamp":"${new Date(now).toISOString()}"}`];
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
