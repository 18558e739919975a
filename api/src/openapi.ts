/**
 * The OpenAPI 3.1 document (`GET /openapi.json`), generated from the route definitions and the
 * same JSON Schemas that validate requests: what the document says is what the API checks.
 */
import { errorShapeOf, failure, type ErrorShape } from './envelope.js';
import { ERROR_STATUS, RETRY_AFTER_S, type ErrorCode } from './errors.js';
import { openApiPath, type ResponseDoc, type RouteDefinition } from './routes.js';
import type { JsonSchema } from './schemas/common.js';
import { AdminErrorSchema, ErrorEnvelopeSchema, ExecuteErrorSchema, successEnvelope } from './schemas/envelope.js';

const EXAMPLE_TIMESTAMP = '2026-01-01T10:00:00.000Z';
const EXAMPLE_REQUEST_ID = '6f1c2b3a-4d5e-4f60-8a9b-0c1d2e3f4a5b';

/** One example body per error code, for the document's error responses. */
const ERROR_EXAMPLES: Record<ErrorCode, { message: string; details?: { path: string; message: string }[]; request_id?: string }> = {
  bad_request: { message: 'The request is not valid HTTP' },
  request_timeout: { message: 'The request did not arrive in time' },
  request_header_fields_too_large: { message: 'The request headers are too large' },
  malformed_json: { message: 'The body is not valid JSON (UTF-8)' },
  unknown_action: {
    message: 'Unknown action "make-tea"; valid actions: create-task, list-tasks, get-task, update-task, delete-task, get-stats',
  },
  unauthorized: { message: 'A valid service key is required in the X-API-Key header' },
  not_found: { message: 'No such task for this user_id' },
  method_not_allowed: { message: 'PUT is not allowed here; allowed: GET, HEAD' },
  idempotency_conflict: { message: 'This Idempotency-Key was already used with a different user_id or body; use a new key for a new request' },
  conflict: { message: 'key name "cat-house-prod" already has an active key' },
  payload_too_large: { message: 'The body is larger than 65536 bytes' },
  unsupported_media_type: { message: 'The body must be JSON, sent with Content-Type: application/json' },
  validation_failed: {
    message: 'payload.title: must NOT have fewer than 1 characters',
    details: [{ path: '/payload/title', message: 'must NOT have fewer than 1 characters' }],
  },
  rate_limited: { message: 'Too many requests for this key; retry later' },
  internal: { message: 'Internal error', request_id: EXAMPLE_REQUEST_ID },
  unavailable: { message: 'The database is unavailable; retry shortly', request_id: EXAMPLE_REQUEST_ID },
};

const ERROR_DESCRIPTIONS: Record<ErrorCode, string> = {
  bad_request: 'a request that is not valid HTTP (answered before any route)',
  request_timeout: 'the request (headers and body) did not arrive within 30 s',
  request_header_fields_too_large: 'headers over 16 KiB',
  malformed_json: 'the body is not JSON, or not a JSON object',
  unknown_action: 'an action not in the list',
  unauthorized: 'missing, malformed, unknown, revoked or expired key',
  not_found: 'no such task for this user_id',
  method_not_allowed: 'known route, wrong method',
  idempotency_conflict: 'an Idempotency-Key reused with a different user_id or body',
  conflict: 'the key name already has an active key, or the key is managed by the deployment',
  payload_too_large: 'body over 64 KiB',
  unsupported_media_type: 'a non-empty body that is not application/json (UTF-8, unencoded)',
  validation_failed: 'the input does not match the schema; details names each failing field',
  rate_limited:
    'too many requests for this key, or too many failed authentications from this address; checked before any database work; retry after Retry-After seconds',
  internal: 'anything else (the body says only this and the request id)',
  unavailable: 'the database cannot be reached or does not answer in time; retry after Retry-After seconds',
};

const REQUEST_ID_HEADER = { $ref: '#/components/headers/XRequestId' };

/** An error a route answers, and with which status. */
interface RouteError {
  code: ErrorCode;
  status: number;
}

