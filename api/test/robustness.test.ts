/**
 * Property-based robustness (fast-check): hundreds of generated malformed requests per action
 * (wrong types, huge and odd strings, deep nesting, `__proto__` keys, NUL bytes, lone
 * surrogates, unknown fields) always get a 4xx envelope, never a 5xx; nothing is written; the
 * server is healthy afterwards.
 *
 * Every generated request carries at least one defect that makes it invalid by the contract,
 * plus random noise (valid or not) everywhere else. The seed is printed; rerun a failure with
 * `FC_SEED=<seed>`.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { ERROR_STATUS } from '../src/errors.js';
import { SAFE_TEXT_PATTERN } from '../src/schemas/common.js';
import type { RunningServer } from '../src/server.js';
import { apiClient, request, type ApiClient, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { encodeSegment } from './helpers/transports.js';

const SEED = process.env.FC_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FC_SEED);
/** Runs per property: 13 properties, about 1 500 requests. */
const RUNS = Number(process.env.FC_RUNS ?? 300);
/**
 * Node's HTTP parser refuses a request line and headers over 16 KiB (431, no body) before
 * the API sees it; generated URLs stay below that, bodies do not.
 */
const MAX_URL_PART = 2_000;

type Body = Record<string, unknown>;

// ---- odd values ----------------------------------------------------------------------------

const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\uD800',
    'x\uDFFFy',
    '\uFEFF',
    '🐈'.repeat(501),
    'd'.repeat(10_001),
    "'; drop table tasks; --",
    '<script>alert(1)</script>',
    '%00',
    '${jndi:ldap://x}',
    '\r\n\r\n',
    'null',
    '2030-02-30T00:00:00Z',
    '0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d\u0000',
  ),
  fc.integer({ min: 1_000, max: 70_000 }).map((length) => 'y'.repeat(length)),
);

/** Odd strings short enough for a URL. */
const urlString = oddString.filter((text) => text.length < MAX_URL_PART);

const oddKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', '\u0000', ' title', 'Title', '$where', '__defineGetter__'),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

const { oddValue } = fc.letrec<{ oddValue: unknown }>((tie) => ({
  oddValue: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(-0, 1e308, 2 ** 53 + 1, -1),
    oddString,
    fc.array(tie('oddValue'), { maxLength: 4 }),
    fc.dictionary(oddKey, tie('oddValue'), { maxKeys: 4 }),
  ),
}));

/** A JSON text nested thousands of levels deep. */
const deepJson = fc
  .tuple(fc.integer({ min: 50, max: 30_000 }), fc.constantFrom('[', '{"a":'))
  .map(([depth, open]) => open.repeat(depth) + (open === '[' ? ']' : '1}').repeat(depth));

// ---- what each action takes ------------------------------------------------------------------

interface FieldSpec {
  /** Values the contract accepts. */
  valid: fc.Arbitrary<unknown>;
  /** Values it never accepts. */
  invalid: fc.Arbitrary<unknown>;
  required?: boolean;
}

const notAString = fc.oneof(fc.constant(null), fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }));
const badTitle = fc.oneof(notAString, fc.constantFrom('', '   ', '\t\n', 'x'.repeat(501), 'a\u0000', '\uD800'));
const badUuid = fc.oneof(notAString, fc.constantFrom('', '1', 'not-a-uuid', 'urn:uuid:0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d', '0b7e8f5c3d6a4d1e9b8a2f4c6e8a0b1d'), oddString.filter((text) => !/^[0-9a-f-]{36}$/i.test(text)));
const badStatus = fc.oneof(notAString, fc.constantFrom('', 'done', 'PENDING', 'completed ', 'open'));
const badPriority = fc.oneof(fc.integer(), fc.boolean(), fc.constantFrom('', 'critical', 'HIGH', 'low '));
// Refused by both transports: /execute also takes a date alone, no offset, or Unix seconds.
const badDate = fc.oneof(fc.boolean(), fc.constantFrom('', '2030-02-30', '2030-02-30T00:00:00', '2030-02-30T00:00:00Z', '0000-01-01T00:00:00Z', 'tomorrow', '2030-01-01T00:00:00+2400', 1e300));
const badLimit = fc.oneof(fc.constantFrom(0, -1, 1001, 1.5, '10', null, true), fc.integer({ min: 1001 }), fc.integer({ max: 0 }));
const badCursor = fc.oneof(notAString, fc.constantFrom('', '!!', 'not a cursor', 'x'.repeat(600)), oddString.filter((text) => !/^[A-Za-z0-9_-]{1,512}$/.test(text)));
const badDescription = fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 2 }), fc.constantFrom('d'.repeat(10_001), 'x\u0000', '\uDC00'));

