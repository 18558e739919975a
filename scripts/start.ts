/**
 * `npm start`: the API on http://localhost:8888, ready to call.
 *
 * 0. Checks first what would make it fail later: the API's configuration (the same checks
 *    the API makes), and that its port is free.
 * 1. Without `DATABASE_URL`: an embedded PostgreSQL 17 whose data lives in `.data/pg`
 *    (git-ignored), so a restart keeps it. Its URL (a local-only password) is printed and
 *    written to `.data/env`, so that `npm run keys` / `migrate` can use it. With
 *    `DATABASE_URL`: that database.
 * 2. Applies the migrations.
 * 3. Issues a dev service key the first time (kept in `.data/dev-keys.json`, mode 600, one per
 *    database: the embedded one, or each `DATABASE_URL`) and prints it with a curl line.
 * 4. Runs the API (`api/src/main.ts`, the same entry point as the image) as a child process;
 *    every variable of its configuration is passed through (`PORT` defaults to 8888 here).
 *    The banner is printed once that child, still alive, answers `/health`.
 * Ctrl-C (or SIGTERM) stops the API, then PostgreSQL. If either dies on its own, the other is
 * stopped and `npm start` exits non-zero, saying which.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { systemClock } from '../api/src/clock.js';
import { ConfigError, loadConfig } from '../api/src/config.js';
import { hashServiceKey } from '../api/src/keys/format.js';
import { createKey, KeyActionError, type KeyServiceDeps } from '../api/src/keys/service.js';
import { findKeyByHash } from '../api/src/keys/sql.js';
import { isKeyUsable } from '../api/src/keys/status.js';
import { migrate } from '../api/src/migrate.js';
import { displayPath } from './lib/display-path.js';
import { freePort, isPortFree, startEmbeddedPostgres, takeOverTerminationSignals, type RunningPostgres } from './lib/embedded-postgres.js';
import { nodeVersionMismatch } from './lib/node-version.js';
import { waitFor } from '../api/test/helpers/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Local state of `npm start`: git-ignored. `CHAPI_DATA_DIR` moves it (the tests do). */
const DATA_DIR = path.resolve(process.env.CHAPI_DATA_DIR || path.join(ROOT, '.data'));
/** The seed's dev ports: the API on 8888 (the container listens on 8000), Postgres on 5435. */
const DEFAULT_API_PORT = '8888';
const DEFAULT_PG_PORT = 5435;
const DEV_DATABASE = 'chapi';
/** Only reachable on 127.0.0.1, and holds only local dev data. */
const DEV_PG_PASSWORD = 'chapi-local-dev';
const DEV_KEY_NAME = 'local-dev';
const API_START_TIMEOUT_MS = 30_000;
/** `DATABASE_URL=…` of the embedded server while it runs, for the CLIs (`env $(cat .data/env) npm run keys -- list`). */
const ENV_FILE = path.join(DATA_DIR, 'env');
/** The slot of `.data/dev-keys.json` for the embedded server: its data directory is the database. */
const EMBEDDED_SLOT = 'embedded';

function log(message: string): void {
  console.log(`[start] ${message}`);
}

async function startLocalPostgres(): Promise<RunningPostgres> {
  const wanted = Number(process.env.EMBEDDED_PG_PORT || DEFAULT_PG_PORT);
  const port = (await isPortFree(wanted)) ? wanted : await freePort();
  if (port !== wanted) log(`port ${wanted} is busy; PostgreSQL uses ${port} instead`);
  const dataDir = path.join(DATA_DIR, 'pg');
  await mkdir(DATA_DIR, { recursive: true });
  log(`starting PostgreSQL 17 (data in ${displayPath(dataDir)})`);
  const pg = await startEmbeddedPostgres({ dataDir, port, password: DEV_PG_PASSWORD, notice: log });
  const admin = postgres(pg.url(), { max: 1, onnotice: () => undefined });
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${DEV_DATABASE}`;
    if (exists === undefined) await admin`create database ${admin(DEV_DATABASE)}`;
  } catch (error) {
    await pg.stop();
    throw error;
  } finally {
    await admin.end();
  }
  return pg;
}

/** Where a `DATABASE_URL`'s key is kept: by user, host, port and database, never the password. */
function slotOf(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  const identity = `${decodeURIComponent(url.username)}@${url.hostname}:${url.port || '5432'}${url.pathname}`;
  return `url-${createHash('sha256').update(identity).digest('hex').slice(0, 16)}`;
}

/**
 * The dev key for this database: the saved one while it still works, else a new one. Kept per
 * database: one slot for the embedded server (whatever port it got), one per `DATABASE_URL`.
 */
async function ensureDevKey(databaseUrl: string, slot: string): Promise<string> {
  const file = path.join(DATA_DIR, 'dev-keys.json');
  const saved = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Record<string, string>;
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    const existing = saved[slot];
    if (existing !== undefined) {
      const row = await findKeyByHash(sql, hashServiceKey(existing));
      if (row !== undefined && isKeyUsable(row, Date.now())) {
        log(`dev service key "${row.key_name}": the one saved in ${displayPath(file)}`);
        return existing;
      }
      log(`the dev key saved in ${displayPath(file)} no longer works here: issuing a new one`);
    }
    // Audit lines are for the admin routes and the CLI; here the outcome is logged below.
    const deps: KeyServiceDeps = { sql, clock: systemClock, audit: () => undefined, actor: 'npm-start' };
    let issued;
    try {
      issued = await createKey(deps, { keyName: DEV_KEY_NAME, environment: 'dev' });
    } catch (error) {
      if (!(error instanceof KeyActionError && error.reason === 'name_taken')) throw error;
      // The name is taken when the saved file was lost: issue under a fresh name instead.
      const keyName = `${DEV_KEY_NAME}-${Date.now().toString(36)}`;
      issued = await createKey(deps, { keyName, environment: 'dev' });
    }
    saved[slot] = issued.plaintext;
    await mkdir(DATA_DIR, { recursive: true });
    await writeFile(file, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
    log(`issued dev service key "${issued.row.key_name}" (saved in ${displayPath(file)})`);
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

function banner(baseUrl: string, key: string, databaseUrl: string | undefined): string {
  return [
    '',
    `  chapi is running at ${baseUrl}`,
    `  API docs (Swagger UI): ${baseUrl}/docs`,
    `  Dev service key:       ${key}`,
    ...(databaseUrl === undefined ? [] : [`  Database (local only): ${databaseUrl}`]),
    '',
    '  Try it:',
    `  curl -s -X POST ${baseUrl}/execute -H 'Content-Type: application/json' -H 'X-API-Key: ${key}' \\`,
    `    -d '{"action":"create-task","user_id":"user-1","payload":{"title":"Feed the cats"}}'`,
    ...(databaseUrl === undefined
      ? []
      : ['', `  The CLIs, while this runs: env $(cat ${displayPath(ENV_FILE)}) npm run keys -- list`]),
    '',
    '  Ctrl-C stops the API and PostgreSQL.',
    '',
  ].join('\n');
}

/** The API's configuration checked now, with the values it will get, before anything starts. */
function checkApiConfig(env: NodeJS.ProcessEnv): void {
  try {
    // The real URL is known only once the database runs; any well-formed one checks the rest.
    loadConfig({ ...env, DATABASE_URL: env.DATABASE_URL || `postgres://check@127.0.0.1:${DEFAULT_PG_PORT}/${DEV_DATABASE}` });
  } catch (error) {
    if (error instanceof ConfigError) throw new Error(`configuration error: ${error.message}`, { cause: error });
    throw error;
  }
}

