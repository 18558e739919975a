/**
 * CORS (docs/api.md, "CORS"): only listed origins get CORS headers, a preflight
 * needs no key, the contract's headers are allowed, error responses keep the headers.
 */
import { expect } from 'chai';
import type { RunningServer } from '../src/server.js';
import { request } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';

const ALLOWED = 'https://cathouse.example';
const OTHER = 'https://evil.example';

describe('CORS', () => {
  const db = useTestDatabase();
  let api: RunningServer;

  before(async () => {
    api = await startTestApi(db.url, { env: { CORS_ORIGINS: `${ALLOWED}, https://mobile.example` } });
  });
  after(async () => {
    await api.stop();
  });

  const preflight = (origin: string, path = '/execute') =>
    request(api.url, 'OPTIONS', path, {
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-api-key, content-type' },
    });

  it('answers a preflight from a listed origin without a key, allowing the contract\'s headers', async () => {
    const response = await preflight(ALLOWED);
    expect(response.status).to.equal(204);
    expect(response.headers['access-control-allow-origin']).to.equal(ALLOWED);
    const allowed = String(response.headers['access-control-allow-headers']).toLowerCase().split(',');
    expect(allowed).to.include.members(['x-api-key', 'x-service-key', 'content-type', 'idempotency-key']);
    expect(String(response.headers['access-control-allow-methods'])).to.include('PATCH');
    expect(response.headers['access-control-max-age']).to.equal('600');
    expect(response.headers.vary).to.include('Origin');
  });

  it('gives an unlisted origin no CORS headers, on a preflight or a request', async () => {
    const denied = await preflight(OTHER);
    expect(denied.headers['access-control-allow-origin']).to.equal(undefined);
    expect(denied.headers['access-control-allow-headers']).to.equal(undefined);
    const key = await createTestKey(db.sql);
    const response = await request(api.url, 'POST', '/execute', { key, headers: { Origin: OTHER }, body: { action: 'get-stats', user_id: 'u' } });
    expect(response.status).to.equal(200);
    expect(response.headers['access-control-allow-origin']).to.equal(undefined);
    // An origin is matched exactly: no prefix, no other scheme, no trailing slash.
    for (const near of [`${ALLOWED}/`, 'http://cathouse.example', `${ALLOWED}.evil.example`, 'null']) {
      expect((await preflight(near)).headers['access-control-allow-origin'], near).to.equal(undefined);
    }
  });

  it('a listed origin gets CORS headers on success and on errors, with readable response headers', async () => {
    const key = await createTestKey(db.sql);
    const ok = await request(api.url, 'POST', '/execute', { key, headers: { Origin: ALLOWED }, body: { action: 'get-stats', user_id: 'u' } });
    expect(ok.headers['access-control-allow-origin']).to.equal(ALLOWED);
    expect(String(ok.headers['access-control-expose-headers'])).to.include('X-Request-Id');
    const unauthorized = await request(api.url, 'POST', '/execute', { headers: { Origin: ALLOWED }, body: {} });
    expect(unauthorized.status).to.equal(401);
    expect(unauthorized.headers['access-control-allow-origin']).to.equal(ALLOWED);
    const notFound = await request(api.url, 'GET', '/nope', { headers: { Origin: 'https://mobile.example' } });
    expect(notFound.status).to.equal(404);
    expect(notFound.headers['access-control-allow-origin']).to.equal('https://mobile.example');
  });

  it('without CORS_ORIGINS nobody gets CORS headers', async () => {
    const bare = await startTestApi(db.url);
    try {
      const response = await request(bare.url, 'OPTIONS', '/execute', { headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'POST' } });
      expect(response.headers['access-control-allow-origin']).to.equal(undefined);
    } finally {
      await bare.stop();
    }
  });
});
