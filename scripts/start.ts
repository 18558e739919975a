/**
 * `npm start`: the API on http://localhost:8888, ready to call.
 *
 * 1. Without `DATABASE_URL`: an embedded PostgreSQL 17 whose data lives in `.data/pg`
 *    (git-ignored), so a restart keeps it. With `DATABASE_URL`: that database.
 * 2. Applies the migrations.
 * 3. Issues a dev service key the first time (kept in `.data/dev-keys.json`, mode 600, so later
 *    starts can print it again) and prints it with a curl line and the docs URL.
 * 4. Runs the API (`api/src/main.ts`, the same entry point as the image) as a child process;
 *    every variable of its configuration is passed through (`PORT` defaults to 8888 here).
 * Ctrl-C (or SIGTERM) stops the API, then PostgreSQL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { systemClock } from '../api/src/clock.js';
import { hashServiceKey } from '../api/src/keys/format.js';
import { createKey, KeyActionError, type KeyServiceDeps } from '../api/src/keys/service.js';
import { findKeyByHash } from '../api/src/keys/sql.js';
import { isKeyUsable } from '../api/src/keys/status.js';
import { migrate } from '../api/src/migrate.js';
import {
  freePort,
  isPortFree,
  startEmbeddedPostgres,
  takeOverTerminationSignals,
  type RunningPostgres,
} from './lib/embedded-postgres.js';
import { waitFor } from './lib/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Local state of `npm start`: git-ignored. `CHAPI_DATA_DIR` moves it (the tests do). */
const DATA_DIR = process.env.CHAPI_DATA_DIR ?? path.join(ROOT, '.data');
/** The seed's dev ports: the API on 8888 (the container listens on 8000), Postgres on 5435. */
const DEFAULT_API_PORT = '8888';
const DEFAULT_PG_PORT = 5435;
const DEV_DATABASE = 'chapi';
/** Only reachable on 127.0.0.1, and holds only local dev data. */
const DEV_PG_PASSWORD = 'chapi-local-dev';
const DEV_KEY_NAME = 'local-dev';
const API_START_TIMEOUT_MS = 30_000;

function log(message: string): void {
  console.log(`[start] ${message}`);
}

async function startLocalPostgres(): Promise<RunningPostgres> {
  const wanted = Number(process.env.EMBEDDED_PG_PORT ?? DEFAULT_PG_PORT);
  const port = (await isPortFree(wanted)) ? wanted : await freePort();
  if (port !== wanted) log(`port ${wanted} is busy; PostgreSQL uses ${port} instead`);
  const dataDir = path.join(DATA_DIR, 'pg');
  await mkdir(DATA_DIR, { recursive: true });
  log(`starting PostgreSQL 17 (data in ${path.relative(ROOT, dataDir) || dataDir})`);
  const pg = await startEmbeddedPostgres({ dataDir, port, password: DEV_PG_PASSWORD });
  const admin = postgres(pg.url(), { max: 1, onnotice: () => undefined });
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${DEV_DATABASE}`;
    if (exists === undefined) await admin`create database ${admin(DEV_DATABASE)}`;
  } finally {
    await admin.end();
  }
  return pg;
}

/**
 * The dev key for this database: the saved one while it still works, else a new one. Saved
 * per database (by a hash of its URL) so switching `DATABASE_URL` never mixes them up.
 */
async function ensureDevKey(databaseUrl: string): Promise<string> {
  const file = path.join(DATA_DIR, 'dev-keys.json');
  const slot = createHash('sha256').update(databaseUrl).digest('hex').slice(0, 16);
  const saved = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Record<string, string>;
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    const existing = saved[slot];
    if (existing !== undefined) {
      const row = await findKeyByHash(sql, hashServiceKey(existing));
      if (row !== undefined && isKeyUsable(row, Date.now())) return existing;
    }
    const deps: KeyServiceDeps = {
      sql,
      clock: systemClock,
      audit: (entry) => log(`issued dev service key "${entry.key_name}"`),
      actor: 'npm-start',
    };
    let issued;
    try {
      issued = await createKey(deps, { keyName: DEV_KEY_NAME, environment: 'dev' });
    } catch (error) {
      if (!(error instanceof KeyActionError && error.reason === 'name_taken')) throw error;
      // The name is taken when the saved file was lost: issue under a fresh name instead.
      const keyName = `${DEV_KEY_NAME}-${slot.slice(0, 6)}-${Date.now().toString(36)}`;
      issued = await createKey(deps, { keyName, environment: 'dev' });
    }
    saved[slot] = issued.plaintext;
    await mkdir(DATA_DIR, { recursive: true });
    await writeFile(file, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
    return issued.plaintext;
  } finally {
    await sql.end();
  }
}

function startApi(env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'api', 'src', 'main.ts')], {
    cwd: ROOT,
    env,
    stdio: 'inherit',
  });
}

function banner(baseUrl: string, key: string): string {
  return [
    '',
    `  chapi is running at ${baseUrl}`,
    `  API docs (Swagger UI): ${baseUrl}/docs`,
    `  Dev service key:       ${key}`,
    '',
    '  Try it:',
    `  curl -s -X POST ${baseUrl}/execute -H 'Content-Type: application/json' -H 'X-API-Key: ${key}' \\`,
    `    -d '{"action":"create-task","user_id":"user-1","payload":{"title":"Feed the cats"}}'`,
    '',
    '  Ctrl-C stops the API and PostgreSQL.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  let pg: RunningPostgres | undefined;
  // Filled in as the API starts; the shutdown below may run before that.
  const running: { api?: ChildProcess; apiExited: Promise<number> } = { apiExited: Promise.resolve(0) };
  let stopping = false;

  /** Stops what is running, API first (it drains), then PostgreSQL; exits with `code`. */
  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const { api } = running;
    if (api !== undefined && api.exitCode === null && api.signalCode === null) api.kill('SIGTERM');
    const apiCode = await running.apiExited;
    await pg?.stop();
    process.exit(code === 0 ? apiCode : code);
  };
  // The order above is ours to keep, so the signals are ours to handle (from the start, so
  // that a stop during migration still stops PostgreSQL).
  takeOverTerminationSignals();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));

  let databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl === undefined || databaseUrl === '') {
    pg = await startLocalPostgres();
    databaseUrl = pg.url(DEV_DATABASE);
  } else {
    log('using DATABASE_URL');
  }

  const applied = await migrate({ databaseUrl: process.env.MIGRATION_DATABASE_URL || databaseUrl, direction: 'up' });
  log(applied.length > 0 ? `applied migrations: ${applied.join(', ')}` : 'migrations are up to date');
  const key = await ensureDevKey(databaseUrl);

  const port = process.env.PORT ?? DEFAULT_API_PORT;
  const host = process.env.HOST ?? '127.0.0.1';
  const api = startApi({ ...process.env, DATABASE_URL: databaseUrl, PORT: port, HOST: host });
  running.api = api;
  running.apiExited = new Promise((resolve) => api.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  void running.apiExited.then((code) => {
    if (stopping) return;
    log(`the API exited (code ${code})`);
    void shutdown(code === 0 ? 1 : code);
  });

  const baseUrl = `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`;
  await waitFor(async () => (await fetch(`${baseUrl}/health`)).ok, {
    timeoutMs: API_START_TIMEOUT_MS,
    what: `the API to answer ${baseUrl}/health`,
  });
  console.log(banner(baseUrl, key));
}

try {
  await main();
} catch (error) {
  // A failed start (bad config, PostgreSQL not starting) is one readable message, then exit.
  console.error(`[start] ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
