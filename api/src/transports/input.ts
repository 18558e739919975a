/**
 * What the transports share between reading a request and calling a handler: the body (413,
 * 415, 400 in `http/body.ts`), then every schema check at once (422 naming each failing
 * field), then the envelope on the way out.
 */
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { ApiError, type ErrorDetail } from '../errors.js';
import { success } from '../envelope.js';
import { readJsonBody } from '../http/body.js';
import type { CreateOutcome } from '../idempotency/create.js';
import { requestHash } from '../idempotency/request-hash.js';
import type { Transport } from '../idempotency/sql.js';
import type { RouteContext, Services } from '../routes.js';
import { strictObject } from '../schemas/common.js';
import type { CreateTaskPayload } from '../schemas/tasks.js';
import { check, compileBody, validationFailed } from '../schemas/validate.js';
import { createTask } from '../tasks/handlers.js';

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

/** A body for routes that take none: absent, empty, or `{}` (anything in it is unknown). */
const validateNoBody = compileBody(strictObject({}));

/** The `Idempotency-Key` header, if sent; a bad one adds to `details` (validated with the body). */
export function readIdempotencyKey(ctx: RouteContext, details: ErrorDetail[]): string | undefined {
  // Present but empty is a 422, not "no key": look at the raw header, not ctx.get's ''.
  if (ctx.req.headers['idempotency-key'] === undefined) return undefined;
  const value = ctx.get('Idempotency-Key');
  details.push(...check(validateIdempotencyKey, value, '/headers/idempotency-key'));
  return value;
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

/** What a route validates, besides its key. */
export interface InputSpec {
  /** Path parameters (`ctx.params`); failures point at `/path/<name>`. */
  params?: ValidateFunction;
  /** The query string; failures point at `/query/<name>`. Omitted: no parameter is accepted. */
  query?: ValidateFunction;
  /** The body; omitted: the route takes none (an empty body or `{}` is tolerated). */
  body?: { validate: ValidateFunction; normalize?: (body: Record<string, unknown>) => Record<string, unknown> };
  /** Whether the route honours `Idempotency-Key`. */
  idempotent?: boolean;
}

/** A request's validated input. */
export interface Input {
  params: Record<string, string>;
  query: Record<string, unknown>;
  /** The validated (and normalized) body; `{}` for routes without one. */
  body: Record<string, unknown>;
  /** The body as sent (parsed), for the idempotency hash. */
  sentBody: Record<string, unknown> | undefined;
  idempotencyKey: string | undefined;
}

/** Reads and validates a `/v1` or `/admin` request in the contract's order. */
export async function readInput(ctx: RouteContext, spec: InputSpec): Promise<Input> {
  const sentBody = await readJsonBody(ctx);
  if (spec.body !== undefined && sentBody === undefined) {
    throw new ApiError('malformed_json', 'This route needs a JSON object body');
  }
  const details: ErrorDetail[] = [];
  const params = { ...ctx.params };
  if (spec.params !== undefined) {
    details.push(...undecodableParams(ctx));
    details.push(...check(spec.params, params, '/path'));
  }
  // A copy: reading numbers (limit=20 → 20) writes into the object it validates.
  const query: Record<string, unknown> = { ...ctx.query };
  details.push(...check(spec.query ?? validateNoBody, query, '/query'));
  let body: Record<string, unknown> = sentBody ?? {};
  if (spec.body === undefined) {
    details.push(...check(validateNoBody, body));
  } else {
    body = spec.body.normalize === undefined ? body : spec.body.normalize(body);
    details.push(...check(spec.body.validate, body));
  }
  const idempotencyKey = spec.idempotent === true ? readIdempotencyKey(ctx, details) : undefined;
  if (details.length > 0) throw validationFailed(details);
  return { params, query, body, sentBody, idempotencyKey };
}

/** Answers with the success envelope. */
export function respond(ctx: RouteContext, services: Services, status: number, data: unknown): void {
  ctx.status = status;
  ctx.body = success(data, services.clock.now());
}

/** The service key the request authenticated with (the route requires one). */
export function serviceKeyId(ctx: RouteContext): string {
  const key = ctx.state.serviceKey;
  if (key === undefined) throw new Error('a service-key route ran without authentication');
  return key.id;
}

/**
 * `create-task` as both transports run it: with an `Idempotency-Key`, the create is scoped to
 * the service key and transport and remembered with the hash of what was sent (`bodyKeys`:
 * the fields that make two bodies the same request); a replay is marked by its header.
 */
export async function createTaskFrom(
  ctx: RouteContext,
  services: Services,
  input: {
    transport: Transport;
    userId: string;
    payload: CreateTaskPayload;
    responseStatus: number;
    idempotencyKey: string | undefined;
    sentBody: unknown;
    bodyKeys: readonly string[];
  },
): Promise<CreateOutcome> {
  const { idempotencyKey } = input;
  const outcome = await createTask(services.tasks, {
    userId: input.userId,
    payload: input.payload,
    responseStatus: input.responseStatus,
    idempotency:
      idempotencyKey === undefined
        ? undefined
        : {
            scope: { serviceKeyId: serviceKeyId(ctx), transport: input.transport, key: idempotencyKey },
            requestHash: requestHash(input.sentBody, input.bodyKeys),
          },
  });
  if (outcome.replayed) ctx.set(REPLAYED_HEADER, 'true');
  return outcome;
}
