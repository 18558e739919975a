/**
 * How the global fixtures hand the test server to the suites: environment variables, which
 * also reach mocha's parallel workers (forked after the global setup has run).
 */
export const TEST_ENV = {
  /** A superuser connection string to the server's maintenance database. */
  adminUrl: 'CHAPI_TEST_ADMIN_URL',
  /** The migrated template database that suites clone. */
  template: 'CHAPI_TEST_TEMPLATE_DB',
  /** This run's id: part of every database name it creates. */
  runId: 'CHAPI_TEST_RUN_ID',
} as const;

/** `url` with its database replaced by `database`. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function requireTestEnv(name: (typeof TEST_ENV)[keyof typeof TEST_ENV]): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set: run the tests with mocha's config (npm test), which starts the database`);
  }
  return value;
}
