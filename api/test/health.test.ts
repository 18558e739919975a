import { expect } from 'chai';
import type { RunningServer } from '../src/server.js';
import { startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

describe('health', () => {
  const db = useTestDatabase();
  let api: RunningServer;
  // Every database connection of the API goes through this proxy, so a test can cut or hold it.
  let proxy: TcpProxy;

  before(async () => {
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    api = await startTestApi(proxy.databaseUrl(db.url), { env: { APP_VERSION: 'abc1234' } });
  });
  after(async () => {
    await api.stop();
    await proxy.close();
  });
  afterEach(() => {
    proxy.restore();
  });

  const health = () => fetch(`${api.url}/health`);

  it('GET /health answers 200 with the version and uptime', async () => {
    const response = await health();
    expect(response.status).to.equal(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).to.include({ status: 'ok', version: 'abc1234' });
    expect(body.uptime_s).to.be.a('number').and.at.least(0);
  });

  it('GET /health never touches the database: 200 with it cut, and nothing sent while it is held', async () => {
    proxy.cut();
    // The cut does reach the API's database: readiness says so.
    expect((await fetch(`${api.url}/health/ready`)).status).to.equal(503);
    const cut = await health();
    expect(cut.status).to.equal(200);
    expect(await cut.json()).to.include({ status: 'ok', version: 'abc1234' });
    proxy.restore();
    // A query that swallowed its error would still send bytes: held, they show up here.
    proxy.hold();
    expect((await health()).status).to.equal(200);
    expect(proxy.held, 'bytes sent towards the database').to.equal(0);
  });

  it('GET /health/ready answers 200 with database connected', async () => {
    const response = await fetch(`${api.url}/health/ready`);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ status: 'ok', database: 'connected' });
  });

  it('sets X-Request-Id: echoes a sane one, replaces an unsafe one', async () => {
    const echoed = await fetch(`${api.url}/health`, { headers: { 'X-Request-Id': 'req-1.2:3_4' } });
    expect(echoed.headers.get('x-request-id')).to.equal('req-1.2:3_4');
    const replaced = await fetch(`${api.url}/health`, { headers: { 'X-Request-Id': 'bad id<script>' } });
    expect(replaced.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  });

  it('answers an unknown route with the 404 envelope', async () => {
    const response = await fetch(`${api.url}/nope`);
    expect(response.status).to.equal(404);
    const body = (await response.json()) as { success: boolean; error: { code: string } };
    expect(body.success).to.equal(false);
    expect(body.error.code).to.equal('not_found');
  });
});