/** Filled in before the properties run: tasks of `victim`, which no request may change. */
const victimIds: string[] = [];
const taskId = fc.oneof(fc.constantFrom(...[0, 1, 2].map((index) => () => victimIds[index] as string)).map((pick) => pick()), fc.uuid());

/** Text the API stores as sent (the schemas' own pattern). */
const safeText = new RegExp(SAFE_TEXT_PATTERN, 'u');
const TITLE: FieldSpec = { valid: fc.string({ minLength: 1, maxLength: 20 }).filter((text) => text.trim() !== '' && safeText.test(text)), invalid: badTitle };
const DESCRIPTION: FieldSpec = { valid: fc.oneof(fc.constant(null), fc.string({ maxLength: 20 }).filter((text) => safeText.test(text))), invalid: badDescription };
const STATUS: FieldSpec = { valid: fc.constantFrom('pending', 'in_progress', 'completed'), invalid: badStatus };
const PRIORITY: FieldSpec = { valid: fc.constantFrom('low', 'medium', 'high', 'urgent', null), invalid: badPriority };
const DUE_DATE: FieldSpec = { valid: fc.constantFrom('2030-01-01T00:00:00Z', null, '2020-05-05T05:05:05.5+05:30'), invalid: badDate };
const TASK_ID: FieldSpec = { valid: taskId, invalid: badUuid, required: true };

const ACTION_FIELDS: Record<string, Record<string, FieldSpec>> = {
  'create-task': { title: { ...TITLE, required: true }, description: DESCRIPTION, status: STATUS, priority: PRIORITY, due_date: DUE_DATE },
  'list-tasks': {
    status: STATUS,
    priority: { valid: fc.constantFrom('low', 'medium', 'high', 'urgent'), invalid: fc.oneof(badPriority, fc.constant(null)) },
    limit: { valid: fc.integer({ min: 1, max: 1000 }), invalid: badLimit },
    cursor: { valid: fc.constant(undefined), invalid: badCursor },
  },
  'get-task': { task_id: TASK_ID },
  'update-task': { task_id: TASK_ID, title: TITLE, description: DESCRIPTION, status: STATUS, priority: PRIORITY, due_date: DUE_DATE },
  'delete-task': { task_id: TASK_ID },
  'get-stats': {},
};

const badUserId = fc.oneof(notAString, fc.constantFrom('', 'u'.repeat(256), '\u0000', 'a\uD800', '\uDBFF'));

/** A payload with random noise: each field absent, valid or invalid (validity is not relied on). */
function noisyPayload(fields: Record<string, FieldSpec>): fc.Arbitrary<Body> {
  const entries = Object.entries(fields).map(([name, spec]) =>
    fc.option(fc.oneof({ weight: 3, arbitrary: spec.valid }, { weight: 1, arbitrary: spec.invalid }, { weight: 1, arbitrary: oddValue }), { nil: undefined }).map(
      (value) => [name, value] as const,
    ),
  );
  return fc.tuple(...entries).map((pairs) => {
    const payload: Body = {};
    for (const [name, value] of pairs) if (value !== undefined) payload[name] = value;
    return payload;
  });
}

