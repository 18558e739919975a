/**
 * The service-key cache under abuse and after a key action (issue 13): unknown keys never push
 * known ones out, and a revocation or rotation through `/admin` applies on that process at
 * once instead of when its cache entry expires (30 s).
 */
import { expect } from 'chai';
import { ManualClock } from '../src/clock.js';
import { generateServiceKey } from '../src/keys/format.js';
import { apiClient } from './helpers/api-client.js';
import { createTestKey } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { useApiBehindProxy } from './helpers/resilience.js';

const ADMIN_KEY = 'admin-key-for-auth-cache-tests-0123456789';
const CACHE_MAX = { known: 20, unknown: 20 };

describe('the service-key cache', function () {
  this.timeout(60_000);
  const db = useTestDatabase();
  const clock = new ManualClock(Date.now());
  const setup = useApiBehindProxy(
    db,
    // The flood below is one client's: only the cache is under test here.
    { RATE_LIMIT_AUTH_FAILURES_PER_MIN: '0', ADMIN_API_KEY: ADMIN_KEY },
    // Small caches (the production sizes are 10,000 each), so that a flood overflows them.
    { clock, keyCacheMax: CACHE_MAX },
  );

  it('keeps a known key through a flood of more distinct unknown keys than it has room for', async () => {
    const known = apiClient(setup.api.url, { key: await createTestKey(db.sql) });
    expect((await known.execute('get-stats', 'u')).status).to.equal(200);
    const flood = (CACHE_MAX.known + CACHE_MAX.unknown) * 3;
    const batch = 50;
    for (let sent = 0; sent < flood; sent += batch) {
      const statuses = await Promise.all(
        Array.from({ length: Math.min(batch, flood - sent) }, () =>
          apiClient(setup.api.url, { key: generateServiceKey('test') })
            .execute('get-stats', 'u')
            .then((response) => response.status),
        ),
      );
      expect(new Set(statuses)).to.deep.equal(new Set([401]));
    }
    // Served from memory (a 422 follows the key check), or it would need the database: 503.
    setup.proxy.cut();
    const response = await known.get('/v1/users/u/tasks/not-a-uuid');
    expect(response.status, response.text).to.equal(422);
  });

  describe('after a key action through /admin on this process', () => {
    const asAdmin = { headers: { 'X-Admin-Key': ADMIN_KEY } };

    it('a revoked key stops at once, though this process had it cached', async () => {
      const keyName = `revoked-${Date.now()}`;
      const client = apiClient(setup.api.url, { key: await createTestKey(db.sql, { name: keyName }) });
      expect((await client.execute('get-stats', 'u')).status).to.equal(200);
      const revoked = await apiClient(setup.api.url).post(`/admin/service-keys/${keyName}/revoke`, undefined, asAdmin);
      expect(revoked.status, revoked.text).to.equal(200);
      expect((await client.execute('get-stats', 'u')).status).to.equal(401);
    });

    it('a key rotated without a grace period stops at once', async () => {
      const keyName = `rotated-${Date.now()}`;
      const client = apiClient(setup.api.url, { key: await createTestKey(db.sql, { name: keyName }) });
      expect((await client.execute('get-stats', 'u')).status).to.equal(200);
      const rotated = await apiClient(setup.api.url).post('/admin/rotate-key', { key_name: keyName, grace_seconds: 0 }, asAdmin);
      expect(rotated.status, rotated.text).to.equal(200);
      expect((await client.execute('get-stats', 'u')).status).to.equal(401);
    });
  });
});
