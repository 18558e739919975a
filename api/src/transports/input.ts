/**
 * What the transports share between reading a request and calling an operation: the body
 * (413, 415, 400 in `http/body.ts`), the schema checks (each failing field in `details`), the
 * `Idempotency-Key`, an operation's refusals in the transport's terms, and the answer (an
 * envelope, or a listing written as it is read).
 */
import { Type } from '@sinclair/typebox';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { ApiError, type ErrorDetail } from '../errors.js';
import { JSON_CONTENT_TYPE, successText } from '../envelope.js';
import { readJsonBody } from '../http/body.js';
import { requestHash } from '../idempotency/request-hash.js';
import type { Outcome } from '../idempotency/once.js';
import type { Transport } from '../idempotency/sql.js';
import type { RouteContext, Services } from '../routes.js';
import type { CreateTaskInput } from '../schemas/tasks.js';
import { compileBody, compileInput, validated, validationFailed } from '../schemas/validate.js';
import { OperationError } from '../tasks/errors.js';
import { createTask, TaskJson } from '../tasks/operations.js';
import { writeListing } from './listing.js';

/** `Idempotency-Key`: 1..255 characters (the contract). */
export const IdempotencyKeySchema = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  description:
    'Makes the create idempotent for 24 hours: the same key, from the same service key, on the same transport, for the same ' +
    'user_id and body, returns the first response again (with `Idempotent-Replayed: true`) and creates nothing; with another ' +
    'user_id or body it is a 409. Only a successful create is remembered.',
};
const validateIdempotencyKey = compileBody<string>(IdempotencyKeySchema);

/** The response header that marks an idempotent replay. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** Nothing: for a route without parameters, query or body (an empty body or `{}` is tolerated). */
export const NOTHING = compileInput(Type.Object({}, { additionalProperties: false }));

/** The `Idempotency-Key` header, if sent; a bad one adds to `details`. */
export function readIdempotencyKey(ctx: RouteContext, details: ErrorDetail[]): string | undefined {
  // Present but empty is invalid, not "no key": look at the raw header, not ctx.get's ''.
  if (ctx.req.headers['idempotency-key'] === undefined) return undefined;
  return validated(validateIdempotencyKey, ctx.get('Idempotency-Key'), details, '/headers/idempotency-key');
}

/** `title` without surrounding whitespace, before validation (lengths count after trimming). */
export function trimTitle(fields: Record<string, unknown>): Record<string, unknown> {
  return typeof fields.title === 'string' ? { ...fields, title: fields.title.trim() } : fields;
}

/**
 * Path parameters whose percent-encoding is not UTF-8 (e.g. `%ED%A0%80`, a lone surrogate).
 * @koa/router then hands over the raw text, which would name another user id than the one
 * meant: refused instead (422).
 */
function undecodableParams(ctx: RouteContext): ErrorDetail[] {
  const pattern = ctx._matchedRoute;
  if (typeof pattern !== 'string') return [];
  const names = pattern.split('/');
  const segments = ctx.path.split('/');
  const details: ErrorDetail[] = [];
  names.forEach((name, index) => {
    if (!name.startsWith(':')) return;
    try {
      decodeURIComponent(segments[index] ?? '');
    } catch {
      details.push({ path: `/path/${name.slice(1)}`, message: 'is not valid percent-encoded UTF-8' });
    }
  });
  return details;
}

/** What a route validates, besides its key (`NOTHING` where it takes nothing). */
export interface InputSpec<P, Q, B> {
  /** Path parameters (`ctx.params`); failures point at `/path/<name>`. */
  params: ValidateFunction<P>;
  /** The query string; failures point at `/query/<name>`. */
  query: ValidateFunction<Q>;
  /** The body; a route that needs one answers 400 without it. */
  body: ValidateFunction<B>;
  bodyRequired?: boolean;
  /** Applied to the body before validation (e.g. trimming the title). */
  normalize?: (body: Record<string, unknown>) => Record<string, unknown>;
  /** Whether the route honours `Idempotency-Key`. */
  idempotent?: boolean;
}

