/**
 * The envelope, the error codes and the order in which checks answer (docs/api.md, "Errors"):
 * route (404) → method (405) → key (401) → body size (413) → media type (415) → JSON (400) →
 * schema (422; on /execute the body's own fields 422, then 400 unknown_action, then the
 * payload 400) → the operation (404, 409).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import { PLAIN_JSON_TYPES } from '../src/http/body.js';
import type { RunningServer } from '../src/server.js';
import { apiClient, errorOf, request, type ApiClient, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { captureLogs } from './helpers/log-capture.js';

const LIMIT = 64 * 1024;

/** The keys of an error body: `/execute`'s shape carries the code beside the message (and any details). */
function errorKeys(response: ApiResponse): string[] {
  const body = response.json as Record<string, unknown>;
  if (typeof body.error !== 'string') return ['success', 'data', 'error', 'timestamp'];
  return ['success', 'data', 'error', 'error_code', 'timestamp', ...['details', 'request_id'].filter((name) => name in body)];
}

function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).to.equal(status);
  expect(response.json).to.have.all.keys(...errorKeys(response));
  expect(response.json).to.include({ success: false, data: null });
  expect(response.error?.code, response.text).to.equal(code);
  expect(response.headers['x-request-id']).to.be.a('string').and.not.equal('');
}

