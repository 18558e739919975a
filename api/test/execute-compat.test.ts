/**
 * `/execute` as a drop-in for the earlier service's clients (docs/api.md, "POST /execute";
 * docs/migrating-from-the-python-service.md): its error shape and codes, its leniency (unknown
 * fields, nulls, dates), every task of a user without `limit`; and the rest of what those
 * clients relied on: `/admin`'s bare answers, CORS credentials, `/redoc`, a safe `Location`.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import type { RunningServer } from '../src/server.js';
import { apiClient, type ApiClient, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';

const ADMIN_KEY = 'admin-key-for-the-execute-compat-tests-0123456789';
const ORIGIN = 'https://cats.example';
let key: string;

function newUser(): string {
  return `user-${randomUUID()}`;
}

/** The earlier service's error shape: `error` is the message, the code and details beside it. */
function expectExecuteError(response: ApiResponse, status: number, code: string): Record<string, unknown> {
  expect(response.status, response.text).to.equal(status);
  const body = response.json as Record<string, unknown>;
  expect(body).to.include({ success: false, data: null, error_code: code });
  expect(body.error).to.be.a('string').and.not.equal('');
  return body;
}

describe('/execute and /admin as the earlier service answered', () => {
  const db = useTestDatabase();
  let api: RunningServer;
  let client: ApiClient;

  before(async () => {
    api = await startTestApi(db.url, { env: { ADMIN_API_KEY: ADMIN_KEY, CORS_ORIGINS: ORIGIN } });
    key = await createTestKey(db.sql);
    client = apiClient(api.url, { key });
  });
  after(async () => {
    await api.stop();
  });

  async function createdTask(userId: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    const response = await client.execute('create-task', userId, payload);
    expect(response.status, response.text).to.equal(200);
    return response.data;
  }

  describe('errors', () => {
    it('are `error: "<message>"` with error_code and details beside it; the body\'s own fields are a 422', async () => {
      const response = await client.post('/execute', { action: 'get-stats', user_id: '' });
      const body = expectExecuteError(response, 422, 'validation_failed');
      expect(body.error).to.match(/^user_id: /);
      expect(body.details).to.deep.equal([{ path: '/user_id', message: 'must NOT have fewer than 1 characters' }]);
      for (const bad of [{ user_id: 'u' }, { action: 7, user_id: 'u' }, { action: 'get-stats', user_id: 'u', payload: [] }]) {
        expectExecuteError(await client.post('/execute', bad), 422, 'validation_failed');
      }
    });

    it('checks the body\'s own fields (422), then the action (400 unknown_action), then the payload (400)', async () => {
      expectExecuteError(await client.post('/execute', { action: 'make-tea', user_id: '' }), 422, 'validation_failed');
      const unknown = expectExecuteError(await client.execute('make-tea', 'u', { title: 7 }), 400, 'unknown_action');
      expect(unknown.error).to.match(/create-task, list-tasks, get-task, update-task, delete-task, get-stats/);
      const payload = expectExecuteError(await client.execute('create-task', 'u', { title: '' }), 400, 'validation_failed');
      expect(payload.details).to.deep.equal([{ path: '/payload/title', message: 'must NOT have fewer than 1 characters' }]);
    });

    it('keep their shape for every status: 401, 404, 405, 413, 415, 400 malformed JSON', async () => {
      expectExecuteError(await client.execute('get-stats', 'u', undefined, { key: null }), 401, 'unauthorized');
      expectExecuteError(await client.execute('get-task', 'u', { task_id: randomUUID() }), 404, 'not_found');
      expectExecuteError(await client.get('/execute'), 405, 'method_not_allowed');
      expectExecuteError(await client.post('/execute', 'x'.repeat(70_000), { headers: { 'Content-Type': 'application/json' } }), 413, 'payload_too_large');
      expectExecuteError(await client.post('/execute', 'hello', { headers: { 'Content-Type': 'text/plain' } }), 415, 'unsupported_media_type');
      expectExecuteError(await client.post('/execute', '{', { headers: { 'Content-Type': 'application/json' } }), 400, 'malformed_json');
    });
  });

  describe('leniency', () => {
    it('ignores unknown fields at the top level and in the payload; they never set what the server owns', async () => {
      const userId = newUser();
      const forgedId = randomUUID();
      const response = await client.post('/execute', {
        action: 'create-task',
        user_id: userId,
        trace: true,
        payload: { title: 'mine', colour: 'red', id: forgedId, user_id: 'someone-else', created_at: '2000-01-01T00:00:00Z', completed_at: '2000-01-01T00:00:00Z' },
      });
      expect(response.status, response.text).to.equal(200);
      expect(response.data).to.include({ user_id: userId, title: 'mine', completed_at: null });
      expect(response.data.id).not.to.equal(forgedId);
      expect(response.data.created_at).not.to.match(/^2000/);
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from tasks where id = ${forgedId} or user_id = 'someone-else'`;
      expect(row?.n).to.equal(0);
      const updated = await client.execute('update-task', userId, { task_id: response.data.id, title: 'renamed', id: forgedId, created_at: '2000-01-01T00:00:00Z' });
      expect(updated.data).to.include({ id: response.data.id, title: 'renamed', created_at: response.data.created_at });
    });

    it('takes a due_date without offset (UTC), a date alone (midnight UTC) and Unix seconds; refuses impossible dates', async () => {
      const userId = newUser();
      for (const [sent, stored] of [
        ['2026-01-15T10:30:00', '2026-01-15T10:30:00.000Z'],
        ['2026-01-15T10:30:00.123456', '2026-01-15T10:30:00.123Z'],
        ['2026-01-15T10:30', '2026-01-15T10:30:00.000Z'],
        ['2026-01-15', '2026-01-15T00:00:00.000Z'],
        [1768473000, '2026-01-15T10:30:00.000Z'],
        [1768473000.5, '2026-01-15T10:30:00.500Z'],
        ['2026-01-15T10:30:00+02:00', '2026-01-15T08:30:00.000Z'],
      ] as const) {
        expect((await createdTask(userId, { title: 'dated', due_date: sent })).due_date, String(sent)).to.equal(stored);
      }
      const task = await createdTask(userId, { title: 'moved' });
      const moved = await client.execute('update-task', userId, { task_id: task.id, due_date: '2027-03-01' });
      expect(moved.data.due_date).to.equal('2027-03-01T00:00:00.000Z');
      for (const impossible of ['2030-02-30', '2030-02-30T10:00:00', '2030-13-01', 'tomorrow', 1e300, true]) {
        const response = await client.execute('create-task', userId, { title: 'never', due_date: impossible });
        const body = expectExecuteError(response, 400, 'validation_failed');
        expect(body.details, String(impossible)).to.deep.include.members([{ path: '/payload/due_date', message: (body.details as { message: string }[])[0]?.message }]);
      }
    });

    it('counts null as absent where null means nothing (list filters, limit, cursor; status on create)', async () => {
      const userId = newUser();
      await createdTask(userId, { title: 'a', status: null, description: null, priority: null, due_date: null });
      const list = await client.execute('list-tasks', userId, { status: null, priority: null, limit: null, cursor: null });
      expect(list.status, list.text).to.equal(200);
      expect(list.data).to.include({ count: 1, next_cursor: null });
      expect((list.data.tasks as Record<string, unknown>[])[0]).to.include({ status: 'pending', description: null });
      expect((await client.post('/execute', { action: 'get-stats', user_id: userId, payload: null })).status).to.equal(200);
    });
  });

  describe('list-tasks', () => {
    it('without limit returns every matching task, newest first, with count and no cursor', async () => {
      const userId = newUser();
      const total = 1234;
      await db.sql`
        insert into tasks (user_id, title, status, completed_at, created_at, updated_at)
        select ${userId}, 't' || n, case when n % 3 = 0 then 'completed' else 'pending' end,
               case when n % 3 = 0 then now() end,
               now() - n * interval '1 second', now() - n * interval '1 second'
        from generate_series(1, ${total}) as n`;
      const all = await client.execute('list-tasks', userId);
      expect(all.status, all.text.slice(0, 300)).to.equal(200);
      const tasks = all.data.tasks as { title: string }[];
      expect(all.data).to.include({ count: total, next_cursor: null });
      expect(tasks).to.have.length(total);
      expect(tasks.map((task) => task.title)).to.deep.equal(Array.from({ length: total }, (_, index) => `t${index + 1}`));
      const completed = await client.execute('list-tasks', userId, { status: 'completed' });
      expect(completed.data.count).to.equal(Math.floor(total / 3));
      // With a limit it pages, on /execute as on /v1.
      const page = await client.execute('list-tasks', userId, { limit: 1000 });
      expect(page.data.count).to.equal(1000);
      expect(page.data.next_cursor).to.be.a('string');
      const rest = await client.execute('list-tasks', userId, { limit: 1000, cursor: page.data.next_cursor });
      expect(rest.data).to.include({ count: total - 1000, next_cursor: null });
    });
  });

  describe('/admin', () => {
    const admin = (): ApiClient => apiClient(api.url, { key: ADMIN_KEY });
    const headers = { 'X-Admin-Key': ADMIN_KEY };

    it('answers bare JSON; a taken name is a 400 conflict, errors are { detail, error_code }', async () => {
      const name = `compat-${randomUUID().slice(0, 8)}`;
      const created = await admin().post('/admin/service-keys', { key_name: name, environment: 'test' }, { key: null, headers });
      expect(created.status, created.text).to.equal(201);
      expect(Object.keys(created.json as object).sort()).to.deep.equal(['created_at', 'id', 'key_name', 'service_key']);
      const taken = await admin().post('/admin/service-keys', { key_name: name, environment: 'test' }, { key: null, headers });
      expect(taken.status).to.equal(400);
      expect(taken.json).to.have.keys('detail', 'error_code');
      expect(taken.json).to.include({ error_code: 'conflict' });
      const rotated = await admin().post('/admin/rotate-key', { key_name: name }, { key: null, headers });
      expect(rotated.status).to.equal(200);
      expect(Object.keys(rotated.json as object).sort()).to.deep.equal(['new_key', 'old_key_expires_at']);
      const invalid = await admin().post('/admin/service-keys', { key_name: 'Not Valid', environment: 'test' }, { key: null, headers });
      expect(invalid.status).to.equal(422);
      expect(invalid.json).to.have.keys('detail', 'error_code', 'details');
      const unauthorized = await admin().get('/admin/service-keys', { key: null });
      expect(unauthorized.status).to.equal(401);
      expect(unauthorized.json).to.have.keys('detail', 'error_code');
    });
  });

  it('CORS allows credentials for a listed origin', async () => {
    const response = await client.request('OPTIONS', '/execute', {
      key: null,
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'X-Service-Key, Content-Type' },
    });
    expect(response.headers['access-control-allow-origin']).to.equal(ORIGIN);
    expect(response.headers['access-control-allow-credentials']).to.equal('true');
    const actual = await client.execute('get-stats', newUser(), undefined, { headers: { Origin: ORIGIN } });
    expect(actual.headers['access-control-allow-credentials']).to.equal('true');
    const stranger = await client.execute('get-stats', newUser(), undefined, { headers: { Origin: 'https://evil.example' } });
    expect(stranger.headers['access-control-allow-origin']).to.equal(undefined);
    expect(stranger.headers['access-control-allow-credentials']).to.equal(undefined);
  });

  it('serves ReDoc at /redoc from the API itself, for the same document', async () => {
    const page = await client.get('/redoc', { key: null });
    expect(page.status).to.equal(200);
    expect(page.headers['content-type']).to.match(/^text\/html/);
    const scripts = [...page.text.matchAll(/<script src="([^"]+)"/g)].map((match) => match[1] as string);
    expect(page.text).to.include('spec-url="/openapi.json"');
    expect(scripts).to.have.length(1);
    for (const src of scripts) {
      expect(src.startsWith('/'), src).to.equal(true);
      const script = await client.get(src, { key: null });
      expect(script.status, src).to.equal(200);
      expect(script.headers['content-type']).to.match(/javascript/);
      expect(script.text.length).to.be.greaterThan(100_000);
    }
    expect(page.headers['content-security-policy']).to.match(/default-src 'none'/);
  });

  it('Location encodes dots, so a user_id of . or .. stays a path segment for an RFC 3986 client', async () => {
    for (const userId of ['.', '..', 'a.b']) {
      const segment = userId.replaceAll('.', '%2E');
      const created = await rawRequest(api.url, 'POST', `/v1/users/${segment}/tasks`, { title: 'dots' });
      expect(created.status, created.text).to.equal(201);
      const location = created.headers.location as string;
      const id = (JSON.parse(created.text) as { data: { id: string; user_id: string } }).data;
      expect(id.user_id).to.equal(userId);
      expect(location).to.equal(`/v1/users/${segment}/tasks/${id.id}`);
      const fetched = await rawRequest(api.url, 'GET', location);
      expect(fetched.status, fetched.text).to.equal(200);
    }
  });
});

/**
 * A request whose path goes out byte for byte: WHATWG URL parsing (fetch, `new URL`) would
 * read `%2E` as a dot and resolve it away, which is what this test must get past.
 */
async function rawRequest(baseUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const { hostname, port } = new URL(baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return await new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname,
        port,
        method,
        path,
        agent: false,
        headers: { 'X-API-Key': key, ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