/** A request's validated input. */
export interface Input<P, Q, B> {
  params: P;
  query: Q;
  /** The validated (and normalized) body; `{}` for routes without one. */
  body: B;
  /** The body as sent (parsed), for the idempotency hash. */
  sentBody: Record<string, unknown> | undefined;
  idempotencyKey: string | undefined;
}

/** Reads and validates a `/v1` or `/admin` request in the contract's order; every failure is one 422. */
export async function readInput<P, Q, B>(ctx: RouteContext, spec: InputSpec<P, Q, B>): Promise<Input<P, Q, B>> {
  const sentBody = await readJsonBody(ctx);
  if (spec.bodyRequired === true && sentBody === undefined) {
    throw new ApiError('malformed_json', 'This route needs a JSON object body');
  }
  const details: ErrorDetail[] = undecodableParams(ctx);
  const params = validated(spec.params, { ...ctx.params }, details, '/path');
  // A copy: reading numbers (limit=20 → 20) writes into the object it validates.
  const query = validated(spec.query, { ...ctx.query }, details, '/query');
  const rawBody = sentBody ?? {};
  const body = validated(spec.body, spec.normalize === undefined ? rawBody : spec.normalize(rawBody), details);
  const idempotencyKey = spec.idempotent === true ? readIdempotencyKey(ctx, details) : undefined;
  if (details.length > 0 || params === undefined || query === undefined || body === undefined) throw validationFailed(details);
  return { params, query, body, sentBody, idempotencyKey };
}

/** How a transport answers an operation's refusals: where a field points, what status a bad one gets. */
export interface OperationErrorStyle {
  /** The JSON pointer of an input field in this transport's request (`/payload/cursor`, `/query/cursor`). */
  pointer(field: string): string;
  /** The status of invalid input (400 on `/execute`, 422 on `/v1`). */
  invalidStatus?: number;
}

/** Runs an operation, its refusals becoming this transport's errors. */
export async function calling<T>(style: OperationErrorStyle, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof OperationError)) throw error;
    if (error.code === 'not_found') throw new ApiError('not_found', error.message, { cause: error });
    throw validationFailed([{ path: style.pointer(error.field ?? ''), message: error.message }], style.invalidStatus);
  }
}

/**
 * Answers with the operation's data: an envelope (written as text, a task's JSON as PostgreSQL
 * wrote it), or a listing written as it is read.
 */
export async function respond(ctx: RouteContext, services: Services, status: number, data: unknown): Promise<void> {
  if (await writeListing(ctx, services, data)) return;
  ctx.status = status;
  // Set on the response directly: Koa's ctx.set allocates two arrays per call.
  ctx.res.setHeader('Content-Type', JSON_CONTENT_TYPE);
  ctx.body = successText(data, services.clock.now());
}

/** The service key the request authenticated with (the route requires one). */
function serviceKeyId(ctx: RouteContext): string {
  const key = ctx.state.serviceKey;
  if (key === undefined) throw new Error('a service-key route ran without authentication');
  return key.id;
}

/**
 * `create-task` as both transports run it, wrapped by idempotency: with an `Idempotency-Key`,
 * the run is scoped to the service key and transport and remembered with the hash of what was
 * sent (`bodyKeys`: the fields that make two bodies the same request); a replay is marked by
 * its header.
 */
export async function createTaskFrom(
  ctx: RouteContext,
  services: Services,
  request: {
    transport: Transport;
    userId: string;
    input: CreateTaskInput;
    responseStatus: number;
    idempotencyKey: string | undefined;
    sentBody: unknown;
    bodyKeys: readonly string[];
  },
): Promise<Outcome<TaskJson>> {
  const { idempotencyKey } = request;
  const remember =
    idempotencyKey === undefined
      ? undefined
      : {
          scope: { serviceKeyId: serviceKeyId(ctx), transport: request.transport, key: idempotencyKey },
          requestHash: requestHash(request.sentBody, request.bodyKeys),
        };
  const outcome = await services.runOnce(createTask, request.userId, request.input, { responseStatus: request.responseStatus, remember });
  if (outcome.replayed) ctx.set(REPLAYED_HEADER, 'true');
  return { ...outcome, data: TaskJson.of(outcome.data) };
}