type Defect = (body: Body, payload: Body) => void;

/**
 * The defects of an /execute body for `action`: each alone makes the request invalid. Not
 * defects there (the earlier service's leniency): unknown fields, which are ignored, and
 * `null` for an optional field that cannot be null, which counts as absent (or a `null`
 * payload for an action that needs nothing in it).
 */
function defects(action: string): fc.Arbitrary<Defect> {
  const fields = ACTION_FIELDS[action] as Record<string, FieldSpec>;
  const needsPayload = Object.values(fields).some((spec) => spec.required === true);
  const badPayload = fc.oneof(fc.array(oddValue, { maxLength: 3 }), oddString, fc.integer(), ...(needsPayload ? [fc.constant(null)] : []));
  const options: fc.Arbitrary<Defect>[] = [
    badUserId.map((value) => (body: Body) => void (body.user_id = value)),
    fc.constant((body: Body) => void delete body.user_id),
    badPayload.map((value) => (body: Body) => void (body.payload = value)),
  ];
  for (const [name, spec] of Object.entries(fields)) {
    if (name === 'cursor') continue;
    const invalid = spec.required === true ? spec.invalid : spec.invalid.filter((value) => value !== null);
    options.push(invalid.map((value) => (_body: Body, payload: Body) => void (payload[name] = value)));
    if (spec.required === true) options.push(fc.constant((_body: Body, payload: Body) => void Reflect.deleteProperty(payload, name)));
  }
  if (action === 'update-task') {
    // Nothing to change: only the task id.
    options.push(taskId.map((id) => (_body: Body, payload: Body) => {
      for (const key of Object.keys(payload)) Reflect.deleteProperty(payload, key);
      payload.task_id = id;
    }));
  }
  if (action === 'list-tasks') options.push(badCursor.filter((value) => value !== null).map((value) => (_body: Body, payload: Body) => void (payload.cursor = value)));
  return fc.oneof(...options);
}

/**
 * Applies a defect meant for an /execute body to a /v1 body (the payload alone). A defect of
 * the envelope (user_id, unknown top-level field) has no /v1 equivalent in the body, so an
 * unknown field takes its place: the body stays invalid either way.
 */
function v1Body(payload: Body, defect: Defect): unknown {
  const before = JSON.stringify(payload);
  const holder: Body = { payload };
  defect(holder, payload);
  if (holder.payload !== payload) return holder.payload;
  return JSON.stringify(payload) === before ? { ...payload, unexpected: true } : payload;
}

/** A malformed /execute body for `action`, as JSON text. */
function executeBody(action: string): fc.Arbitrary<string> {
  const fields = ACTION_FIELDS[action] as Record<string, FieldSpec>;
  return fc
    .tuple(noisyPayload(fields), fc.oneof(fc.constant('victim'), fc.string({ minLength: 1, maxLength: 20 })), fc.array(defects(action), { minLength: 1, maxLength: 3 }))
    .map(([payload, userId, applied]) => {
      const body: Body = { action, user_id: userId, payload };
      for (const defect of applied) defect(body, payload);
      return JSON.stringify(body);
    });
}

// ---- the suite -------------------------------------------------------------------------------

const KNOWN_CODES = new Set(Object.keys(ERROR_STATUS));

function expectClientError(response: ApiResponse, sent: string): void {
  const shown = sent.length > 300 ? `${sent.slice(0, 300)}… (${sent.length} chars)` : sent;
  expect(response.status, `${shown}\n→ ${response.text.slice(0, 500)}`).to.be.within(400, 499);
  expect(response.json, shown).to.include({ success: false, data: null });
  expect(KNOWN_CODES.has(response.error?.code as string), shown).to.equal(true);
  expect(response.error?.message).to.be.a('string');
}

