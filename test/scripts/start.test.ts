import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { hashServiceKey } from '../../api/src/keys/format.js';
import { freePort } from '../../scripts/lib/embedded-postgres.js';
import { waitFor } from '../../scripts/lib/wait.js';
import { useTestDatabase } from '../support/databases.js';

interface StartedProcess {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  exited: Promise<number | null>;
}

/** Runs `scripts/start.ts` (what `npm start` runs) with the given environment. */
function start(env: NodeJS.ProcessEnv): StartedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForBanner(started: StartedProcess): Promise<string> {
  await waitFor(() => /Dev service key: +sk_dev_/.test(started.output()) || started.child.exitCode !== null, {
    timeoutMs: 60_000,
    what: 'the start banner',
  });
  const key = /Dev service key: +(sk_dev_[0-9a-f]+)/.exec(started.output())?.[1];
  expect(key, started.output()).to.be.a('string');
  return key as string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start (scripts/start.ts)', function () {
  // Initialising a PostgreSQL data directory takes a few seconds on a busy machine.
  this.timeout(120_000);
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'chapi-start-test-'));
    // As root the embedded server runs as `postgres`, which must be able to enter it.
    await chmod(dataDir, 0o755);
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts an embedded PostgreSQL, migrates, prints a dev key, and Ctrl-C stops both', async () => {
    const port = await freePort();
    const env = { CHAPI_DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(await freePort()), DATABASE_URL: '' };
    const first = start(env);
    const key = await waitForBanner(first);
    expect(first.output()).to.include('applied migrations');
    expect(first.output()).to.include(`http://127.0.0.1:${port}/docs`);
    expect(first.output()).to.match(/curl .*X-API-Key: sk_dev_/);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).to.equal(200);

    const postmasterPid = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    expect(isAlive(postmasterPid)).to.equal(true);
    first.child.kill('SIGINT');
    expect(await first.exited).to.equal(0);
    expect(isAlive(postmasterPid), 'postgres still running after Ctrl-C').to.equal(false);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).to.equal(false);

    // Started again: the same data, so the migrations are already applied and the key still works.
    const second = start(env);
    expect(await waitForBanner(second)).to.equal(key);
    expect(second.output()).to.include('migrations are up to date');
    second.child.kill('SIGTERM');
    expect(await second.exited).to.equal(0);
  });

  describe('with DATABASE_URL set', () => {
    const db = useTestDatabase();

    it('uses that database and starts no PostgreSQL of its own', async () => {
      const port = await freePort();
      const started = start({ CHAPI_DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: db.url });
      const key = await waitForBanner(started);
      expect(started.output()).to.include('using DATABASE_URL');
      expect(started.output()).not.to.include('starting PostgreSQL');
      const rows = await db.sql`select key_name from service_api_keys where key_hash = ${hashServiceKey(key)}`;
      expect(rows).to.have.length(1);
      started.child.kill('SIGINT');
      expect(await started.exited).to.equal(0);
    });
  });
});
