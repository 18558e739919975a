/**
 * Every error the API answers with, in one place: its code, its HTTP status, and how an
 * unexpected exception (a database fault, a bug) becomes one of them.
 */

/**
 * The contract's error codes (docs/api.md, "Errors") and their usual statuses. A transport may
 * answer a code with another status where the contract says so (`/execute`'s payload errors
 * are 400s, `/admin`'s taken name a 400): `ApiError`'s `status` option.
 */
export const ERROR_STATUS = {
  // Node's own answers before a request reaches the app (client-errors.ts).
  bad_request: 400,
  request_timeout: 408,
  request_header_fields_too_large: 431,
  malformed_json: 400,
  unknown_action: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  idempotency_conflict: 409,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** One failing field of a 422: a JSON pointer into what was sent, and why. */
export interface ErrorDetail {
  path: string;
  message: string;
}

/**
 * An error the client is meant to see. Throw it anywhere below a transport; the error
 * middleware turns it into the envelope. `headers` carries e.g. `Allow` or `Retry-After`.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetail[]; headers?: Record<string, string>; cause?: unknown; status?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status ?? ERROR_STATUS[code];
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

/** Seconds a client should wait before retrying after a 503. */
export const RETRY_AFTER_S = 2;

/**
 * Error codes of `postgres` and Node that mean "the database is unreachable or too slow",
 * which the client should retry (503), as opposed to a bug (500).
 * - 57014 query_canceled: statement_timeout or our own deadline cancelled it.
 * - 57P01..57P03: admin shutdown, crash shutdown, cannot connect now (restart in progress).
 * - 08xxx: connection exceptions. 53300: too many connections.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57014', '57P01', '57P02', '57P03', '53300', '53400']);
const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'QUERY_DEADLINE',
  // db.ts: a result whose length disagrees with its row count (a fault, never data).
  'INCONSISTENT_RESULT',
]);

/** The SQLSTATE of an error the database raised (e.g. `42P01`); undefined for anything else. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True when `error` means the database is down, restarting or too slow: answer 503. */
export function isUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return UNAVAILABLE_NODE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08');
}

/**
 * The public face of any thrown value. Client errors pass through; database faults become
 * 503 `unavailable` with `Retry-After`; everything else is a 500 `internal` whose message
 * says nothing about the cause (the cause goes to the log only).
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isUnavailable(error)) {
    return new ApiError('unavailable', 'The database is unavailable; retry shortly', {
      headers: { 'Retry-After': String(RETRY_AFTER_S) },
      cause: error,
    });
  }
  return new ApiError('internal', 'Internal error', { cause: error });
}
