/**
 * Rate limits before any database work (docs/api.md: 429 `rate_limited` with
 * `Retry-After`): per key (`RATE_LIMIT_KEY_RPS`, bursts of twice that) and per client address
 * on failed authentications (`RATE_LIMIT_AUTH_FAILURES_PER_MIN`). "Before any database work"
 * is shown by cutting the database: a limited request still gets its 429, never a 503.
 * The client address behind the ALB is the last `X-Forwarded-For` hop, which the ALB appends
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html).
 */
import { expect } from 'chai';
import { ManualClock } from '../src/clock.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { generateServiceKey } from '../src/keys/format.js';
import type { RunningServer } from '../src/server.js';
import { apiClient, request, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { useApiBehindProxy } from './helpers/resilience.js';

/** 429 `rate_limited` with a whole-seconds Retry-After, in whichever transport's error shape. */
function expectRateLimited(response: ApiResponse): void {
  expect(response.status, response.text).to.equal(429);
  expect(response.headers['retry-after']).to.match(/^[1-9]\d*$/);
  const body = response.json as { error?: unknown; error_code?: unknown };
  const code = typeof body.error === 'object' && body.error !== null ? (body.error as { code?: unknown }).code : body.error_code;
  expect(code, response.text).to.equal('rate_limited');
  expect(response.text).not.to.match(/sk_(dev|test|prod)_/);
}

const ADMIN_KEY = 'admin-key-for-rate-limit-tests-0123456789';
const KEY_RPS = 5;
const FAILURES_PER_MIN = 6;

describe('rate limits', () => {
  const db = useTestDatabase();
  const clock = new ManualClock(Date.now());
  const setup = useApiBehindProxy(
    db,
    {
      RATE_LIMIT_KEY_RPS: String(KEY_RPS),
      RATE_LIMIT_AUTH_FAILURES_PER_MIN: String(FAILURES_PER_MIN),
      ADMIN_API_KEY: ADMIN_KEY,
    },
    { clock },
  );
  afterEach(() => {
    // Every test starts with full buckets.
    clock.advance(120_000);
  });

  /** A request from `address` as the ALB forwards it (`claimed`: what the client itself put first). */
  const fromAddress = (address: string, key: string | null, claimed?: string) =>
    request(setup.api.url, 'POST', '/execute', {
      key,
      headers: { 'X-Forwarded-For': claimed === undefined ? address : `${claimed}, ${address}` },
      body: { action: 'get-stats', user_id: 'u' },
    });

  describe('per key (RATE_LIMIT_KEY_RPS)', () => {
    it('admits a burst of twice the rate, then answers 429 with Retry-After; other keys are unaffected', async () => {
      const key = await createTestKey(db.sql);
      const other = await createTestKey(db.sql);
      const client = apiClient(setup.api.url, { key });
      const statuses: number[] = [];
      for (let index = 0; index < KEY_RPS * 2; index += 1) statuses.push((await client.execute('get-stats', 'u')).status);
      expect(statuses).to.deep.equal(Array<number>(KEY_RPS * 2).fill(200));
      expectRateLimited(await client.execute('get-stats', 'u'));
      expectRateLimited(await client.get('/v1/users/u/stats'));
      expect((await apiClient(setup.api.url, { key: other }).execute('get-stats', 'u')).status).to.equal(200);
      // One second refills the rate.
      clock.advance(1_000);
      for (let index = 0; index < KEY_RPS; index += 1) expect((await client.execute('get-stats', 'u')).status).to.equal(200);
      expectRateLimited(await client.execute('get-stats', 'u'));
    });

    it('is checked before any database work: a limited unknown key gets 429 with the database cut, not 503', async () => {
      const unknown = generateServiceKey('test');
      const client = apiClient(setup.api.url, { key: unknown });
      for (let index = 0; index < KEY_RPS * 2; index += 1) await client.execute('get-stats', 'u');
      setup.proxy.cut();
      expectRateLimited(await client.execute('get-stats', 'u'));
    });
  });

  describe('failed authentications per client address (RATE_LIMIT_AUTH_FAILURES_PER_MIN)', () => {
    it('after the budget, a source gets 429 before any database work; another source does not', async () => {
      for (let index = 0; index < FAILURES_PER_MIN; index += 1) {
        expect((await fromAddress('203.0.113.7', generateServiceKey('test'))).status).to.equal(401);
      }
      setup.proxy.cut();
      expectRateLimited(await fromAddress('203.0.113.7', generateServiceKey('test')));
      setup.proxy.restore();
      expect((await fromAddress('203.0.113.8', generateServiceKey('test'))).status).to.equal(401);
    });

    it('counts by the hop the ALB appended: a client cannot escape by writing its own X-Forwarded-For', async () => {
      for (let index = 0; index < FAILURES_PER_MIN; index += 1) {
        await fromAddress('198.51.100.20', generateServiceKey('test'), `10.0.0.${index}`);
      }
      expectRateLimited(await fromAddress('198.51.100.20', generateServiceKey('test'), '192.0.2.99'));
      expectRateLimited(await fromAddress('198.51.100.20', null, '198.51.100.21'));
    });

    it('counts an IPv6 client by its /64 (a fresh address per request does not escape)', async () => {
      for (let index = 0; index < FAILURES_PER_MIN; index += 1) {
        await fromAddress(`2001:db8:1:2::${(index + 1).toString(16)}`, generateServiceKey('test'));
      }
      expectRateLimited(await fromAddress('2001:db8:1:2:ffff::1', generateServiceKey('test')));
      expect((await fromAddress('2001:db8:1:3::1', generateServiceKey('test'))).status).to.equal(401);
    });

    it('still serves a key this process already knows to be valid from that source (no database work)', async () => {
      const key = await createTestKey(db.sql);
      expect((await fromAddress('203.0.113.50', key)).status).to.equal(200);
      for (let index = 0; index < FAILURES_PER_MIN; index += 1) await fromAddress('203.0.113.50', generateServiceKey('test'));
      expectRateLimited(await fromAddress('203.0.113.50', generateServiceKey('test')));
      expect((await fromAddress('203.0.113.50', key)).status).to.equal(200);
    });

    it('refills at the per-minute rate', async () => {
      for (let index = 0; index < FAILURES_PER_MIN; index += 1) await fromAddress('203.0.113.60', generateServiceKey('test'));
      const limited = await fromAddress('203.0.113.60', generateServiceKey('test'));
      expectRateLimited(limited);
      clock.advance(Number(limited.headers['retry-after']) * 1_000);
      expect((await fromAddress('203.0.113.60', generateServiceKey('test'))).status).to.equal(401);
      expectRateLimited(await fromAddress('203.0.113.60', generateServiceKey('test')));
    });

    it('guards the admin key the same way', async () => {
      const admin = (key: string) =>
        request(setup.api.url, 'GET', '/admin/service-keys', { headers: { 'X-Admin-Key': key, 'X-Forwarded-For': '203.0.113.70' } });
      for (let index = 0; index < FAILURES_PER_MIN; index += 1) expect((await admin(`wrong-${index}`)).status).to.equal(401);
      expectRateLimited(await admin('wrong-again'));
      // The right key from that source waits too: the budget is the source's, not the guess's.
      expectRateLimited(await admin(ADMIN_KEY));
    });
  });
});

describe('rate limits are off with 0, the per-key default', () => {
  const db = useTestDatabase();
  let api: RunningServer;

  before(async () => {
    api = await startTestApi(db.url, { env: { RATE_LIMIT_AUTH_FAILURES_PER_MIN: '0' } });
  });
  after(async () => {
    await api.stop();
  });

  it('answers every request of a burst and every failed authentication as usual', async () => {
    const client = apiClient(api.url, { key: await createTestKey(db.sql) });
    const statuses = await Promise.all(Array.from({ length: 40 }, () => client.execute('get-stats', 'u').then((response) => response.status)));
    expect(new Set(statuses)).to.deep.equal(new Set([200]));
    const failures = [];
    for (let index = 0; index < 40; index += 1) failures.push((await apiClient(api.url, { key: generateServiceKey('test') }).execute('get-stats', 'u')).status);
    expect(new Set(failures)).to.deep.equal(new Set([401]));
  });
});

describe('RATE_LIMIT_* configuration', () => {
  const base = { DATABASE_URL: 'postgres://u:p@localhost:5432/db' };

  it('defaults to no per-key limit and 300 failed authentications a minute', () => {
    expect(loadConfig(base).rateLimit).to.deep.equal({ keyRps: 0, authFailuresPerMin: 300 });
  });

  it('takes whole numbers, 0 turning a limit off', () => {
    expect(loadConfig({ ...base, RATE_LIMIT_KEY_RPS: '200', RATE_LIMIT_AUTH_FAILURES_PER_MIN: '0' }).rateLimit).to.deep.equal({
      keyRps: 200,
      authFailuresPerMin: 0,
    });
  });

  it('refuses anything else, naming the variable', () => {
    for (const [name, value] of [
      ['RATE_LIMIT_KEY_RPS', '-1'],
      ['RATE_LIMIT_KEY_RPS', '1.5'],
      ['RATE_LIMIT_AUTH_FAILURES_PER_MIN', 'lots'],
    ] as const) {
      expect(() => loadConfig({ ...base, [name]: value })).to.throw(ConfigError, name);
    }
  });
});