describe('robustness (property-based, fast-check)', function () {
  this.timeout(600_000);
  const db = useTestDatabase();
  let api: RunningServer;
  let client: ApiClient;
  let key: string;
  let snapshot: unknown;

  const tables = async () => ({
    tasks: await db.sql`select * from tasks order by id`,
    idempotency: await db.sql`select * from idempotency_keys`,
    keys: await db.sql`select id, key_name, revoked_at, expires_at from service_api_keys order by id`,
  });

  before(async () => {
    console.log(`      fast-check seed: ${SEED}, ${RUNS} runs per property (rerun with FC_SEED=${SEED})`);
    api = await startTestApi(db.url);
    key = await createTestKey(db.sql);
    client = apiClient(api.url, { key });
    for (const title of ['one', 'two', 'three']) {
      const created = await client.execute('create-task', 'victim', { title, description: 'keep', due_date: '2030-01-01T00:00:00Z' });
      victimIds.push(created.data.id as string);
    }
    snapshot = await tables();
  });
  after(async () => {
    await api.stop();
  });

  const options = () => ({ seed: SEED, numRuns: RUNS, endOnFailure: true });

  for (const action of Object.keys(ACTION_FIELDS)) {
    it(`POST /execute ${action}: malformed bodies always get a 4xx envelope`, async () => {
      await fc.assert(
        fc.asyncProperty(executeBody(action), fc.boolean(), async (body, idempotent) => {
          const headers: Record<string, string> = { 'Content-Type': 'application/json' };
          if (idempotent) headers['Idempotency-Key'] = randomUUID();
          expectClientError(await client.post('/execute', body, { headers }), body);
        }),
        options(),
      );
    });
  }

  it('POST /execute: unknown actions and odd envelopes get a 4xx', async () => {
    const body = fc
      .record({ action: fc.oneof(oddValue, oddString.filter((text) => !Object.keys(ACTION_FIELDS).includes(text))), user_id: oddValue, payload: oddValue }, { requiredKeys: [] })
      .map((value) => JSON.stringify(value));
    await fc.assert(
      fc.asyncProperty(body, async (text) => expectClientError(await client.post('/execute', text, { headers: { 'Content-Type': 'application/json' } }), text)),
      options(),
    );
  });

  it('POST /execute: bytes that are not a JSON object get a 4xx', async () => {
    const text = fc.oneof(
      deepJson,
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.jsonValue().filter((value) => typeof value !== 'object' || value === null || Array.isArray(value)).map((value) => JSON.stringify(value)),
      fc.jsonValue().map((value) => JSON.stringify(value).slice(0, -1)),
      fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
    );
    const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', undefined);
    await fc.assert(
      fc.asyncProperty(text, contentType, async (body, type) => {
        const headers: Record<string, string> = type === undefined ? {} : { 'Content-Type': type };
        const response = await client.post('/execute', Buffer.from(body, 'utf8'), { headers });
        expectClientError(response, body);
      }),
      options(),
    );
  });

  it('POST /v1/users/{user_id}/tasks: malformed bodies get a 4xx', async () => {
    const body = fc
      .tuple(noisyPayload(ACTION_FIELDS['create-task'] as Record<string, FieldSpec>), defects('create-task'))
      .map(([payload, defect]) => ({ userId: 'victim', text: JSON.stringify(v1Body(payload, defect)) }));
    await fc.assert(
      fc.asyncProperty(body, async ({ userId, text }) => {
        expectClientError(await client.post(`/v1/users/${encodeSegment(userId)}/tasks`, text, { headers: { 'Content-Type': 'application/json' } }), text);
      }),
      options(),
    );
  });

  it('PATCH /v1/users/{user_id}/tasks/{task_id}: malformed bodies and ids get a 4xx', async () => {
    const changes = noisyPayload(Object.fromEntries(Object.entries(ACTION_FIELDS['update-task'] as Record<string, FieldSpec>).filter(([name]) => name !== 'task_id')));
    const sample = fc.tuple(changes, defects('update-task'), taskId).map(([changesSent, defect, id]) => {
      const sent = v1Body({ ...changesSent, task_id: id }, defect);
      if (typeof sent !== 'object' || sent === null || Array.isArray(sent)) return { id, text: JSON.stringify(sent) };
      // The id goes in the path; a task_id left in a PATCH body would be an unknown field.
      const { task_id: pathId, ...rest } = sent as Body;
      if (typeof pathId === 'string' && /^[0-9a-f-]{36}$/i.test(pathId)) return { id: pathId, text: JSON.stringify(rest) };
      return { id: typeof pathId === 'string' && pathId !== '' ? pathId.slice(0, MAX_URL_PART) : 'not-a-uuid', text: JSON.stringify(rest) };
    });
    await fc.assert(
      fc.asyncProperty(sample, async ({ id, text }) => {
        expectClientError(await client.patch(`/v1/users/victim/tasks/${encodeSegment(id)}`, text, { headers: { 'Content-Type': 'application/json' } }), text);
      }),
      options(),
    );
  });

  it('GET /v1/users/{user_id}/tasks: malformed query strings get a 4xx', async () => {
    const name = fc.oneof(fc.constantFrom('status', 'priority', 'limit', 'cursor'), oddKey);
    const query = fc
      .array(fc.tuple(name, fc.oneof(urlString, fc.constantFrom('0', '1001', '-5', '1e3', 'abc', '', 'pending', 'done'))), { minLength: 1, maxLength: 5 })
      .filter((pairs) =>
        // At least one parameter that is unknown, repeated, or out of its range.
        pairs.some(([key, value], index) =>
          !['status', 'priority', 'limit', 'cursor'].includes(key) ||
          pairs.findIndex(([other]) => other === key) !== index ||
          (key === 'limit' && !/^(?:[1-9]\d{0,2}|1000)$/.test(value)) ||
          (key === 'status' && !['pending', 'in_progress', 'completed'].includes(value)) ||
          (key === 'priority' && !['low', 'medium', 'high', 'urgent'].includes(value)) ||
          (key === 'cursor'),
        ),
      )
      .map((pairs) => pairs.map(([key, value]) => `${encodeSegment(key)}=${encodeSegment(value)}`).join('&'));
    await fc.assert(
      fc.asyncProperty(query, async (text) => expectClientError(await client.get(`/v1/users/victim/tasks?${text}`), text)),
      options(),
    );
  });

  it('GET and DELETE /v1/users/{user_id}/tasks/{task_id}: odd user and task ids get a 4xx', async () => {
    const sample = fc.tuple(
      fc.oneof(fc.constant('victim'), badUserId.filter((value): value is string => typeof value === 'string' && value !== '')),
      fc.oneof(badUuid.filter((value): value is string => typeof value === 'string' && value !== '' && value.length < MAX_URL_PART), fc.uuid()),
      fc.constantFrom('GET', 'DELETE'),
    ).filter(([userId, id]) => userId !== 'victim' || !/^[0-9a-f-]{36}$/i.test(id) || !victimIds.includes(id));
    await fc.assert(
      fc.asyncProperty(sample, async ([userId, id, method]) => {
        const path = `/v1/users/${encodeSegment(userId)}/tasks/${encodeSegment(id)}`;
        expectClientError(await client.request(method, path), path);
      }),
      options(),
    );
  });

  it('changed nothing, and the server is healthy afterwards', async () => {
    expect(await tables()).to.deep.equal(snapshot);
    expect((await request(api.url, 'GET', '/health')).status).to.equal(200);
    expect((await request(api.url, 'GET', '/health/ready')).status).to.equal(200);
    const created = await client.execute('create-task', `after-${randomUUID()}`, { title: 'still fine' });
    expect(created.status).to.equal(200);
    for (const id of victimIds) expect((await client.execute('get-task', 'victim', { task_id: id })).status).to.equal(200);
  });
});
