import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { RunningServer } from '../../api/src/server.js';
import { freePort } from '../../scripts/lib/embedded-postgres.js';
import { createTestKey, startTestApi } from '../../api/test/helpers/api.js';
import { useTestDatabase } from '../../api/test/helpers/databases.js';

interface SmokeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `scripts/smoke.ts` (what `npm run smoke` runs) as its own process. */
async function smoke(args: string[], env: Record<string, string | undefined>): Promise<SmokeRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/smoke.ts', ...args], {
    env: { ...process.env, GITHUB_ACTIONS: undefined, SMOKE_BASE_URL: undefined, SMOKE_EXPECT_VERSION: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

/** One request as the stand-in load balancer received it. */
interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** How the stand-in load balancer treats a request: answer it itself, or pass it on. */
interface FrontRules {
  /** An answer of its own (an old task, a broken one); undefined passes the request on. */
  answer?: (request: Received) => { status: number; body: string } | undefined;
  /** Headers to add when passing the request on. */
  addHeaders?: (request: Received) => Record<string, string>;
}

/**
 * A stand-in for the load balancer in front of the real API: every request is passed to the
 * API unless a rule answers it, so the smoke run meets the real contract except where a test
 * makes the deployment misbehave.
 */
async function startFront(apiUrl: string, rules: FrontRules): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const received: Received = { method: incoming.method ?? 'GET', url: incoming.url ?? '/', headers: incoming.headers, body: Buffer.concat(chunks).toString() };
      const own = rules.answer?.(received);
      if (own !== undefined) {
        outgoing.writeHead(own.status, { 'content-type': 'application/json' }).end(own.body);
        return;
      }
      const headers: Record<string, string> = { ...rules.addHeaders?.(received) };
      for (const name of ['x-api-key', 'x-request-id', 'content-type', 'accept']) {
        const value = received.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      void fetch(`${apiUrl}${received.url}`, { method: received.method, headers, body: received.body === '' ? undefined : received.body }).then(
        async (response) => {
          const contentType = response.headers.get('content-type');
          outgoing.writeHead(response.status, contentType === null ? {} : { 'content-type': contentType }).end(await response.text());
        },
        () => outgoing.writeHead(502).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The `/execute` action of a request the front received, if any. */
function actionOf(request: Received): string | undefined {
  if (request.url !== '/execute' || request.body === '') return undefined;
  return (JSON.parse(request.body) as { action?: string }).action;
}

describe('npm run smoke (scripts/smoke.ts)', function () {
  this.timeout(60_000);
  const db = useTestDatabase();
  let api: RunningServer;
  let key: string;

  before(async () => {
    // The production rule applies: only sk_prod_ keys authenticate when NODE_ENV=production.
    api = await startTestApi(db.url, { env: { NODE_ENV: 'production', APP_VERSION: 'abc1234' } });
    key = await createTestKey(db.sql, { name: 'smoke', environment: 'prod' });
  });
  after(async () => {
    await api.stop();
  });

  it('passes against a healthy API, one line per step, and leaves no task behind', async () => {
    const run = await smoke(['--base-url', api.url, '--expect-version', 'abc1234'], { SMOKE_API_KEY: key });
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    for (const name of ['GET /health', 'GET /health/ready', 'POST /execute without a key is refused', 'create-task', 'get-task', 'delete-task', 'get-task after delete is 404']) {
      expect(run.stdout).to.match(new RegExp(`^ok +${name.replace(/[/]/g, '\\/')}: `, 'm'));
    }
    expect(run.stdout).to.include('version abc1234');
    expect(run.stdout).to.match(/smoke test passed: 7 steps/);
    const userId = /throwaway user (smoke-\S+)/.exec(run.stdout)?.[1];
    expect(userId).to.be.a('string');
    const rows = await db.sql`select id from tasks where user_id = ${userId as string}`;
    expect(rows).to.have.length(0);
    // The key never appears in the output.
    expect(run.stdout + run.stderr).not.to.include(key);
  });

  it('fails on the first deviation, naming the step, and exits 1: a key the API refuses', async () => {
    const run = await smoke(['--base-url', api.url], { SMOKE_API_KEY: 'sk_prod_not-a-real-key-0000000000000000000000000000' });
    expect(run.code).to.equal(1);
    expect(run.stdout).to.match(/^FAIL +create-task: create-task: expected HTTP 200, got 401/m);
    expect(run.stdout).not.to.match(/^ok +get-task/m);
    expect(run.stderr).to.include('smoke test FAILED at "create-task"');
  });

  it('fails when /health reports another version than the deployed commit', async () => {
    const run = await smoke(['--base-url', api.url, '--expect-version', 'f00dcafe', '--wait-seconds', '0'], {
      SMOKE_API_KEY: key,
    });
    expect(run.code).to.equal(1);
    expect(run.stdout).to.match(/^FAIL +GET \/health: version is abc1234, expected f00dcafe/m);
  });

  it('raises a GitHub Actions error annotation on failure when run there', async () => {
    const run = await smoke(['--base-url', api.url, '--expect-version', 'f00dcafe', '--wait-seconds', '0'], {
      SMOKE_API_KEY: key,
      GITHUB_ACTIONS: 'true',
    });
    expect(run.code).to.equal(1);
    expect(run.stdout).to.match(/^::error title=Smoke test failed: GET \/health::version is abc1234/m);
  });

  it('fails clearly when nothing answers at the base URL', async () => {
    const port = await freePort();
    const run = await smoke(['--base-url', `http://127.0.0.1:${port}`], { SMOKE_API_KEY: key });
    expect(run.code).to.equal(1);
    expect(run.stdout).to.match(/^FAIL +GET \/health: GET \/health got no response/m);
  });

  describe('against a server that answers wrongly', () => {
    let fake: Server;
    let fakeUrl: string;
    // A stand-in for a broken deployment: health is fine, /execute answers 500 with HTML.
    before(async () => {
      fake = createServer((request, response) => {
        if (request.url === '/health') return void response.end(JSON.stringify({ status: 'ok', version: 'x', uptime_s: 1 }));
        if (request.url === '/health/ready') return void response.end(JSON.stringify({ status: 'ok', database: 'connected' }));
        response.statusCode = request.headers['x-api-key'] === undefined ? 401 : 500;
        response.end('<html>Internal Server Error</html>');
      });
      await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
      fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    });
    after(async () => {
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    });

    it('reports the status and body it got instead of the contract', async () => {
      const run = await smoke(['--base-url', fakeUrl], { SMOKE_API_KEY: key });
      expect(run.code).to.equal(1);
      expect(run.stdout).to.match(/^FAIL +create-task: create-task: expected HTTP 200, got 500 "<html>Internal Server Error<\/html>"/m);
    });
  });

  describe('behind a stand-in load balancer', () => {
    let front: { url: string; close: () => Promise<void> } | undefined;
    afterEach(async () => {
      await front?.close();
      front = undefined;
    });

    it('waits while the load balancer still answers from the old version, then checks the new one', async () => {
      // The first /health comes from an old task still draining; every later one from the new.
      let healthChecks = 0;
      front = await startFront(api.url, {
        answer: (request) => {
          if (request.url !== '/health') return undefined;
          healthChecks += 1;
          return healthChecks === 1 ? { status: 200, body: JSON.stringify({ status: 'ok', version: 'old0000', uptime_s: 86_400 }) } : undefined;
        },
      });
      const run = await smoke(['--base-url', front.url, '--expect-version', 'abc1234', '--wait-seconds', '30'], { SMOKE_API_KEY: key });
      expect(run.code, run.stdout + run.stderr).to.equal(0);
      expect(healthChecks).to.be.at.least(2);
      expect(run.stdout).to.match(/^ok +GET \/health: status ok, version abc1234$/m);
      expect(run.stdout).to.match(/smoke test passed: 7 steps/);
    });

    it('deletes its task when a later step fails, and says so', async () => {
      front = await startFront(api.url, {
        answer: (request) => (actionOf(request) === 'get-task' ? { status: 500, body: '{"broken":true}' } : undefined),
      });
      const run = await smoke(['--base-url', front.url], { SMOKE_API_KEY: key });
      expect(run.code).to.equal(1);
      expect(run.stdout).to.match(/^FAIL +get-task: get-task: expected HTTP 200, got 500/m);
      expect(run.stdout).to.match(/^ok +cleanup: delete the smoke task: task [0-9a-f-]{36} deleted$/m);
      const userId = /throwaway user (smoke-\S+)/.exec(run.stdout)?.[1];
      expect(userId).to.be.a('string');
      expect(await db.sql`select id from tasks where user_id = ${userId as string}`).to.have.length(0);
    });

    it('fails when /execute accepts a request without a key', async () => {
      // A deployment that lets keyless requests through: here the front supplies a valid key.
      front = await startFront(api.url, {
        addHeaders: (request): Record<string, string> => (request.headers['x-api-key'] === undefined ? { 'x-api-key': key } : {}),
      });
      const run = await smoke(['--base-url', front.url], { SMOKE_API_KEY: key });
      expect(run.code).to.equal(1);
      expect(run.stdout).to.match(/^FAIL +POST \/execute without a key is refused: POST \/execute without X-API-Key: expected HTTP 401, got 200/m);
      expect(run.stdout).not.to.match(/^ok +create-task/m);
    });
  });

  it('refuses to run without a key or a base URL (exit 2, usage)', async () => {
    const noKey = await smoke(['--base-url', api.url], { SMOKE_API_KEY: undefined });
    expect(noKey.code).to.equal(2);
    expect(noKey.stderr).to.include('SMOKE_API_KEY is not set');
    const noUrl = await smoke([], { SMOKE_API_KEY: key });
    expect(noUrl.code).to.equal(2);
    expect(noUrl.stderr).to.include('--base-url (or SMOKE_BASE_URL) is required');
    const badFlag = await smoke(['--base-url', api.url, '--api-key', key], { SMOKE_API_KEY: key });
    expect(badFlag.code).to.equal(2);
  });
});
