/**
 * `/admin/*`: service keys over HTTP, answering as the earlier service did: bare JSON (the
 * resource itself; errors `{ detail, error_code }`, shaped in `envelope.ts`), a taken name a
 * 400. The routes exist only when `ADMIN_API_KEY` is set and need it in `X-Admin-Key`. They call
 * the same key lifecycle as the `keys` CLI (`keys/service.ts`); each action writes one
 * structured audit line (action, key name, request id; never a key).
 */
import { withDeadline } from '../db.js';
import { ApiError } from '../errors.js';
import { AUDIT_EVENT, auditToLogger } from '../keys/audit.js';
import { createKey, KeyActionError, listKeys, revokeKey, rotateKey, type KeyServiceDeps } from '../keys/service.js';
import type { ResponseDoc, RouteContext, RouteDefinition, Services } from '../routes.js';
import type { JsonSchema } from '../schemas/common.js';
import {
  CreatedKeySchema,
  CreateKeyBodySchema,
  KeyListSchema,
  KeyNamePathSchema,
  RevokedKeySchema,
  RotatedKeySchema,
  RotateKeyBodySchema,
} from '../schemas/admin.js';
import { compileInput } from '../schemas/validate.js';
import { NOTHING, readInput } from './input.js';

const CREATE = { params: NOTHING, query: NOTHING, body: compileInput(CreateKeyBodySchema), bodyRequired: true };
const ROTATE = { params: NOTHING, query: NOTHING, body: compileInput(RotateKeyBodySchema), bodyRequired: true };
const LIST = { params: NOTHING, query: NOTHING, body: NOTHING };
const REVOKE = { params: compileInput(KeyNamePathSchema), query: NOTHING, body: NOTHING };

/** The earlier service answered a name that already has an active key with a 400. */
const NAME_TAKEN_STATUS = 400;

/** Answers with the resource itself, as the earlier service did (no envelope). */
function respond(ctx: RouteContext, status: number, data: object): void {
  ctx.status = status;
  ctx.body = data;
}

/**
 * The key service, acting for this request: its audit entries become the same log lines the
 * keys CLI and the managed-key sync write (`keys/audit.ts`), with this request's id.
 */
function keyService(ctx: RouteContext, services: Services): KeyServiceDeps {
  const requestId = ctx.state.requestId;
  return {
    sql: services.db.sql,
    clock: services.clock,
    actor: `request:${requestId}`,
    audit: auditToLogger(services.logger.child({ request_id: requestId })),
  };
}

/**
 * Runs a key action under the database deadline, with its refusals as API errors. A deadline
 * only stops the waiting: an action already committing may still take effect, so after a 503
 * the list tells what happened.
 */
async function run<T>(services: Services, action: () => Promise<T>): Promise<T> {
  try {
    return await withDeadline(action(), services.db.queryTimeoutMs);
  } catch (error) {
    if (error instanceof KeyActionError) {
      throw new ApiError(error.code, error.message, error.reason === 'name_taken' ? { status: NAME_TAKEN_STATUS } : {});
    }
    throw error;
  }
}

async function create(ctx: RouteContext, services: Services): Promise<void> {
  const { body } = await readInput(ctx, CREATE);
  const issued = await run(services, () => createKey(keyService(ctx, services), { keyName: body.key_name, environment: body.environment }));
  respond(ctx, 201, {
    id: issued.row.id,
    key_name: issued.row.key_name,
    service_key: issued.plaintext,
    created_at: issued.row.created_at,
  });
}

async function rotate(ctx: RouteContext, services: Services): Promise<void> {
  const { body } = await readInput(ctx, ROTATE);
  const graceSeconds = body.grace_seconds;
  const rotated = await run(services, () =>
    rotateKey(keyService(ctx, services), {
      keyName: body.key_name,
      ...(graceSeconds === undefined ? {} : { graceMs: graceSeconds * 1000 }),
    }),
  );
  // The old key's new expiry applies on this process at once (elsewhere within the cache's TTL).
  services.serviceKeys.forget(body.key_name);
  respond(ctx, 200, { new_key: rotated.plaintext, old_key_expires_at: rotated.oldKeyExpiresAt });
}