/** A body sent with chunked encoding (no Content-Length), as a stream of `chunks`. */
async function chunked(url: string, path: string, headers: Record<string, string>, chunks: Buffer[]): Promise<ApiResponse> {
  return await new Promise((resolve, reject) => {
    const req = http.request(new URL(path, url), { method: 'POST', headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        const json = JSON.parse(text) as { data?: unknown };
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, data: json.data as Record<string, unknown>, error: errorOf(json) });
      });
    });
    // The server may answer 413 and close before every chunk is written.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('requests: envelope, error codes and check order', () => {
  const db = useTestDatabase();
  let api: RunningServer;
  let client: ApiClient;
  let anonymous: ApiClient;

  before(async () => {
    api = await startTestApi(db.url);
    client = apiClient(api.url, { key: await createTestKey(db.sql) });
    anonymous = apiClient(api.url);
  });
  after(async () => {
    await api.stop();
  });

  describe('route (404) and method (405) come before the key', () => {
    it('an unknown path is a 404 envelope, with or without a key, whatever the method', async () => {
      for (const [method, path] of [
        ['GET', '/nope'],
        ['POST', '/v1/users/u/tasks/x/y'],
        ['DELETE', '/v1'],
        ['PROPFIND', '/nowhere'],
        ['GET', '/execute/'],
        ['GET', '/EXECUTE'],
      ] as const) {
        expectError(await anonymous.request(method, path), 404, 'not_found');
        expectError(await client.request(method, path), 404, 'not_found');
      }
    });

    it('a known path with the wrong method is a 405 with Allow, before any key check', async () => {
      const cases: [string, string, string][] = [
        ['GET', '/execute', 'POST'],
        ['PUT', '/execute', 'POST'],
        ['DELETE', '/v1/users/u/tasks', 'HEAD, GET, POST'],
        ['POST', `/v1/users/u/tasks/${randomUUID()}`, 'HEAD, GET, PATCH, DELETE'],
        ['PUT', '/v1/users/u/stats', 'HEAD, GET'],
        ['PROPFIND', '/execute', 'POST'],
        ['POST', '/health', 'HEAD, GET'],
      ];
      for (const [method, path, allow] of cases) {
        const response = await anonymous.request(method, path, { body: 'x'.repeat(LIMIT + 1) });
        expectError(response, 405, 'method_not_allowed');
        expect(response.headers.allow, `${method} ${path}`).to.equal(allow);
      }
    });

    it('HEAD of a GET route answers as GET does, without a body (paths with and without parameters)', async () => {
      const get = await anonymous.request('GET', '/health');
      const head = await anonymous.request('HEAD', '/health');
      expect(head.status).to.equal(200);
      expect(head.text).to.equal('');
      expect(head.headers['content-type']).to.equal(get.headers['content-type']);
      expect(head.headers['x-request-id']).to.be.a('string');
      const stats = await client.request('HEAD', '/v1/users/u/stats');
      expect(stats.status).to.equal(200);
      expect(stats.text).to.equal('');
    });

    it('a plain OPTIONS (no CORS preflight) answers 200 with Allow', async () => {
      const response = await anonymous.request('OPTIONS', '/execute');
      expect(response.status).to.equal(200);
      expect(response.headers.allow).to.equal('POST');
    });
  });

  describe('the key (401) comes before the body', () => {
    it('an oversized, non-JSON body without a key is a 401, not 413/415/400', async () => {
      for (const body of ['x'.repeat(LIMIT + 1), 'not json', '[]']) {
        const response = await anonymous.request('POST', '/execute', { body, headers: { 'Content-Type': 'text/plain' } });
        expectError(response, 401, 'unauthorized');
        expect(response.headers['www-authenticate']).to.equal('ApiKey');
      }
    });
  });

  describe('body size (413) → media type (415) → JSON (400)', () => {
    it('over 64 KiB is a 413, whatever the media type, declared length or chunked', async () => {
      const big = JSON.stringify({ action: 'create-task', user_id: 'u', payload: { title: 'x'.repeat(LIMIT) } });
      expectError(await client.post('/execute', big, { headers: { 'Content-Type': 'application/json' } }), 413, 'payload_too_large');
      expectError(await client.post('/execute', 'y'.repeat(LIMIT + 1), { headers: { 'Content-Type': 'text/plain' } }), 413, 'payload_too_large');
      const chunks = Array.from({ length: 17 }, () => Buffer.alloc(4096, 0x61));
      const response = await chunked(api.url, '/execute', { 'X-API-Key': (await createTestKey(db.sql)) as string, 'Content-Type': 'text/plain' }, chunks);
      expectError(response, 413, 'payload_too_large');
    });

    it('exactly 64 KiB is read (then judged on its content)', async () => {
      const prefix = '{"action":"get-stats","user_id":"u","payload":{},"pad":"';
      const body = prefix + 'x'.repeat(LIMIT - prefix.length - 2) + '"}';
      expect(Buffer.byteLength(body)).to.equal(LIMIT);
      const response = await client.post('/execute', body, { headers: { 'Content-Type': 'application/json' } });
      // Read and judged: /execute ignores the unknown field, as the earlier service did.
      expect(response.status, response.text).to.equal(200);
      const v1 = await client.post('/v1/users/u/tasks', `{"pad":"${'x'.repeat(LIMIT - 10)}"}`, { headers: { 'Content-Type': 'application/json' } });
      expectError(v1, 422, 'validation_failed');
    });

    it('a non-empty body that is not application/json is a 415, even when it is valid JSON', async () => {
      const json = JSON.stringify({ action: 'get-stats', user_id: 'u' });
      for (const headers of [
        { 'Content-Type': 'text/plain' },
        {},
        { 'Content-Type': 'application/x-www-form-urlencoded' },
        { 'Content-Type': 'application/json; charset=latin1' },
        { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
        { 'Content-Type': 'multipart/form-data; boundary=x' },
      ] as Record<string, string>[]) {
        const response = await client.post('/execute', json, { headers });
        expectError(response, 415, 'unsupported_media_type');
      }
      // 415 comes before 400: a non-JSON body with the wrong type says "media type".
      expectError(await client.post('/execute', '<xml/>', { headers: { 'Content-Type': 'text/xml' } }), 415, 'unsupported_media_type');
    });

    it('application/json with charset utf-8 (any case) is fine', async () => {
      for (const type of ['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON']) {
        const response = await client.post('/execute', JSON.stringify({ action: 'get-stats', user_id: 'u' }), { headers: { 'Content-Type': type } });
        expect(response.status, type).to.equal(200);
      }
    });

    it('the types taken without parsing are ones the full media-type check accepts', async () => {
      // `Content-Encoding: identity` skips the shortcut: each type goes through the full check.
      for (const type of PLAIN_JSON_TYPES) {
        const body = JSON.stringify({ action: 'get-stats', user_id: 'u' });
        const response = await client.post('/execute', body, { headers: { 'Content-Type': type, 'Content-Encoding': 'identity' } });
        expect(response.status, type).to.equal(200);
      }
      // And what the full check refuses is still refused, also spelled close to a shortcut.
      for (const type of ['application/json; charset=latin1', 'application/jsonx', 'application/json; charset=utf-16']) {
        const response = await client.post('/execute', JSON.stringify({ action: 'get-stats', user_id: 'u' }), { headers: { 'Content-Type': type } });
        expectError(response, 415, 'unsupported_media_type');
      }
    });

    it('a body that is not JSON, not an object, or not UTF-8 is a 400 malformed_json', async () => {
      const headers = { 'Content-Type': 'application/json' };
      for (const body of ['{', '{"action":', 'nope', '[]', '[{"action":"get-stats"}]', 'null', '42', '"text"', 'true', '{"a":1}{"b":2}']) {
        expectError(await client.post('/execute', body, { headers }), 400, 'malformed_json');
      }
      const invalidUtf8 = Buffer.concat([Buffer.from('{"action":"get-stats","user_id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
      expectError(await client.post('/execute', invalidUtf8, { headers }), 400, 'malformed_json');
    });

    it('an empty body is no media-type question: a 400 where a body is needed', async () => {
      expectError(await client.post('/execute', ''), 400, 'malformed_json');
      expectError(await client.post('/execute', undefined), 400, 'malformed_json');
      expectError(await client.post('/v1/users/u/tasks', '', { headers: { 'Content-Type': 'text/plain' } }), 400, 'malformed_json');
      expectError(await client.patch(`/v1/users/u/tasks/${randomUUID()}`, undefined), 400, 'malformed_json');
    });

    it('routes without a body accept none, an empty one or {}, and refuse fields in one (422)', async () => {
      expect((await client.get('/v1/users/u/stats')).status).to.equal(200);
      expect((await client.get('/v1/users/u/stats', { body: {} })).status).to.equal(200);
      expect((await client.get('/v1/users/u/stats', { body: '', headers: { 'Content-Type': 'text/plain' } })).status).to.equal(200);
      const response = await client.get('/v1/users/u/stats', { body: { verbose: true } });
      expectError(response, 422, 'validation_failed');
      expect(response.error?.details?.[0]?.path).to.equal('/verbose');
      expectError(await client.get('/v1/users/u/stats', { body: 'x', headers: { 'Content-Type': 'text/plain' } }), 415, 'unsupported_media_type');
    });
  });

  describe('schema (422, 400 unknown_action) → the operation (404, 409)', () => {
    it('an action not in the list is a 400 listing the valid ones, checked after the body\'s own fields, before the payload', async () => {
      const response = await client.post('/execute', { action: 'delete-everything', user_id: 'u', extra: 1, payload: { title: 7 } });
      expectError(response, 400, 'unknown_action');
      expect(response.error?.message).to.include('create-task, list-tasks, get-task, update-task, delete-task, get-stats');
      expect(response.error?.message).to.include('"delete-everything"');
    });

    it('a missing or non-string action is a 422 on /action', async () => {
      for (const body of [{ user_id: 'u' }, { action: 7, user_id: 'u' }, { action: null, user_id: 'u' }, { action: ['get-stats'], user_id: 'u' }]) {
        const response = await client.post('/execute', body);
        expectError(response, 422, 'validation_failed');
        expect(response.error?.details?.map((detail) => detail.path)).to.include('/action');
      }
    });

    it('user_id must be 1..255 characters (422 on /user_id)', async () => {
      for (const userId of ['', 'u'.repeat(256), 5, null]) {
        const response = await client.post('/execute', { action: 'get-stats', user_id: userId });
        expectError(response, 422, 'validation_failed');
        expect(response.error?.details?.[0]?.path).to.equal('/user_id');
      }
      expect((await client.execute('get-stats', 'u'.repeat(255))).status).to.equal(200);
    });

    it('details point into what was sent: /payload/… on /execute, /… in a /v1 body, /query/… and /path/… on /v1', async () => {
      const execute = await client.execute('create-task', 'u', { title: '' });
      expect(execute.error?.details).to.deep.equal([{ path: '/payload/title', message: 'must NOT have fewer than 1 characters' }]);
      expect(execute.error?.message).to.equal('payload.title: must NOT have fewer than 1 characters');

      const v1Body = await client.post('/v1/users/u/tasks', { title: '' });
      expect(v1Body.error?.details).to.deep.equal([{ path: '/title', message: 'must NOT have fewer than 1 characters' }]);

      for (const limit of ['0', '1001', 'abc', '1.5', '', '1e2', '0x10', '%2010', '010', '-1']) {
        const query = await client.get(`/v1/users/u/tasks?limit=${limit}`);
        expectError(query, 422, 'validation_failed');
        expect(query.error?.details?.[0]?.path, limit).to.equal('/query/limit');
      }
      const payloadLimit = await client.execute('list-tasks', 'u', { limit: 1001 });
      expectError(payloadLimit, 400, 'validation_failed');
      expect(payloadLimit.error?.details?.[0]?.path).to.equal('/payload/limit');

      const path = await client.get('/v1/users/u/tasks/123');
      expect(path.error?.details?.[0]).to.deep.equal({ path: '/path/task_id', message: 'must be a UUID' });
    });

    it('an unknown query parameter on /v1 is a 422, and so is a repeated one', async () => {
      const unknown = await client.get('/v1/users/u/tasks?sort=title');
      expectError(unknown, 422, 'validation_failed');
      expect(unknown.error?.details?.[0]).to.deep.equal({ path: '/query/sort', message: 'is not an allowed field' });
      expectError(await client.get('/v1/users/u/stats?x=1'), 422, 'validation_failed');
      expectError(await client.get('/v1/users/u/tasks?limit=1&limit=2'), 422, 'validation_failed');
    });

    it('names every failing field, escaping JSON pointer characters in names', async () => {
      const response = await client.post('/v1/users/u/tasks', { title: 1, 'a/b~c': true, priority: 'top' });
      expectError(response, 422, 'validation_failed');
      const paths = response.error?.details?.map((detail) => detail.path);
      expect(paths).to.include.members(['/title', '/a~1b~0c', '/priority']);
      expect(response.error?.message).to.match(/\(and \d+ more\)$/);
    });

    it('a schema failure answers before the operation: an invalid update of a missing task is 400/422, not 404', async () => {
      expectError(await client.execute('update-task', 'u', { task_id: randomUUID(), status: 'finished' }), 400, 'validation_failed');
      expectError(await client.patch(`/v1/users/u/tasks/${randomUUID()}`, { status: 'finished' }), 422, 'validation_failed');
    });

    it('caps a 422 at 20 details', async () => {
      const payload = Object.fromEntries(Array.from({ length: 500 }, (_, index) => [`field${index}`, index]));
      const response = await client.post('/v1/users/u/tasks', { title: 't', ...payload });
      expectError(response, 422, 'validation_failed');
      expect(response.error?.details).to.have.length(20);
      expect(response.error?.message).to.include('(and 499 more)');
    });
  });

  it('every response carries X-Request-Id: the caller\'s when sane, else a new one', async () => {
    for (const [method, path] of [
      ['GET', '/health'],
      ['GET', '/nope'],
      ['GET', '/execute'],
      ['POST', '/execute'],
    ] as const) {
      const echoed = await request(api.url, method, path, { headers: { 'X-Request-Id': 'abc-123.4:5_6' } });
      expect(echoed.headers['x-request-id'], `${method} ${path}`).to.equal('abc-123.4:5_6');
      const replaced = await request(api.url, method, path, { headers: { 'X-Request-Id': `${'a'.repeat(129)}` } });
      expect(replaced.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    }
    const maximal = 'A'.repeat(128);
    expect((await request(api.url, 'GET', '/health', { headers: { 'X-Request-Id': maximal } })).headers['x-request-id']).to.equal(maximal);
  });

  it('the envelope: success, data, error, timestamp (ISO 8601, ms)', async () => {
    const response = await client.execute('get-stats', 'u');
    expect(response.json).to.have.all.keys('success', 'data', 'error', 'timestamp');
    expect((response.json as { timestamp: string }).timestamp).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(response.headers['content-type']).to.equal('application/json; charset=utf-8');
  });
});

describe('requests: a 500 says only "internal" and the request id', () => {
  const db = useTestDatabase();
  let api: RunningServer;
  let client: ApiClient;
  const logs = captureLogs();

  before(async () => {
    api = await startTestApi(db.url, { logger: logs.logger });
    client = apiClient(api.url, { key: await createTestKey(db.sql) });
    // A fault no client input can cause: the table is gone.
    await db.sql`alter table tasks rename to tasks_gone`;
  });
  after(async () => {
    await api.stop();
  });

  it('answers 500 without stack, SQL or driver message; the log has them', async () => {
    const response = await client.execute('get-stats', 'u', undefined, { headers: { 'X-Request-Id': 'fault-1' } });
    expectError(response, 500, 'internal');
    expect(response.json).to.deep.include({ error: 'Internal error', error_code: 'internal', request_id: 'fault-1' });
    expect(response.text).not.to.match(/tasks|relation|select|stack|at /i);
    const line = logs.lines.find((entry) => entry.request_id === 'fault-1');
    expect(line).to.include({ status: 500, level: 'error', route: '/execute' });
    expect(JSON.stringify(line)).to.match(/relation .*tasks.* does not exist/);
  });
});
