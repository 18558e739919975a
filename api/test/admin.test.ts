/**
 * The `/admin` routes (docs/api.md, "Service keys: administration"): the admin key,
 * create / list / rotate / revoke over HTTP, their refusals, effect within 30 s, and one
 * audit line per action that never holds a key.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { KEY_CACHE_TTL_MS } from '../src/auth.js';
import { ManualClock } from '../src/clock.js';
import { AUDIT_EVENT } from '../src/keys/audit.js';
import { displayPrefix, generateServiceKey, hashServiceKey } from '../src/keys/format.js';
import { DEFAULT_ROTATION_GRACE_MS } from '../src/keys/service.js';
import { insertKey } from '../src/keys/sql.js';
import type { RunningServer } from '../src/server.js';
import { apiClient, type ApiClient, type ApiResponse } from './helpers/api-client.js';
import { startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { captureLogs } from './helpers/log-capture.js';

const ADMIN_KEY = 'admin-key-for-tests-0123456789abcdef';

/** An admin error: bare `{ detail, error_code }` (and `details` for a validation failure), as the earlier service answered. */
function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).to.equal(status);
  expect(response.json).to.include({ error_code: code });
  expect(response.json).to.have.all.keys('detail', 'error_code', ...(code === 'validation_failed' ? ['details'] : []));
  expect(response.error?.code).to.equal(code);
}

function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

