/**
 * An empty, unmigrated database on the test server, for the tests that migrate from zero
 * (the harness's `useTestDatabase` clones an already-migrated template). Named with the run
 * id, so the harness's teardown drops any that a crashed test left on a shared server.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { Sql } from '../../src/db.js';
import { databaseUrl, requireTestEnv, TEST_ENV } from './test-env.js';

/** An empty database of the test server, and how to drop it. */
export interface EmptyDatabase {
  name: string;
  url: string;
  /** A small pool for the test's own queries. */
  sql: Sql;
  drop(): Promise<void>;
}

/** Creates an empty database from template0; the caller drops it. */
export async function createEmptyDatabase(): Promise<EmptyDatabase> {
  const adminUrl = requireTestEnv(TEST_ENV.adminUrl);
  const name = `chapi_e_${requireTestEnv(TEST_ENV.runId)}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    // template0: truly empty, whatever the server's template1 holds.
    await admin`create database ${admin(name)} template template0`;
  } finally {
    await admin.end();
  }
  const url = databaseUrl(adminUrl, name);
  const sql = postgres(url, { max: 2, onnotice: () => undefined });
  return {
    name,
    url,
    sql,
    drop: async () => {
      await sql.end({ timeout: 1 });
      const dropper = postgres(adminUrl, { max: 1, onnotice: () => undefined });
      try {
        // FORCE: a CLI under test may still be disconnecting.
        await dropper`drop database if exists ${dropper(name)} with (force)`;
      } finally {
        await dropper.end();
      }
    },
  };
}

/**
 * Registers hooks that give each test of the calling `describe` its own empty database
 * (`beforeEach`/`afterEach`), and returns an accessor for it.
 */
export function useEmptyDatabasePerTest(): () => EmptyDatabase {
  let db: EmptyDatabase | undefined;
  beforeEach(async () => {
    db = await createEmptyDatabase();
  });
  afterEach(async () => {
    await db?.drop();
    db = undefined;
  });
  return () => {
    if (db === undefined) throw new Error('the empty database exists only inside a test');
    return db;
  };
}