async function main(): Promise<void> {
  const wrongNode = nodeVersionMismatch();
  if (wrongNode !== undefined) log(`warning: ${wrongNode}`);

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
    if (pg !== undefined) await rm(ENV_FILE, { force: true });
    const exitCode = code === 0 ? apiCode : code;
    if (exitCode === 0) log(`stopped${pg === undefined ? '' : ' (the API, then PostgreSQL)'}`);
    process.exit(exitCode);
  };
  // The order above is ours to keep, so the signals are ours to handle (from the start, so
  // that a stop during migration still stops PostgreSQL).
  takeOverTerminationSignals();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));

  try {
    const port = process.env.PORT || DEFAULT_API_PORT;
    const host = process.env.HOST || '127.0.0.1';
    const apiEnv = { ...process.env, PORT: port, HOST: host };
    checkApiConfig(apiEnv);
    if (!(await isPortFree(Number(port), host))) {
      throw new Error(`port ${port} on ${host} is already in use (another npm start?): stop that, or choose another port: PORT=8889 npm start`);
    }

    let databaseUrl = process.env.DATABASE_URL;
    let slot: string;
    let localUrl: string | undefined;
    if (databaseUrl === undefined || databaseUrl === '') {
      const started = await startLocalPostgres();
      pg = started;
      databaseUrl = started.url(DEV_DATABASE);
      localUrl = databaseUrl;
      slot = EMBEDDED_SLOT;
      await writeFile(ENV_FILE, `DATABASE_URL=${databaseUrl}\n`, { mode: 0o600 });
      log(`database: ${databaseUrl} (local only; also in ${displayPath(ENV_FILE)} while this runs)`);
      void started.exited.then(({ code, signal }) => {
        if (stopping) return;
        log(`PostgreSQL stopped unexpectedly (${signal ?? `exit code ${code}`}): stopping the API. Run npm start again.`);
        void shutdown(1);
      });
    } else {
      log('using DATABASE_URL');
      slot = slotOf(databaseUrl);
    }

    const applied = await migrate({ databaseUrl: process.env.MIGRATION_DATABASE_URL || databaseUrl, direction: 'up' });
    log(applied.length > 0 ? `applied migrations: ${applied.join(', ')}` : 'migrations are up to date');
    const key = await ensureDevKey(databaseUrl, slot);
    if (stopping) return;

    const api = startApi({ ...apiEnv, DATABASE_URL: databaseUrl });
    running.api = api;
    // 'close' follows 'exit', and also a spawn 'error' (the process never ran).
    running.apiExited = new Promise((resolve) => api.once('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
    api.once('error', (error) => log(`could not run the API: ${error.message}`));
    void running.apiExited.then((code) => {
      if (stopping) return;
      log(`the API exited (code ${code})`);
      void shutdown(code === 0 ? 1 : code);
    });

    const ours = (): boolean => api.exitCode === null && api.signalCode === null;
    const baseUrl = `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`;
    await waitFor(async () => !ours() || (await fetch(`${baseUrl}/health`)).ok, {
      timeoutMs: API_START_TIMEOUT_MS,
      what: `the API to answer ${baseUrl}/health`,
    });
    // Only our own, live API earns the banner (never another process answering on the port).
    if (ours() && !stopping) console.log(banner(baseUrl, key, localUrl));
  } catch (error) {
    // A failed start (bad config, a busy port, PostgreSQL not starting) is one readable
    // message; what did start is stopped, in order.
    console.error(`[start] ${error instanceof Error ? error.message : String(error)}`);
    await shutdown(1);
  }
}

await main();
