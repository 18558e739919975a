/**
 * Graceful shutdown (the issue: on SIGTERM/SIGINT readiness goes 503, no new connections,
 * in-flight requests finish within 25 s, the pool closes, the process exits 0). A held
 * database keeps a request in flight for as long as a test needs.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { RunningServer } from '../src/server.js';
import { waitFor } from './helpers/wait.js';
import { apiClient, request } from './helpers/api-client.js';
import { startApiProcess, type ApiProcess } from './helpers/api-process.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Sends raw HTTP/1.1 requests on one keep-alive socket and collects what comes back. */
function rawConnection(url: string): { socket: net.Socket; send(text: string): void; received(): string; closed: Promise<void> } {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
  // Not events.once, which would reject on an 'error' before the 'close'.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, send: (text) => socket.write(text), received: () => data, closed };
}

describe('graceful shutdown (in process)', () => {
  const db = useTestDatabase();
  let proxy: TcpProxy;

  before(async () => {
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  });
  after(async () => {
    await proxy.close();
  });

  it('lets in-flight requests finish (readiness answering 503), refuses new connections, closes the pool', async () => {
    const api = await startTestApi(proxy.databaseUrl(db.url), { env: { DB_STATEMENT_TIMEOUT_MS: '20000' } });
    const key = await createTestKey(db.sql);
    expect((await apiClient(api.url, { key }).execute('get-stats', 'warm')).status).to.equal(200);

    proxy.hold();
    // Two requests waiting on the database when the stop begins: a task operation and a
    // readiness probe.
    const operation = rawConnection(api.url);
    const probe = rawConnection(api.url);
    await Promise.all([once(operation.socket, 'connect'), once(probe.socket, 'connect')]);
    const body = JSON.stringify({ action: 'get-stats', user_id: 'in-flight' });
    operation.send(
      `POST /execute HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    probe.send('GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n');
    // Give both time to be waiting on the held database.
    await new Promise((resolve) => setTimeout(resolve, 300));

    const stopped = api.stop();
    expect(api.lifecycle.draining).to.equal(true);
    const refused = await request(api.url, 'GET', '/health').then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    expect(refused, 'no new connections').to.equal('ECONNREFUSED');

    proxy.restore();
    await stopped;
    await Promise.all([operation.closed, probe.closed]);
    expect(operation.received()).to.match(/^HTTP\/1\.1 200 OK/);
    expect(operation.received()).to.include('"total_tasks":0');
    expect(operation.received().toLowerCase()).to.include('connection: close');
    expect(probe.received()).to.match(/^HTTP\/1\.1 503 Service Unavailable[\s\S]*\{"status":"draining"\}$/);
    // The pool is closed: nothing can use it any more.
    const afterStop = await api.sql`select 1`.then(
      () => 'ran',
      (error: NodeJS.ErrnoException) => error.code,
    );
    expect(afterStop).to.equal('CONNECTION_ENDED');
  });

  it('closes a keep-alive connection once its in-flight response is sent, instead of waiting for its idle timeout', async () => {
    const api = await startTestApi(proxy.databaseUrl(db.url), { env: { DB_STATEMENT_TIMEOUT_MS: '20000' } });
    const key = await createTestKey(db.sql);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const req = http.request(new URL('/v1/users/u/stats', api.url), { agent, headers: { 'X-API-Key': key } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect((await get()).connection).to.equal('keep-alive');
      proxy.hold();
      const inFlight = get();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = performance.now();
      const stopped = api.stop();
      proxy.restore();
      expect(await inFlight).to.deep.equal({ status: 200, connection: 'close' });
      await stopped;
      // The keep-alive timeout is 65 s: a stop this quick did not wait for it.
      expect(performance.now() - started).to.be.below(10_000);
    } finally {
      agent.destroy();
      proxy.restore();
    }
  });

  it('does not wait for a request longer than the grace period', async () => {
    const api: RunningServer = await startTestApi(proxy.databaseUrl(db.url), { env: { SHUTDOWN_GRACE_MS: '500', DB_STATEMENT_TIMEOUT_MS: '60000' } });
    const key = await createTestKey(db.sql);
    expect((await apiClient(api.url, { key }).execute('get-stats', 'warm')).status).to.equal(200);
    proxy.hold();
    try {
      const stuck = apiClient(api.url, { key })
        .execute('get-stats', 'stuck')
        .then(
          (response) => response.status,
          (error: NodeJS.ErrnoException) => error.code,
        );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = performance.now();
      await api.stop();
      // 0.5 s of grace, then up to 3 s for the pool: far from the minute the query could take.
      expect(performance.now() - started).to.be.below(15_000);
      expect(await stuck).to.equal('ECONNRESET');
    } finally {
      proxy.restore();
    }
  });
});

describe('graceful shutdown (the process, on SIGTERM)', () => {
  const db = useTestDatabase();
  let proxy: TcpProxy;
  let running: ApiProcess | undefined;

  before(async () => {
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  });
  afterEach(async () => {
    await running?.kill();
    running = undefined;
  });
  after(async () => {
    await proxy.close();
  });

  it('finishes the request in flight, closes the pool and exits 0', async () => {
    const api = (running = await startApiProcess({ DATABASE_URL: proxy.databaseUrl(db.url), DB_STATEMENT_TIMEOUT_MS: '20000' }));
    const key = await createTestKey(db.sql);
    expect((await apiClient(api.url, { key }).execute('get-stats', 'warm')).status).to.equal(200);
    proxy.hold();
    const inFlight = apiClient(api.url, { key }).execute('get-stats', 'in-flight');
    await new Promise((resolve) => setTimeout(resolve, 300));
    api.child.kill('SIGTERM');
    await waitFor(() => api.output().includes('"msg":"shutting down"'), { timeoutMs: 10_000, what: 'the shutdown to begin' });
    proxy.restore();
    const response = await inFlight;
    expect(response.status).to.equal(200);
    expect(await api.exit).to.equal(0);
    expect(api.output()).to.include('"msg":"stopped"');
    expect(api.output()).not.to.include(key.slice(8));
  });

  it('exits 0 at once when idle (SIGINT too)', async () => {
    const api = (running = await startApiProcess({ DATABASE_URL: db.url }));
    expect((await request(api.url, 'GET', '/health')).status).to.equal(200);
    api.child.kill('SIGINT');
    expect(await api.exit).to.equal(0);
  });

  it('refuses to start on a bad configuration, with one line naming the variable and no secret', async () => {
    const secret = 'short-admin-secret';
    const bad = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'api/src/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, ADMIN_API_KEY: secret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    bad.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const [code] = (await once(bad, 'exit')) as [number | null];
    expect(code).to.equal(1);
    expect(stderr.trim().split('\n')).to.have.length(1);
    expect(stderr).to.include('ADMIN_API_KEY');
    expect(stderr).not.to.include(secret);
  });
});