/** The errors a route can answer given what it does, plus those it names itself. */
function routeErrors(route: RouteDefinition): RouteError[] {
  const { doc } = route;
  const named = (doc.errors ?? []).map((entry) => (typeof entry === 'string' ? { code: entry, status: ERROR_STATUS[entry] } : entry));
  const codes = new Set<ErrorCode>(named.filter((entry) => entry.status === ERROR_STATUS[entry.code]).map((entry) => entry.code));
  if (route.auth !== 'none') {
    codes.add('unauthorized');
    codes.add('rate_limited');
  }
  if (doc.readsBody) {
    codes.add('payload_too_large');
    codes.add('unsupported_media_type');
    codes.add('malformed_json');
  }
  // Input is validated on the routes behind a key; the public ones (health, docs) only serve.
  if (route.auth !== 'none' && (doc.params ?? doc.query ?? doc.body ?? doc.headers) !== undefined) {
    codes.add('validation_failed');
  }
  if (doc.usesDatabase) codes.add('unavailable');
  codes.add('internal');
  const usual = [...codes].map((code) => ({ code, status: ERROR_STATUS[code] }));
  return [...usual, ...named.filter((entry) => entry.status !== ERROR_STATUS[entry.code])];
}

/** The schema of each error shape, in the document's components. */
const ERROR_SCHEMA_REFS: Record<ErrorShape, string> = {
  envelope: '#/components/schemas/ErrorEnvelope',
  execute: '#/components/schemas/ExecuteError',
  bare: '#/components/schemas/AdminError',
};

function errorResponses(errors: RouteError[], shape: ErrorShape): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const { code, status } of errors) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  const responses: Record<string, unknown> = {};
  for (const [status, statusCodes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const headers: Record<string, unknown> = { 'X-Request-Id': REQUEST_ID_HEADER };
    if (status === 401) headers['WWW-Authenticate'] = { description: 'Always `ApiKey`.', schema: { type: 'string', const: 'ApiKey' } };
    if (status === 503) {
      headers['Retry-After'] = { description: `Seconds to wait before retrying (${RETRY_AFTER_S}).`, schema: { type: 'integer' } };
    }
    if (status === 429) headers['Retry-After'] = { description: 'Seconds until the limit admits a request again.', schema: { type: 'integer' } };
    responses[String(status)] = {
      description: statusCodes.map((code) => `\`${code}\`: ${ERROR_DESCRIPTIONS[code]}`).join('; '),
      headers,
      content: {
        'application/json': {
          schema: { $ref: ERROR_SCHEMA_REFS[shape] },
          examples: Object.fromEntries(
            statusCodes.map((code) => [code, { value: failure(shape, { code, ...ERROR_EXAMPLES[code] }, Date.parse(EXAMPLE_TIMESTAMP)) }]),
          ),
        },
      },
    };
  }
  return responses;
}

function firstExample(schema: JsonSchema | undefined): unknown {
  const examples = schema?.examples;
  return Array.isArray(examples) ? examples[0] : undefined;
}

function successResponse(response: ResponseDoc): Record<string, unknown> {
  const headers = { 'X-Request-Id': REQUEST_ID_HEADER, ...response.headers };
  if (response.content !== undefined) return { description: response.description, headers, content: response.content };
  const data = response.data ?? { type: 'null' };
  const example = response.example ?? firstExample(data);
  return {
    description: response.description,
    headers,
    content: {
      'application/json': {
        schema: successEnvelope(data),
        ...(example === undefined ? {} : { example: { success: true, data: example, error: null, timestamp: EXAMPLE_TIMESTAMP } }),
      },
    },
  };
}

function parameters(route: RouteDefinition): unknown[] {
  const { doc } = route;
  const list: unknown[] = [];
  const add = (schema: JsonSchema | undefined, location: 'path' | 'query') => {
    if (schema === undefined) return;
    const properties = schema.properties as Record<string, JsonSchema>;
    const required = new Set((schema.required as string[] | undefined) ?? []);
    for (const [name, property] of Object.entries(properties)) {
      const { description, ...rest } = property;
      list.push({
        name,
        in: location,
        required: location === 'path' || required.has(name),
        ...(typeof description === 'string' ? { description } : {}),
        schema: rest,
      });
    }
  };
  add(doc.params, 'path');
  add(doc.query, 'query');
  for (const header of doc.headers ?? []) {
    list.push({ name: header.name, in: 'header', required: false, description: header.description, schema: header.schema });
  }
  return list;
}

