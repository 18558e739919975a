import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { hashServiceKey } from '../../api/src/keys/format.js';
import { freePort } from '../../scripts/lib/embedded-postgres.js';
import { waitFor } from '../../api/test/helpers/wait.js';
import { useTestDatabase } from '../../api/test/helpers/databases.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface StartedProcess {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  exited: Promise<number | null>;
  /** Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group. */
  ctrlC(): void;
}

/**
 * `npm start`, typed in `cwd` (the repository unless given), with the given environment. It
 * runs in its own process group, as a terminal's foreground job does.
 */
function start(env: NodeJS.ProcessEnv, cwd = ROOT): StartedProcess {
  const child = spawn('npm', ['start'], {
    cwd,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // A process ended by a signal reports 128 + its number, as a shell does.
  const closed = new Promise<number | null>((resolve) =>
    child.once('close', (code, signal) => resolve(code ?? (signal === null ? null : 128 + constants.signals[signal]))),
  );
  // Settles once every process of the job has ended (npm may end before the script it ran).
  const exited = closed.then(async (code) => {
    await waitFor(() => !groupAlive(child.pid as number), { timeoutMs: 60_000, what: 'every process of npm start to end' });
    return code;
  });
  const ctrlC = (): void => {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGINT');
  };
  return { child, output: () => output, exited, ctrlC };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What a shell reports after Ctrl-C of `npm start`: 0 from the script, or 130 (SIGINT) from npm's own shell. */
const CTRL_C_EXIT = [0, 130];

async function waitForBanner(started: StartedProcess): Promise<string> {
  await waitFor(() => /Dev service key: +sk_dev_/.test(started.output()) || started.child.exitCode !== null, {
    timeoutMs: 90_000,
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

/** `npm run keys -- list` with the environment `npm start` wrote to `<data>/env`, as its banner says. */
async function keysListWith(envFile: string): Promise<{ code: number | null; stdout: string }> {
  const vars = Object.fromEntries(
    (await readFile(envFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const child = spawn('npm', ['run', '--silent', 'keys', '--', 'list'], { cwd: ROOT, env: { ...process.env, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout };
}

/** Something else listening on `port`, answering every request 200 (as another API would). */
async function occupy(port: number): Promise<Server> {
  const server = createHttpServer((_request, response) => response.end('{"status":"ok"}'));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

describe('npm start (scripts/start.ts)', function () {
  // Initialising a PostgreSQL data directory takes a few seconds on a busy machine.
  this.timeout(240_000);
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'chapi-start-test-'));
    // As root the embedded server runs as `postgres`, which must be able to enter it.
    await chmod(dataDir, 0o755);
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts PostgreSQL, migrates, prints a dev key and the database URL; Ctrl-C stops both; the key survives a port change', async () => {
    const port = await freePort();
    const pgPort = await freePort();
    const env = { CHAPI_DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), DATABASE_URL: '' };
    const first = start(env);
    const key = await waitForBanner(first);
    expect(first.output()).to.include('applied migrations');
    expect(first.output()).to.include(`http://127.0.0.1:${port}/docs`);
    expect(first.output()).to.match(/curl .*X-API-Key: sk_dev_/);
    // An absolute CHAPI_DATA_DIR is printed as it is, never as a ../../ path.
    expect(first.output()).to.include(`data in ${path.join(dataDir, 'pg')})`);
    expect(first.output().match(/issued dev service key/g), 'issued once').to.have.length(1);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).to.equal(200);

    // Where the database is: printed, and in <data>/env for the CLIs while it runs.
    const envFile = path.join(dataDir, 'env');
    const printedUrl = /Database \(local only\): (postgres:\/\/\S+)/.exec(first.output())?.[1];
    expect(printedUrl).to.include(`127.0.0.1:${pgPort}/chapi`);
    expect(await readFile(envFile, 'utf8')).to.equal(`DATABASE_URL=${printedUrl}\n`);
    const listed = await keysListWith(envFile);
    expect(listed.code).to.equal(0);
    expect(listed.stdout).to.match(/^local-dev\s+dev\s/m);

    const postmasterPid = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    expect(isAlive(postmasterPid)).to.equal(true);
    first.ctrlC();
    expect(CTRL_C_EXIT, first.output()).to.include(await first.exited);
    expect(first.output()).to.include('[start] stopped');
    expect(isAlive(postmasterPid), 'postgres still running after Ctrl-C').to.equal(false);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).to.equal(false);
    expect(existsSync(envFile), '<data>/env outlived the server').to.equal(false);

    // Started again with PostgreSQL's port taken: another port, the same data, the same key,
    // and nothing issued.
    const taken = await occupy(pgPort);
    try {
      const second = start(env);
      expect(await waitForBanner(second)).to.equal(key);
      expect(second.output()).to.include(`port ${pgPort} is busy`);
      expect(second.output()).to.include('migrations are up to date');
      expect(second.output()).not.to.include('issued');
      expect(second.output()).to.include('dev service key "local-dev": the one saved in');
      second.ctrlC();
      expect(CTRL_C_EXIT).to.include(await second.exited);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('with the API\'s port taken: says so, starts nothing, prints no banner', async () => {
    const port = await freePort();
    const other = await occupy(port);
    try {
      const started = start({ CHAPI_DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: '' });
      expect(await started.exited).to.equal(1);
      expect(started.output()).to.include(`port ${port} on 127.0.0.1 is already in use`);
      expect(started.output()).not.to.include('chapi is running');
      expect(started.output()).not.to.include('starting PostgreSQL');
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('a bad configuration stops it before anything starts or is issued', async () => {
    const started = start({ CHAPI_DATA_DIR: dataDir, PORT: String(await freePort()), DATABASE_URL: '', LOG_LEVEL: 'loud' });
    expect(await started.exited).to.equal(1);
    expect(started.output()).to.match(/\[start\] configuration error: LOG_LEVEL must be one of/);
    expect(started.output()).not.to.include('starting PostgreSQL');
    expect(started.output()).not.to.include('issued');
  });

  it('notices when PostgreSQL dies, says so, stops the API and exits non-zero', async () => {
    const port = await freePort();
    const started = start({ CHAPI_DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(await freePort()), DATABASE_URL: '' });
    await waitForBanner(started);
    const postmasterPid = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(postmasterPid, 'SIGKILL');
    expect(await started.exited).to.equal(1);
    expect(started.output()).to.include('PostgreSQL stopped unexpectedly (SIGKILL)');
    await fetch(`http://127.0.0.1:${port}/health`).then(
      () => expect.fail('the API still answers'),
      () => undefined,
    );
  });

  describe('with DATABASE_URL set', () => {
    const db = useTestDatabase();

    it('uses that database and starts no PostgreSQL of its own', async () => {
      const port = await freePort();
      const started = start({ CHAPI_DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: db.url });
      const key = await waitForBanner(started);
      expect(started.output()).to.include('using DATABASE_URL');
      expect(started.output()).not.to.include('starting PostgreSQL');
      expect(started.output()).not.to.include('Database (local only)');
      const rows = await db.sql`select key_name from service_api_keys where key_hash = ${hashServiceKey(key)}`;
      expect(rows).to.have.length(1);
      started.ctrlC();
      expect(CTRL_C_EXIT).to.include(await started.exited);
    });
  });

  describe('from a private folder (mode 700, e.g. a clone under /root)', () => {
    let privateDir: string;
    let clone: string;
    let started: StartedProcess | undefined;

    before(async () => {
      privateDir = await mkdtemp(path.join(tmpdir(), 'chapi-private-'));
      await chmod(privateDir, 0o700);
      clone = path.join(privateDir, 'chapi');
      await mkdir(clone);
      // The repository as a clone would hold it, node_modules included: hard links (fast, the
      // same bytes; GNU cp), a copy where that is not possible.
      for (const entry of await readdir(ROOT)) {
        if (entry === '.git' || entry === '.data') continue;
        const linked = spawnSync('cp', ['-al', path.join(ROOT, entry), clone]);
        if (linked.status !== 0) await cp(path.join(ROOT, entry), path.join(clone, entry), { recursive: true, verbatimSymlinks: true });
      }
    });
    after(async () => {
      // Also after a failure: stop the job, and remove data that had to live elsewhere
      // (npm start keeps it there for its next start; this clone has none).
      if (started !== undefined) {
        if (started.child.pid !== undefined && groupAlive(started.child.pid)) started.ctrlC();
        await started.exited;
        const movedData = /its data lives in (\S+)/.exec(started.output())?.[1];
        if (movedData !== undefined) await rm(movedData, { recursive: true, force: true });
      }
      await rm(privateDir, { recursive: true, force: true });
    });

    it('npm start just works, and leaves no password file or postgres-owned folder behind', async () => {
      const passwordFiles = async (): Promise<string[]> => (await readdir(tmpdir())).filter((name) => name.startsWith('pg-password-'));
      const before = await passwordFiles();
      const port = await freePort();
      started = start({ PORT: String(port), EMBEDDED_PG_PORT: String(await freePort()), DATABASE_URL: '', CHAPI_DATA_DIR: '' }, clone);
      await waitForBanner(started);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).to.equal(200);
      if (process.getuid?.() === 0) {
        // As root, PostgreSQL (run as `postgres`) cannot enter the clone: it says where it went instead.
        expect(started.output()).to.include(`which cannot enter ${privateDir}`);
        expect(existsSync(path.join(clone, '.data', 'pg')), 'a postgres-owned .data/pg').to.equal(false);
      }
      started.ctrlC();
      expect(CTRL_C_EXIT, started.output()).to.include(await started.exited);
      expect(started.output()).not.to.match(/EACCES|Unhandled 'error' event/);
      expect((await passwordFiles()).filter((name) => !before.includes(name))).to.deep.equal([]);
      expect((await readdir(path.join(clone, '.data'))).filter((name) => name.startsWith('.pg-init-'))).to.deep.equal([]);
    });

    it('npm test just works too (one suite that needs the database)', async () => {
      const suites = JSON.stringify({ health: { config: '.mocharc.json', spec: ['api/test/health.test.ts'] } });
      const child = spawn('npm', ['test'], { cwd: clone, env: { ...process.env, CHAPI_TEST_SUITES: suites, TEST_DATABASE_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect(code, output).to.equal(0);
      expect(output).to.match(/^[1-9]\d* passed, 0 failed$/m);
      expect(output).not.to.match(/EACCES|Unhandled 'error' event/);
    });
  });
});