async function list(ctx: RouteContext, services: Services): Promise<void> {
  await readInput(ctx, LIST);
  const keys = await run(services, () => listKeys({ sql: services.db.sql, clock: services.clock }));
  // Reading the keys is audited too, in the same shape (there is no key name to record).
  const requestId = ctx.state.requestId;
  services.logger.info({ event: AUDIT_EVENT, action: 'list', actor: `request:${requestId}`, request_id: requestId }, 'service key list');
  respond(ctx, 200, { keys });
}

async function revoke(ctx: RouteContext, services: Services): Promise<void> {
  const { params } = await readInput(ctx, REVOKE);
  const keyName = params.key_name;
  try {
    const { revoked } = await run(services, () => revokeKey(keyService(ctx, services), { keyName }));
    respond(ctx, 200, { key_name: keyName, revoked });
  } finally {
    // A revocation applies on this process at once (elsewhere within the cache's TTL); after
    // a 503 too, since the revocation may still have committed.
    services.serviceKeys.forget(keyName);
  }
}

/** A bare JSON response (no envelope) of this schema, with its first example. */
function bare(description: string, schema: JsonSchema): ResponseDoc {
  const example = Array.isArray(schema.examples) ? (schema.examples as unknown[])[0] : undefined;
  return { description, content: { 'application/json': { schema, ...(example === undefined ? {} : { example }) } } };
}

/** What every admin route shares in its documentation. */
const COMMON = { readsBody: true, usesDatabase: true, tags: ['admin'] };

/** The `/admin` routes (registered only with `ADMIN_API_KEY`). */
export const adminRoutes: RouteDefinition[] = [
  {
    method: 'POST',
    path: '/admin/service-keys',
    auth: 'admin',
    handle: create,
    doc: {
      ...COMMON,
      operationId: 'createServiceKey',
      summary: 'Issue a service key',
      description: 'The key is in the response once and never again. A name that has an active key is a 400 `conflict`.',
      body: { schema: CreateKeyBodySchema },
      responses: { 201: bare('The new key.', CreatedKeySchema) },
      errors: [{ code: 'conflict', status: NAME_TAKEN_STATUS }],
    },
  },
  {
    method: 'GET',
    path: '/admin/service-keys',
    auth: 'admin',
    handle: list,
    doc: {
      ...COMMON,
      operationId: 'listServiceKeys',
      summary: 'Every service key, without secrets or hashes',
      responses: { 200: bare('The keys.', KeyListSchema) },
    },
  },
  {
    method: 'POST',
    path: '/admin/rotate-key',
    auth: 'admin',
    handle: rotate,
    doc: {
      ...COMMON,
      operationId: 'rotateServiceKey',
      summary: 'Issue a new key for a name; the old one works until its grace period ends',
      description:
        'A name with no active key is a 404; a key managed by the deployment is a 409 (change its secret instead). ' +
        'Takes effect on every API task within 30 s.',
      body: { schema: RotateKeyBodySchema },
      responses: { 200: bare('The new key, and when the old one stops working.', RotatedKeySchema) },
      errors: ['not_found', 'conflict'],
    },
  },
  {
    method: 'POST',
    path: '/admin/service-keys/:key_name/revoke',
    auth: 'admin',
    handle: revoke,
    doc: {
      ...COMMON,
      operationId: 'revokeServiceKey',
      summary: 'Stop every key of a name at once (one in its grace period included)',
      description:
        'A name with no working key is a 404; a key managed by the deployment is a 409. Takes effect on every API task within 30 s.',
      params: KeyNamePathSchema,
      responses: { 200: bare('How many keys were stopped.', RevokedKeySchema) },
      errors: ['not_found', 'conflict'],
    },
  },
];
