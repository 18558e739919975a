/**
 * The one `sql` instance of the process (porsager/postgres): pool size, TLS, timeouts and
 * prepared statements, tuned for Neon behind its PgBouncer pooler.
 */
import postgres from 'postgres';
import type { DatabaseConfig } from './config.js';

export type Sql = postgres.Sql;
/** The pool or a transaction: what a query function needs, so it can run inside `sql.begin`. */
export type Queryable = postgres.Sql | postgres.TransactionSql;

/** Query-string parameters that must not reach the server as startup parameters. */
const CLIENT_ONLY_PARAMS = [
  // postgres.js forwards unknown URL parameters to the server as startup parameters, and
  // the server rejects `channel_binding`. postgres.js does not implement channel binding
  // (SCRAM-PLUS) anyway, and Neon's pooler cannot do it: drop it rather than fail.
  'channel_binding',
];

/** The URL without client-only parameters; `sslmode` stays (postgres.js maps it to TLS). */
export function normalizeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  for (const name of CLIENT_ONLY_PARAMS) parsed.searchParams.delete(name);
  return parsed.toString();
}

/**
 * True for a PgBouncer transaction-mode pooler (Neon's `-pooler` host), where a named
 * prepared statement created on one server connection does not exist on the next one.
 */
export function isPooledUrl(url: string): boolean {
  return new URL(url).hostname.includes('-pooler');
}

/** Whether to use named prepared statements for this configuration. */
export function usePreparedStatements(config: DatabaseConfig): boolean {
  if (config.prepare === 'on') return true;
  if (config.prepare === 'off') return false;
  return !isPooledUrl(config.url);
}

/** Creates the connection pool. Connections open lazily, so this never blocks start-up. */
export function createSql(config: DatabaseConfig, options: { applicationName?: string } = {}): Sql {
  return postgres(normalizeDatabaseUrl(config.url), {
    max: config.poolMax,
    idle_timeout: config.idleTimeoutS,
    connect_timeout: config.connectTimeoutS,
    prepare: usePreparedStatements(config),
    // Server notices (e.g. "relation already exists, skipping") are not errors; the
    // default handler would print them with console.log.
    onnotice: () => undefined,
    connection: { application_name: options.applicationName ?? 'chapi-api' },
  });
}
