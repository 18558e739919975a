/**
 * The CLIs' database connection strings: which variable, checked, and how to mention it in a
 * message without its password.
 */
import { isPooledUrl } from '../db.js';
import { CliError, EXIT } from './exit-codes.js';

type Env = Record<string, string | undefined>;

/** The value of `variable` if it is a postgres:// URL; a `CliError` (exit 7) naming the variable otherwise. */
export function requireDatabaseUrl(env: Env, variable: string): string {
  const value = env[variable];
  if (value === undefined || value === '') {
    throw new CliError(EXIT.config, `${variable} is not set (a postgres://user:password@host:port/db connection string)`);
  }
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    // Never echo the value: it holds the database password.
    throw new CliError(EXIT.config, `${variable} is not a valid URL (expected postgres://user:password@host:port/db)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new CliError(EXIT.config, `${variable} must start with postgres:// or postgresql://`);
  }
  return value;
}

/** Where migrations connect, and which variable said so (messages name the variable, never the URL). */
export interface MigrationTarget {
  url: string;
  variable: 'MIGRATION_DATABASE_URL' | 'DATABASE_URL';
}

/**
 * The database migrations run against: `MIGRATION_DATABASE_URL` when set, else
 * `DATABASE_URL`. In production the first is Neon's direct host and the second its pooler.
 * Migrations hold a *session* advisory lock (so that a second runner waits), and a
 * transaction-mode pooler may run the lock, each migration and the unlock on different server
 * connections: the lock could be left held by a pooled connection, and every later runner
 * would wait on it forever. A pooler URL is therefore refused.
 */
export function migrationTarget(env: Env): MigrationTarget {
  const variable = env.MIGRATION_DATABASE_URL !== undefined && env.MIGRATION_DATABASE_URL !== '' ? 'MIGRATION_DATABASE_URL' : 'DATABASE_URL';
  if (variable === 'DATABASE_URL' && (env.DATABASE_URL === undefined || env.DATABASE_URL === '')) {
    throw new CliError(EXIT.config, 'MIGRATION_DATABASE_URL or DATABASE_URL must be set (a postgres:// connection string)');
  }
  const url = requireDatabaseUrl(env, variable);
  if (isPooledUrl(url)) {
    throw new CliError(
      EXIT.config,
      `${variable} points at a connection pooler (${new URL(url).hostname}): migrations hold a session advisory lock, ` +
        'which a transaction-mode pooler cannot keep. Set MIGRATION_DATABASE_URL to the direct (non-pooler) host.',
    );
  }
  return { url, variable };
}

/** `user@host:port/database`: which database, without the password or query parameters. */
export function describeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  const user = parsed.username === '' ? '' : `${decodeURIComponent(parsed.username)}@`;
  const port = parsed.port === '' ? '' : `:${parsed.port}`;
  return `${user}${parsed.hostname}${port}${parsed.pathname}`;
}

/**
 * Hides the password (raw and decoded) and any whole URL of `urls` wherever they appear in
 * `text`: the last line of defence for a driver message that quotes its connection string.
 */
export function redactUrls(text: string, urls: readonly string[]): string {
  let result = text;
  for (const url of urls) {
    let secrets = [url];
    try {
      const parsed = new URL(url);
      if (parsed.password !== '') secrets = [url, parsed.password, decodeURIComponent(parsed.password)];
    } catch {
      // Not a URL: only its whole text is hidden.
    }
    for (const secret of secrets.filter((value) => value.length >= 4)) result = result.split(secret).join('[redacted]');
  }
  return result;
}
