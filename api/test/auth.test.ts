/**
 * Service-key authentication (docs/api.md, "Authentication"): one 401 for every way a key can
 * be wrong, keys of any shape looked up by their hash (imported from the earlier service), the
 * X-Service-Key alias, production-only keys, and the in-process cache (no database on the hot
 * path, revocation within 30 s, last_used_at once a minute).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { KEY_CACHE_TTL_MS, LAST_USED_INTERVAL_MS, NEGATIVE_CACHE_TTL_MS } from '../src/auth.js';
import { ManualClock } from '../src/clock.js';
import { displayPrefix, generateServiceKey, hashServiceKey, importedDisplayPrefix, type KeyEnvironment } from '../src/keys/format.js';
import { parseManagedKeys, syncManagedKeys } from '../src/keys/managed.js';
import { insertKey } from '../src/keys/sql.js';
import type { RunningServer } from '../src/server.js';
import { waitFor } from './helpers/wait.js';
import { apiClient, request, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { captureLogs } from './helpers/log-capture.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

function expectUnauthorized(response: ApiResponse): void {
  expect(response.status, response.text).to.equal(401);
  expect(response.error?.code).to.equal('unauthorized');
  expect(response.headers['www-authenticate']).to.equal('ApiKey');
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A key as the deployment generates it: `sk_<env>_` and 64 mixed-case alphanumerics from
 * Pulumi's RandomPassword (infra/secrets.ts, `special: false`), not the hex `generateServiceKey`
 * writes. It starts with each class, so it is never hex by chance.
 */