describe('admin routes', () => {
  const db = useTestDatabase();
  const clock = new ManualClock(Date.now());
  const logs = captureLogs();
  let api: RunningServer;
  let admin: ApiClient;
  let anonymous: ApiClient;

  before(async () => {
    api = await startTestApi(db.url, { env: { ADMIN_API_KEY: ADMIN_KEY }, clock, logger: logs.logger });
    admin = apiClient(api.url);
    anonymous = apiClient(api.url);
  });
  after(async () => {
    await api.stop();
  });

  const asAdmin = { headers: { 'X-Admin-Key': ADMIN_KEY } };
  const create = (keyName: string, environment = 'test') => admin.post('/admin/service-keys', { key_name: keyName, environment }, asAdmin);
  const rotate = (body: Record<string, unknown>) => admin.post('/admin/rotate-key', body, asAdmin);
  const revoke = (keyName: string) => admin.post(`/admin/service-keys/${keyName}/revoke`, undefined, asAdmin);
  const list = async () => ((await admin.get('/admin/service-keys', asAdmin)).data as { keys: Record<string, unknown>[] }).keys;
  const works = async (key: string) => (await apiClient(api.url, { key }).execute('get-stats', 'u')).status === 200;
  const keyCount = async (keyName: string) => {
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from service_api_keys where key_name = ${keyName}`;
    return row?.n ?? -1;
  };

  describe('the admin key', () => {
    it('a missing or wrong X-Admin-Key is a 401 and changes nothing', async () => {
      const keyName = uniqueName('refused');
      const wrongKeys = [undefined, '', ADMIN_KEY.slice(0, -1), `${ADMIN_KEY}x`, ADMIN_KEY.toUpperCase(), generateServiceKey('test')];
      for (const wrong of wrongKeys) {
        const headers: Record<string, string> = wrong === undefined ? {} : { 'X-Admin-Key': wrong };
        const attempts = [
          anonymous.post('/admin/service-keys', { key_name: keyName, environment: 'test' }, { headers }),
          anonymous.post('/admin/rotate-key', { key_name: keyName }, { headers }),
          anonymous.post(`/admin/service-keys/${keyName}/revoke`, undefined, { headers }),
          anonymous.get('/admin/service-keys', { headers }),
        ];
        for (const response of await Promise.all(attempts)) {
          expectError(response, 401, 'unauthorized');
          expect(response.headers['www-authenticate']).to.equal('ApiKey');
        }
      }
      expect(await keyCount(keyName)).to.equal(0);
    });

    it('a service key is not an admin key', async () => {
      const created = await create(uniqueName('svc'));
      const key = created.data.service_key as string;
      expectError(await anonymous.get('/admin/service-keys', { key }), 401, 'unauthorized');
    });
  });

  describe('create', () => {
    it('issues a key once (201), stores only its hash, and the key works at once', async () => {
      const keyName = uniqueName('cat-house');
      const response = await create(keyName, 'test');
      expect(response.status, response.text).to.equal(201);
      expect(Object.keys(response.data)).to.deep.equal(['id', 'key_name', 'service_key', 'created_at']);
      const key = response.data.service_key as string;
      expect(key).to.match(/^sk_test_[0-9a-f]{64}$/);
      expect(response.data.key_name).to.equal(keyName);
      expect(response.data.created_at).to.match(/Z$/);
      const rows = await db.sql`select * from service_api_keys where key_name = ${keyName}`;
      expect(rows).to.have.length(1);
      expect(JSON.stringify(rows)).not.to.include(key.slice(8));
      expect(Buffer.compare(rows[0]?.key_hash as Buffer, hashServiceKey(key))).to.equal(0);
      expect(await works(key)).to.equal(true);
    });

    it('refuses a name that has an active key (400, as the earlier service), and allows one whose keys were all revoked', async () => {
      const keyName = uniqueName('dup');
      expect((await create(keyName)).status).to.equal(201);
      expectError(await create(keyName), 400, 'conflict');
      expect(await keyCount(keyName)).to.equal(1);
      expect((await revoke(keyName)).status).to.equal(200);
      expect((await create(keyName)).status).to.equal(201);
    });

    it('validates the name (1..100 of a-z 0-9 -), the environment, and refuses unknown fields (422)', async () => {
      for (const body of [
        { key_name: 'Cat-House', environment: 'test' },
        { key_name: 'cat house', environment: 'test' },
        { key_name: '', environment: 'test' },
        { key_name: 'a'.repeat(101), environment: 'test' },
        { key_name: 'ok-name', environment: 'staging' },
        { key_name: 'ok-name' },
        { key_name: 'ok-name', environment: 'test', service_key: 'sk_test_mine' },
      ]) {
        expectError(await admin.post('/admin/service-keys', body, asAdmin), 422, 'validation_failed');
      }
      expect((await create('a'.repeat(100))).status).to.equal(201);
      expect(await keyCount('ok-name')).to.equal(0);
    });
  });

  describe('list', () => {
    it('lists every key with its status, without secrets or hashes', async () => {
      const keyName = uniqueName('listed');
      const key = (await create(keyName, 'dev')).data.service_key as string;
      const keys = await list();
      const entry = keys.find((item) => item.key_name === keyName);
      expect(entry).to.deep.equal({
        key_name: keyName,
        environment: 'dev',
        display_prefix: key.slice(0, 'sk_dev_'.length + 4),
        status: 'active',
        managed: false,
        created_at: entry?.created_at,
        expires_at: null,
        last_used_at: null,
      });
      const text = JSON.stringify(keys);
      expect(text).not.to.include(key.slice(12));
      expect(text).not.to.match(/hash/);
    });
  });

  describe('rotate', () => {
    it('issues a new key; the old one works until its grace period (default 7 days) ends', async () => {
      const keyName = uniqueName('mobile');
      const old = (await create(keyName)).data.service_key as string;
      expect(await works(old)).to.equal(true);
      const response = await rotate({ key_name: keyName });
      expect(response.status, response.text).to.equal(200);
      expect(Object.keys(response.data)).to.deep.equal(['new_key', 'old_key_expires_at']);
      const fresh = response.data.new_key as string;
      expect(response.data.old_key_expires_at).to.equal(new Date(clock.now() + DEFAULT_ROTATION_GRACE_MS).toISOString());
      expect(await works(fresh)).to.equal(true);
      expect(await works(old)).to.equal(true);
      const statuses = (await list()).filter((item) => item.key_name === keyName).map((item) => item.status);
      expect(statuses.sort()).to.deep.equal(['active', 'grace']);
      clock.advance(DEFAULT_ROTATION_GRACE_MS);
      expect(await works(old)).to.equal(false);
      expect(await works(fresh)).to.equal(true);
    });

    it('takes a grace period in seconds', async () => {
      const keyName = uniqueName('short-grace');
      const old = (await create(keyName)).data.service_key as string;
      const response = await rotate({ key_name: keyName, grace_seconds: 60 });
      expect(response.data.old_key_expires_at).to.equal(new Date(clock.now() + 60_000).toISOString());
      clock.advance(60_000);
      expect(await works(old)).to.equal(false);
      expectError(await rotate({ key_name: keyName, grace_seconds: -1 }), 422, 'validation_failed');
      expectError(await rotate({ key_name: keyName, grace_seconds: 30 * 24 * 60 * 60 + 1 }), 422, 'validation_failed');
      expectError(await rotate({ key_name: keyName, grace_seconds: 1.5 }), 422, 'validation_failed');
    });

    it('a name with no active key is a 404; a deployment-managed key is a 409', async () => {
      expectError(await rotate({ key_name: uniqueName('nobody') }), 404, 'not_found');
      const managedName = uniqueName('managed');
      const managed = generateServiceKey('prod');
      await insertKey(db.sql, { keyName: managedName, environment: 'prod', hash: hashServiceKey(managed), displayPrefix: displayPrefix(managed), origin: 'managed' });
      const response = await rotate({ key_name: managedName });
      expectError(response, 409, 'conflict');
      expect(response.error?.message).to.match(/secret/);
      expectError(await revoke(managedName), 409, 'conflict');
      expect(await keyCount(managedName)).to.equal(1);
    });
  });

  describe('revoke', () => {
    it('stops every key of the name (grace period included) within 30 s and says how many', async () => {
      const keyName = uniqueName('gone');
      const old = (await create(keyName)).data.service_key as string;
      const fresh = (await rotate({ key_name: keyName })).data.new_key as string;
      expect(await works(old)).to.equal(true);
      expect(await works(fresh)).to.equal(true);
      const response = await revoke(keyName);
      expect(response.status, response.text).to.equal(200);
      expect(response.data).to.deep.equal({ key_name: keyName, revoked: 2 });
      clock.advance(KEY_CACHE_TTL_MS);
      expect(await works(old)).to.equal(false);
      expect(await works(fresh)).to.equal(false);
      expectError(await revoke(keyName), 404, 'not_found');
    });

    it('a malformed name in the path is a 422; an unknown one a 404', async () => {
      expectError(await revoke('Not_A_Name'), 422, 'validation_failed');
      expectError(await revoke(uniqueName('unknown')), 404, 'not_found');
    });
  });

  it('writes one audit line per action (action, key name, request id), never a key', async () => {
    const keyName = uniqueName('audited');
    const before = logs.lines.length;
    const key = (await admin.post('/admin/service-keys', { key_name: keyName, environment: 'test' }, { headers: { ...asAdmin.headers, 'X-Request-Id': 'audit-create' } })).data
      .service_key as string;
    const rotated = (await admin.post('/admin/rotate-key', { key_name: keyName }, { headers: { ...asAdmin.headers, 'X-Request-Id': 'audit-rotate' } })).data
      .new_key as string;
    await admin.post(`/admin/service-keys/${keyName}/revoke`, undefined, { headers: { ...asAdmin.headers, 'X-Request-Id': 'audit-revoke' } });
    const audits = logs.lines.slice(before).filter((line) => line.event === AUDIT_EVENT);
    expect(audits.map((line) => [line.request_id, line.action, line.key_name])).to.deep.equal([
      ['audit-create', 'create', keyName],
      ['audit-rotate', 'rotate', keyName],
      ['audit-revoke', 'revoke', keyName],
    ]);
    for (const line of audits) expect(line.actor).to.equal(`request:${line.request_id as string}`);
    const text = logs.text();
    expect(text).not.to.include(key.slice(8));
    expect(text).not.to.include(rotated.slice(8));
    expect(text).not.to.include(ADMIN_KEY);
    expect(logs.lines.find((line) => line.request_id === 'audit-create' && line.msg === 'request')).to.include({ key_name: '(admin)', status: 201 });
  });

  it('audits a refused action as well (404, 409): action, key name, request id and the reason', async () => {
    const keyName = uniqueName('refused');
    const before = logs.lines.length;
    const refused = await admin.post('/admin/rotate-key', { key_name: keyName }, { headers: { ...asAdmin.headers, 'X-Request-Id': 'audit-refused' } });
    expectError(refused, 404, 'not_found');
    const audits = logs.lines.slice(before).filter((line) => line.event === AUDIT_EVENT);
    expect(audits).to.have.length(1);
    expect(audits[0]).to.deep.include({
      action: 'rotate',
      key_name: keyName,
      actor: 'request:audit-refused',
      request_id: 'audit-refused',
      detail: { outcome: 'refused', reason: 'no_active_key' },
    });
  });
});

describe('admin routes without ADMIN_API_KEY', () => {
  const db = useTestDatabase();
  let api: RunningServer;

  before(async () => {
    api = await startTestApi(db.url);
  });
  after(async () => {
    await api.stop();
  });

  it('do not exist: 404 for every one of them, whatever the key', async () => {
    const client = apiClient(api.url);
    for (const [method, path] of [
      ['POST', '/admin/service-keys'],
      ['GET', '/admin/service-keys'],
      ['POST', '/admin/rotate-key'],
      ['POST', '/admin/service-keys/x/revoke'],
    ] as const) {
      const response = await client.request(method, path, { headers: { 'X-Admin-Key': ADMIN_KEY }, body: { key_name: 'x', environment: 'test' } });
      expectError(response, 404, 'not_found');
    }
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from service_api_keys`;
    expect(row?.n).to.equal(0);
  });
});
