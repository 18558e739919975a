/**
 * Request bodies, checked in the contract's order once the route, method and key have passed:
 * size (413) → media type of a non-empty body (415) → JSON object (400). Schema checks (422)
 * come after, in the transports.
 */
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { ApiError } from '../errors.js';

/** The contract: bodies over 64 KiB are refused (413). */
export const MAX_BODY_BYTES = 64 * 1024;

/** JSON is UTF-8 (RFC 8259); `fatal` makes invalid bytes a 400 instead of silent U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether the request says it carries a body (a length, even 0, or chunked encoding). */
function announcesBody(ctx: Context): boolean {
  const headers = ctx.req.headers;
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/** Reads the raw bytes, refusing more than `MAX_BODY_BYTES` (declared or actual). */
async function readBytes(ctx: Context): Promise<Buffer> {
  try {
    return await getRawBody(ctx.req, { length: ctx.req.headers['content-length'] ?? null, limit: MAX_BODY_BYTES });
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    if (status === 413) {
      throw new ApiError('payload_too_large', `The body is larger than ${MAX_BODY_BYTES} bytes`, { cause: error });
    }
    // A Content-Length that does not match the bytes sent, or a request the client aborted:
    // what arrived is not a JSON document.
    if (typeof status === 'number' && status >= 400 && status < 500) {
      throw new ApiError('malformed_json', 'The body could not be read completely', { cause: error });
    }
    throw error;
  }
}

/**
 * The Content-Type values clients send for JSON, which the full check below accepts: taken
 * without parsing (type-is and the charset parse cost measurably on every request).
 */
export const PLAIN_JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8', 'application/json; charset=UTF-8']);

/** The media type is application/json, in UTF-8, unencoded; otherwise a 415 saying what is. */
function checkMediaType(ctx: Context): void {
  const { headers } = ctx.req;
  if (headers['content-encoding'] === undefined && PLAIN_JSON_TYPES.has(headers['content-type'] ?? '')) return;
  if (ctx.request.is('application/json') !== 'application/json') {
    throw new ApiError('unsupported_media_type', 'The body must be JSON, sent with Content-Type: application/json');
  }
  const charset = ctx.request.charset;
  if (charset !== '' && charset.toLowerCase() !== 'utf-8') {
    throw new ApiError('unsupported_media_type', 'JSON bodies must be UTF-8 (charset=utf-8 or no charset)');
  }
  const encoding = ctx.get('Content-Encoding').toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    throw new ApiError('unsupported_media_type', 'Compressed bodies are not accepted (Content-Encoding must be identity)');
  }
}

/**
 * The body as a parsed JSON object, or undefined when the request has none (no body, or an
 * empty one: the media type of an empty body is not checked). Throws the contract's 413, 415
 * or 400.
 */
export async function readJsonBody(ctx: Context): Promise<Record<string, unknown> | undefined> {
  if (!announcesBody(ctx)) return undefined;
  const bytes = await readBytes(ctx);
  if (bytes.length === 0) return undefined;
  checkMediaType(ctx);
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch (error) {
    throw new ApiError('malformed_json', 'The body is not valid JSON (UTF-8)', { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError('malformed_json', 'The body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
