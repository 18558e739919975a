/**
 * The HTTP server's own defences (issue 13, "Smaller holes"): headers on every response, a
 * request id that can never carry a key into the logs, Node's own 400/408/431 as envelopes
 * with a request id, and timeouts that end a slow client's hold on a connection.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { expect } from 'chai';
import { KEEP_ALIVE_TIMEOUT_MS, MAX_CONNECTIONS, REQUEST_TIMEOUT_MS, type RunningServer } from '../src/server.js';
import { generateServiceKey } from '../src/keys/format.js';
import { SECURITY_HEADERS } from '../src/middleware/security-headers.js';
import { apiClient, request, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { captureLogs } from './helpers/log-capture.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A raw exchange over one socket: what Node itself answers, byte for byte. */
async function raw(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  socket.on('error', () => undefined);
  socket.write(bytes);
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return text;
}

/** Status, headers (lower-case names) and JSON body of a raw HTTP/1.1 response. */
function parseResponse(text: string): { status: number; headers: Record<string, string>; body: unknown } {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as unknown };
}

function expectEnvelopeError(response: { status: number; headers: Record<string, string>; body: unknown }, status: number, code: string): void {
  expect(response.status).to.equal(status);
  expect(response.body).to.deep.include({ success: false, data: null });
  expect((response.body as { error: { code: string } }).error.code).to.equal(code);
  expect(response.headers['content-type']).to.match(/^application\/json/);
  expect(response.headers['x-request-id']).to.match(UUID);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(response.headers[name.toLowerCase()], name).to.equal(value);
}

describe('HTTP hardening', function () {
  this.timeout(REQUEST_TIMEOUT_MS + 30_000);
  const db = useTestDatabase();
  const logs = captureLogs();
  let api: RunningServer;
  let key: string;

  before(async () => {
    api = await startTestApi(db.url, { logger: logs.logger });
    key = await createTestKey(db.sql);
  });
  after(async () => {
    await api.stop();
  });

  describe('headers on every response', () => {
    const expectSecurityHeaders = (response: ApiResponse, what: string) => {
      expect(response.headers['x-content-type-options'], what).to.equal('nosniff');
      expect(response.headers['strict-transport-security'], what).to.equal(SECURITY_HEADERS['Strict-Transport-Security']);
    };

    it('sends no-store, nosniff and HSTS on successes and on every kind of error', async () => {
      const client = apiClient(api.url, { key });
      const responses: [string, ApiResponse][] = [
        ['/health', await request(api.url, 'GET', '/health')],
        ['/execute 200', await client.execute('get-stats', 'u')],
        ['/v1 200', await client.get('/v1/users/u/stats')],
        ['401', await apiClient(api.url).get('/v1/users/u/stats')],
        ['404', await client.get('/nowhere')],
        ['405', await request(api.url, 'PUT', '/execute', { key })],
        ['422', await client.get('/v1/users/u/tasks/not-a-uuid')],
        ['/openapi.json', await request(api.url, 'GET', '/openapi.json')],
      ];
      for (const [what, response] of responses) {
        expectSecurityHeaders(response, what);
        expect(response.headers['cache-control'], what).to.equal('no-store');
      }
    });

    it('lets the Swagger UI\'s static files be cached, still with nosniff and HSTS', async () => {
      const page = await request(api.url, 'GET', '/docs');
      expectSecurityHeaders(page, '/docs');
      const asset = /src="\/docs\/([^"]+\.js)"/.exec(page.text)?.[1];
      expect(asset, page.text.slice(0, 500)).to.be.a('string');
      const file = await request(api.url, 'GET', `/docs/${asset as string}`);
      expect(file.status).to.equal(200);
      expectSecurityHeaders(file, 'asset');
      expect(file.headers['cache-control']).to.match(/^public/);
    });
  });

  describe('X-Request-Id', () => {
    it('keeps a sane id: a UUID, a 32-hex trace id, a readable one', async () => {
      for (const id of ['3b241101-e2bb-4255-8caf-4136c566a962', '4bf92f3577b34da6a3ce929d0e0e4736', 'smoke-1733457000-a1b2c3', 'A'.repeat(128)]) {
        const response = await request(api.url, 'GET', '/health', { headers: { 'X-Request-Id': id } });
        expect(response.headers['x-request-id']).to.equal(id);
      }
    });

    it('replaces an id shaped like a key, and the key reaches no log line', async () => {
      const secretLike = 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2';
      // The random part of an earlier-service key (`sk_prod_` + 64 hex), sent without its prefix.
      const hexSecret = randomBytes(32).toString('hex');
      for (const id of [generateServiceKey('prod'), `req:${generateServiceKey('test')}`, 'SK_DEV_whatever', secretLike, hexSecret]) {
        const response = await apiClient(api.url, { key }).request('POST', '/execute', {
          headers: { 'X-Request-Id': id },
          body: { action: 'get-stats', user_id: 'u' },
        });
        expect(response.headers['x-request-id']).to.match(UUID);
        expect(logs.text()).not.to.include(id);
      }
    });
  });

  describe("Node's own answers", () => {
    it('a request that is not HTTP gets a 400 envelope with a request id and the headers', async () => {
      const text = await raw(api.url, 'NOT HTTP AT ALL\r\n\r\n');
      expectEnvelopeError(parseResponse(text), 400, 'bad_request');
    });

    it('headers over the limit get a 431 envelope, and the log never holds what was sent', async () => {
      const leaked = generateServiceKey('prod');
      const text = await raw(api.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-API-Key: ${leaked}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expectEnvelopeError(parseResponse(text), 431, 'request_header_fields_too_large');
      expect(logs.text()).not.to.include(leaked);
      expect(logs.text()).to.include('request_header_fields_too_large');
    });

    it('a body that trickles in gets a 408 envelope and the connection closes, within the request timeout', async () => {
      const { hostname, port } = new URL(api.url);
      const socket = net.connect(Number(port), hostname);
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      const started = performance.now();
      socket.write(`POST /execute HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
      // One byte a second: never idle, never done (what held a connection for 324 s before).
      const trickle = setInterval(() => socket.writable && socket.write(' '), 1_000);
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      clearInterval(trickle);
      expect(performance.now() - started).to.be.below(REQUEST_TIMEOUT_MS + 10_000);
      expectEnvelopeError(parseResponse(text), 408, 'request_timeout');
    });
  });

  it('caps the connections a process holds and keeps idle ones longer than the ALB (65 s > 60 s)', () => {
    expect(api.server.maxConnections).to.equal(MAX_CONNECTIONS);
    expect(api.server.keepAliveTimeout).to.equal(KEEP_ALIVE_TIMEOUT_MS);
    expect(api.server.requestTimeout).to.equal(REQUEST_TIMEOUT_MS);
    expect(api.server.headersTimeout).to.be.at.most(REQUEST_TIMEOUT_MS);
  });
});