/** A JSON request body with its examples (named ones, else the schema's first example). */
function requestBody(body: NonNullable<RouteDefinition['doc']['body']>): Record<string, unknown> {
  const example = firstExample(body.schema);
  const examples = body.examples !== undefined ? { examples: body.examples } : example !== undefined ? { example } : {};
  return { required: true, content: { 'application/json': { schema: body.schema, ...examples } } };
}

const SECURITY: Record<RouteDefinition['auth'], unknown[]> = {
  none: [],
  service: [{ ServiceKey: [] }, { ServiceKeyAlias: [] }],
  admin: [{ AdminKey: [] }],
};

function operation(route: RouteDefinition): Record<string, unknown> {
  const { doc } = route;
  const params = parameters(route);
  return {
    operationId: doc.operationId,
    summary: doc.summary,
    ...(doc.description === undefined ? {} : { description: doc.description }),
    tags: doc.tags,
    security: SECURITY[route.auth],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(doc.body === undefined ? {} : { requestBody: requestBody(doc.body) }),
    responses: {
      ...Object.fromEntries(Object.entries(doc.responses).map(([status, response]) => [status, successResponse(response)])),
      ...errorResponses(routeErrors(route), errorShapeOf(route.path)),
    },
  };
}

/** What the document says about the running API. */
export interface DocumentOptions {
  version: string;
}

/** The whole document for these routes. */
export function buildOpenApiDocument(routes: readonly RouteDefinition[], options: DocumentOptions): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'chapi — the Cat House task API',
      version: options.version,
      description: [
        'Backend services manage their users\' tasks with one service key each: `POST /execute` (the command',
        'endpoint the Cat House client speaks) or the same operations as `/v1` resources.',
        '',
        '`/execute` and `/v1/*` answer in an envelope `{ success, data, error, timestamp }`. A `/v1` error\'s `error` is',
        '`{ code, message, details }`; an `/execute` error\'s `error` is the message, with `error_code` and `details` beside it',
        '(the earlier service\'s shape). `/admin/*` answers bare JSON, its errors `{ detail, error_code }`. Every response',
        'carries `X-Request-Id`.',
        'Checks run in this order, the first failure answering: CORS preflight → route (404) → method (405) →',
        'key (401) → body size (413) → media type (415) → JSON (400) → schema (422; on `/execute`: the body\'s own',
        'fields 422, then 400 `unknown_action`, then the payload 400) → the operation (404, 409).',
      ].join('\n'),
    },
    servers: [{ url: '/', description: 'The server this document came from' }],
    tags: [
      { name: 'execute', description: 'The command endpoint (Cat House client)' },
      { name: 'tasks', description: 'The same operations as resources' },
      { name: 'admin', description: 'Service keys (needs X-Admin-Key; absent when ADMIN_API_KEY is unset)' },
      { name: 'service', description: 'Health, readiness and documentation' },
    ],
    paths,
    components: {
      securitySchemes: {
        ServiceKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A service key: sk_<env>_<secret>.' },
        ServiceKeyAlias: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Service-Key',
          description: 'The same key under the name the Cat House client uses. If both headers are sent they must be equal.',
        },
        AdminKey: { type: 'apiKey', in: 'header', name: 'X-Admin-Key', description: 'ADMIN_API_KEY.' },
      },
      headers: {
        XRequestId: {
          description: "The caller's X-Request-Id if it was sane (up to 128 of [A-Za-z0-9._:-]), else a new one.",
          schema: { type: 'string' },
        },
      },
      schemas: { ErrorEnvelope: ErrorEnvelopeSchema, ExecuteError: ExecuteErrorSchema, AdminError: AdminErrorSchema },
    },
  };
}