function deploymentKey(environment: KeyEnvironment): string {
  const rest = Array.from({ length: 61 }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join('');
  return `sk_${environment}_Zz9${rest}`;
}

/** Stores a key of any shape, as the import from the earlier service does; returns it. */
async function importedKey(sql: Parameters<typeof insertKey>[0], key: string, environment: KeyEnvironment): Promise<string> {
  await insertKey(sql, {
    keyName: `imported-${randomUUID().slice(0, 8)}`,
    environment,
    hash: hashServiceKey(key),
    displayPrefix: importedDisplayPrefix(key),
    origin: 'created',
  });
  return key;
}

describe('authentication', () => {
  const db = useTestDatabase();
  const clock = new ManualClock(Date.now());
  const logs = captureLogs();
  let api: RunningServer;
  let proxy: TcpProxy;

  before(async () => {
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    api = await startTestApi(proxy.databaseUrl(db.url), { clock, logger: logs.logger });
  });
  after(async () => {
    await api.stop();
    await proxy.close();
  });
  afterEach(() => {
    proxy.restore();
  });

  const stats = (headers: Record<string, string>) => request(api.url, 'POST', '/execute', { headers, body: { action: 'get-stats', user_id: 'u' } });

  describe('keys of any shape, looked up by their hash', () => {
    it('a printable key of 16..256 characters works whatever its shape (the earlier service issued such keys)', async () => {
      for (const key of [
        `sk_dev_test_key_${'1'.repeat(32)}`,
        'x'.repeat(16),
        `legacy key with spaces ${randomUUID()}`,
        `~!@#$%^&*()_+{}|:"<>?${'z'.repeat(235)}`,
      ]) {
        await importedKey(db.sql, key, 'test');
        const response = await stats({ 'X-Service-Key': key });
        expect(response.status, `${key.length} characters`).to.equal(200);
      }
    });

    it('anything else is a 401 without a lookup (it stays 401 while the database is gone)', async () => {
      proxy.cut();
      for (const key of ['x'.repeat(15), 'y'.repeat(257), `caf\u00e9${'x'.repeat(20)}`]) {
        expectUnauthorized(await stats({ 'X-API-Key': key }));
      }
      // A well-shaped unknown key does need the database: the lookup fails as unavailable.
      expect((await stats({ 'X-API-Key': `unknown-${randomUUID()}` })).status).to.equal(503);
    });
  });

  describe('one 401 for every wrong key, never echoing it', () => {
    it('missing, malformed, unknown, revoked or expired keys all get the same answer', async () => {
      const revoked = await createTestKey(db.sql);
      await db.sql`update service_api_keys set revoked_at = now() - interval '1 minute' where key_hash = ${hashServiceKey(revoked)}`;
      const expired = await createTestKey(db.sql);
      await db.sql`update service_api_keys set expires_at = now() - interval '1 minute' where key_hash = ${hashServiceKey(expired)}`;
      const attempts: Record<string, string>[] = [
        {},
        { 'X-API-Key': '' },
        { 'X-API-Key': 'sk_test_short' },
        { 'X-API-Key': 'Bearer abc' },
        // Well-shaped, looked up, unknown.
        { 'X-API-Key': `sk_live_${'a'.repeat(64)}` },
        { 'X-API-Key': `sk_test_${'a'.repeat(64)}!` },
        // Not printable ASCII of 16..256: never looked up.
        { 'X-API-Key': `sk_test_${'a'.repeat(249)}` },
        { 'X-API-Key': generateServiceKey('test') },
        { 'X-API-Key': revoked },
        { 'X-API-Key': expired },
        { Authorization: `Bearer ${await createTestKey(db.sql)}` },
      ];
      const bodies = new Set<string>();
      for (const headers of attempts) {
        const response = await stats(headers);
        expectUnauthorized(response);
        bodies.add(JSON.stringify(response.error));
        for (const value of Object.values(headers)) if (value.length > 8) expect(response.text).not.to.include(value);
      }
      expect(bodies.size, 'the same error for every case').to.equal(1);
    });

    it('X-Service-Key works alone and with an equal X-API-Key; two different keys are a 401', async () => {
      const key = await createTestKey(db.sql);
      const other = await createTestKey(db.sql);
      expect((await stats({ 'X-Service-Key': key })).status).to.equal(200);
      expect((await stats({ 'X-API-Key': key, 'X-Service-Key': key })).status).to.equal(200);
      expectUnauthorized(await stats({ 'X-API-Key': key, 'X-Service-Key': other }));
      expectUnauthorized(await stats({ 'X-API-Key': key, 'X-Service-Key': 'garbage' }));
    });

    it('a header sent twice is not a key', async () => {
      const key = await createTestKey(db.sql);
      expectUnauthorized(await request(api.url, 'POST', '/execute', { headers: { 'X-API-Key': [key, key] }, body: { action: 'get-stats', user_id: 'u' } }));
    });

    it('never writes a key into the log, only its name', async () => {
      const name = `logged-${randomUUID().slice(0, 8)}`;
      const key = await createTestKey(db.sql, { name });
      const unknown = generateServiceKey('test');
      await stats({ 'X-API-Key': key, 'X-Request-Id': 'log-check-1' });
      await stats({ 'X-API-Key': unknown });
      await stats({ 'X-Service-Key': key, 'X-API-Key': unknown });
      const text = logs.text();
      expect(text).not.to.include(key.slice(8));
      expect(text).not.to.include(unknown.slice(8));
      const line = logs.lines.find((entry) => entry.request_id === 'log-check-1');
      expect(line).to.include({ level: 'info', msg: 'request', method: 'POST', key_name: name, user_id: 'u', status: 200, route: '/execute', version: 'test' });
      expect(line?.duration_ms).to.be.a('number');
      expect(line?.time).to.match(/^\d{4}-\d{2}-\d{2}T/);
      // The route pattern, never the raw path with its ids.
      await request(api.url, 'GET', `/v1/users/secret-user/tasks/${randomUUID()}`, { key, headers: { 'X-Request-Id': 'log-check-2' } });
      expect(logs.lines.find((entry) => entry.request_id === 'log-check-2')).to.include({
        route: '/v1/users/:user_id/tasks/:task_id',
        user_id: 'secret-user',
        status: 404,
      });
    });
  });

  describe('the cache', () => {
    it('serves a known key without the database: with the database cut, auth still passes (a 422 follows, not a 503)', async () => {
      const key = await createTestKey(db.sql);
      const client = apiClient(api.url, { key });
      expect((await client.get('/v1/users/u/stats')).status).to.equal(200);
      proxy.cut();
      const response = await client.get('/v1/users/u/tasks/not-a-uuid');
      expect(response.status, response.text).to.equal(422);
      // An uncached key needs the database: 503, not a 401 that would blame the key.
      const fresh = await apiClient(api.url, { key: generateServiceKey('test') }).get('/v1/users/u/tasks/not-a-uuid');
      expect(fresh.status).to.equal(503);
      // A malformed key never reaches the database.
      expectUnauthorized(await apiClient(api.url, { key: 'sk_test_nope' }).get('/v1/users/u/stats'));
    });

    it('remembers an unknown key for a few seconds, so repeating it does not reach the database', async () => {
      const key = generateServiceKey('test');
      const client = apiClient(api.url, { key });
      expectUnauthorized(await client.get('/v1/users/u/stats'));
      proxy.cut();
      expectUnauthorized(await client.get('/v1/users/u/stats'));
      proxy.restore();
      // Issued after it was tried: it works once the negative entry has expired.
      await insertKey(db.sql, { keyName: `late-${randomUUID().slice(0, 8)}`, environment: 'test', hash: hashServiceKey(key), displayPrefix: displayPrefix(key), origin: 'created' });
      expectUnauthorized(await client.get('/v1/users/u/stats'));
      clock.advance(NEGATIVE_CACHE_TTL_MS);
      expect((await client.get('/v1/users/u/stats')).status).to.equal(200);
    });

    it('a revoked key stops working within 30 s', async () => {
      const key = await createTestKey(db.sql);
      const client = apiClient(api.url, { key });
      expect((await client.get('/v1/users/u/stats')).status).to.equal(200);
      await db.sql`update service_api_keys set revoked_at = ${new Date(clock.now())} where key_hash = ${hashServiceKey(key)}`;
      // Still cached: revocation is eventually consistent, bounded by the TTL.
      clock.advance(KEY_CACHE_TTL_MS - 1);
      expect((await client.get('/v1/users/u/stats')).status).to.equal(200);
      clock.advance(1);
      expectUnauthorized(await client.get('/v1/users/u/stats'));
    });

    it('a key whose grace period ends stops at that moment, cached or not', async () => {
      const key = await createTestKey(db.sql);
      await db.sql`update service_api_keys set expires_at = ${new Date(clock.now() + 10_000)} where key_hash = ${hashServiceKey(key)}`;
      const client = apiClient(api.url, { key });
      expect((await client.get('/v1/users/u/stats')).status).to.equal(200);
      clock.advance(10_000);
      expectUnauthorized(await client.get('/v1/users/u/stats'));
    });

    it('writes last_used_at at most once a minute per key, after the response', async () => {
      const key = await createTestKey(db.sql);
      const hash = hashServiceKey(key);
      const lastUsed = async (): Promise<number | null> => {
        const [row] = await db.sql<{ last_used_at: Date | null }[]>`select last_used_at from service_api_keys where key_hash = ${hash}`;
        return row?.last_used_at?.getTime() ?? null;
      };
      const client = apiClient(api.url, { key });
      const first = clock.now();
      expect((await client.get('/v1/users/u/stats')).status).to.equal(200);
      await waitFor(async () => (await lastUsed()) !== null, { timeoutMs: 10_000, intervalMs: 20, what: 'last_used_at' });
      expect(await lastUsed()).to.equal(first);

      clock.advance(LAST_USED_INTERVAL_MS - 1);
      expect((await client.get('/v1/users/u/stats')).status).to.equal(200);
      clock.advance(1);
      const second = clock.now();
      expect((await client.get('/v1/users/u/stats')).status).to.equal(200);
      await waitFor(async () => (await lastUsed()) === second, { timeoutMs: 10_000, intervalMs: 20, what: 'the second last_used_at' });
    });
  });
});

describe('authentication in production', () => {
  const db = useTestDatabase();
  let api: RunningServer;

  before(async () => {
    api = await startTestApi(db.url, { env: { NODE_ENV: 'production' } });
  });
  after(async () => {
    await api.stop();
  });

  it('only sk_prod_ keys authenticate', async () => {
    const body = { action: 'get-stats', user_id: 'u' };
    for (const environment of ['dev', 'test'] as const) {
      const key = await createTestKey(db.sql, { environment });
      expectUnauthorized(await request(api.url, 'POST', '/execute', { key, body }));
    }
    const prod = await createTestKey(db.sql, { environment: 'prod' });
    expect((await request(api.url, 'POST', '/execute', { key: prod, body })).status).to.equal(200);
  });

  it('a deployment-generated key (mixed-case alphanumerics) syncs from SERVICE_API_KEYS and authenticates', async () => {
    const key = deploymentKey('prod');
    const entries = parseManagedKeys(JSON.stringify({ 'cathouse-generated': key }), { environment: 'prod' });
    const deps = { sql: db.sql, clock: new ManualClock(Date.now()), audit: () => undefined, actor: 'migrate' };
    expect((await syncManagedKeys(deps, entries)).added).to.deep.equal(['cathouse-generated']);
    const response = await request(api.url, 'POST', '/execute', { key, body: { action: 'get-stats', user_id: 'u' } });
    expect(response.status, response.text).to.equal(200);
  });

  it('an imported key without a prefix works only when it was imported as prod; a prefix must not contradict it', async () => {
    const body = { action: 'get-stats', user_id: 'u' };
    const asProd = await importedKey(db.sql, `legacy-prod-${randomUUID()}`, 'prod');
    expect((await request(api.url, 'POST', '/execute', { key: asProd, body })).status).to.equal(200);
    const asTest = await importedKey(db.sql, `legacy-test-${randomUUID()}`, 'test');
    expectUnauthorized(await request(api.url, 'POST', '/execute', { key: asTest, body }));
    // The earlier service's seeded dev key, even if someone imported it as prod.
    const devShaped = await importedKey(db.sql, `sk_dev_test_key_${randomUUID().replaceAll('-', '')}`, 'prod');
    expectUnauthorized(await request(api.url, 'POST', '/execute', { key: devShaped, body }));
  });
});
