/**
 * A fresh, migrated database per suite: `CREATE DATABASE … TEMPLATE` clones the template
 * that the global setup migrated, in milliseconds. Suites never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { Sql } from '../../src/db.js';
import { suiteScoped } from './suite-scoped.js';
import { databaseUrl, requireTestEnv, TEST_ENV } from './test-env.js';

export interface TestDatabase {
  name: string;
  /** Connection string for the API under test. */
  url: string;
  /** A small pool for the test's own assertions on rows. */
  sql: Sql;
  drop(): Promise<void>;
}

let admin: Sql | undefined;

function adminSql(): Sql {
  admin ??= postgres(requireTestEnv(TEST_ENV.adminUrl), { max: 1, onnotice: () => undefined });
  return admin;
}

/** Creates a fresh database cloned from the migrated template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = requireTestEnv(TEST_ENV.template);
  const name = `chapi_t_${requireTestEnv(TEST_ENV.runId)}_${randomBytes(4).toString('hex')}`;
  const sql = adminSql();
  await sql`create database ${sql(name)} template ${sql(template)}`;
  const url = databaseUrl(requireTestEnv(TEST_ENV.adminUrl), name);
  const own = postgres(url, { max: 2, onnotice: () => undefined });
  return {
    name,
    url,
    sql: own,
    drop: async () => {
      await own.end({ timeout: 1 });
      // FORCE: an API under test may still hold idle connections.
      await sql`drop database if exists ${sql(name)} with (force)`;
    },
  };
}

/**
 * Registers `before`/`after` hooks in the calling `describe` and returns the suite's
 * database (its fields are readable from the first `before` on).
 */
export function useTestDatabase(): TestDatabase {
  const current = suiteScoped('the test database is created', createTestDatabase, (db) => db.drop());
  return {
    get name() {
      return current().name;
    },
    get url() {
      return current().url;
    },
    get sql() {
      return current().sql;
    },
    drop: async () => current().drop(),
  };
}
