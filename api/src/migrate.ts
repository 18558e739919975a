/**
 * Runs the SQL migrations in `migrations/` with node-pg-migrate: the library behind
 * `npm run migrate` (`cli/migrate.ts`), the one-off migration task, `npm start` and the test
 * harness.
 *
 * - A second runner waits for the first (advisory lock in `wait` mode) instead of failing, so
 *   two deploys or two test workers cannot apply the same migration twice; when it gets the
 *   lock it finds nothing left to do.
 * - Each migration runs in its own transaction: a failure leaves the previous schema intact,
 *   and the error names the migration and carries the database's message.
 * - The advisory lock is a *session* lock: it needs a direct connection, not a PgBouncer
 *   transaction-mode pooler (Neon's `-pooler` host), which may run the lock, the migration
 *   and the unlock on three different server connections. Hence `MIGRATION_DATABASE_URL`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { getMigrationFilePaths } from 'node-pg-migrate/migration';
import pg from 'pg';
import { sqlStateOf } from './errors.js';

/** The repository's `migrations/` folder, from `api/src` (tsx) or `api/dist` (the image). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
/** node-pg-migrate's bookkeeping table: one row per applied migration. */
export const MIGRATIONS_TABLE = 'pgmigrations';
/**
 * How long opening the migration connection may take. Neon suspends an idle compute and
 * wakes it on the first connection, which takes a few seconds; 30 s leaves room for that
 * without letting a deploy hang on a database that is really gone.
 */
export const MIGRATION_CONNECT_TIMEOUT_MS = 30_000;
/** How the migration session shows up in `pg_stat_activity`. */
export const MIGRATION_APPLICATION_NAME = 'chapi-migrate';

/** `up` applies migrations in file order; `down` undoes the most recent ones. */
export type MigrationDirection = 'up' | 'down';
/** What a migration command does: move the schema, or only read its state. */
export type MigrationOperation = MigrationDirection | 'status';

/** One migration run. */
export interface MigrateOptions {
  /** A direct (non-pooler) connection string: the run holds a session advisory lock. */
  databaseUrl: string;
  direction: MigrationDirection;
  /** How many migrations to apply or undo. @default all for up, 1 for down */
  count?: number;
  /** Progress lines: `applying <name>` / `reverting <name>` as each migration starts. @default nowhere */
  log?: (message: string) => void;
  /** node-pg-migrate's own log (including the SQL of a failing statement). @default nowhere */
  libraryLog?: (message: string) => void;
  /** @default MIGRATIONS_DIR */
  dir?: string;
}

/** Why a migration run failed: which migration (when one had started), and the database's word. */
export class MigrationError extends Error {
  override name = 'MigrationError';
  /** The migration that failed, or undefined when the run failed before or between migrations. */
  readonly migration: string | undefined;
  readonly operation: MigrationOperation;
  /** The database's SQLSTATE, when the database raised the error. */
  readonly sqlState: string | undefined;
  /** `connect`: the database could not be reached or refused the login; nothing ran. */
  readonly phase: 'connect' | 'run';

  constructor(operation: MigrationOperation, migration: string | undefined, cause: unknown, phase: 'connect' | 'run' = 'run') {
    const where =
      phase === 'connect'
        ? `migrate ${operation}: cannot connect to the database`
        : migration === undefined
          ? `migrate ${operation} failed`
          : `migration ${migration} (${operation}) failed`;
    super(`${where}: ${describeDatabaseError(cause)}`, { cause });
    this.phase = phase;
    this.operation = operation;
    this.migration = migration;
    this.sqlState = sqlStateOf(cause);
  }
}

/**
 * The database's message with what helps to act on it (SQLSTATE, detail, hint), e.g.
 * `relation "x" does not exist (SQLSTATE 42P01)`. Never the connection string.
 */
export function describeDatabaseError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const fields = error as Error & { code?: unknown; detail?: unknown; hint?: unknown };
  const parts = [error.message];
  const sqlState = sqlStateOf(error);
  if (sqlState !== undefined) parts[0] += ` (SQLSTATE ${sqlState})`;
  else if (typeof fields.code === 'string') parts[0] += ` (${fields.code})`;
  if (typeof fields.detail === 'string' && fields.detail !== '') parts.push(`detail: ${fields.detail}`);
  if (typeof fields.hint === 'string' && fields.hint !== '') parts.push(`hint: ${fields.hint}`);
  return parts.join('; ');
}

/** SSL modes that pg 8 already treats as `verify-full` (and warns about on every run). */
const PG_VERIFY_FULL_ALIASES = new Set(['prefer', 'require', 'verify-ca']);

/**
 * The pg client settings for a migration connection.
 * - `sslmode=require` (what Neon's URLs carry) is written as `verify-full`: pg 8 treats it so
 *   already, and says so in a security warning on each run; being explicit keeps the
 *   certificate check when pg 9 changes the meaning of `require`.
 * - `channel_binding=require` (Neon) turns on SCRAM-SHA-256-PLUS, which pg does when offered.
 */
export function migrationClientConfig(url: string): pg.ClientConfig {
  const parsed = new URL(url);
  const sslMode = parsed.searchParams.get('sslmode');
  if (sslMode !== null && PG_VERIFY_FULL_ALIASES.has(sslMode)) parsed.searchParams.set('sslmode', 'verify-full');
  const channelBinding = parsed.searchParams.get('channel_binding');
  parsed.searchParams.delete('channel_binding');
  return {
    connectionString: parsed.toString(),
    connectionTimeoutMillis: MIGRATION_CONNECT_TIMEOUT_MS,
    application_name: MIGRATION_APPLICATION_NAME,
    enableChannelBinding: channelBinding === 'require' || channelBinding === 'prefer',
  };
}

/** node-pg-migrate logs `### MIGRATION <name> (UP) ###` as it starts each migration. */
const MIGRATION_START_LINE = /^### MIGRATION (.+) \((UP|DOWN)\) ###$/;

/** Opens the migration connection; a connection error becomes a `MigrationError` with no migration. */
async function connect(url: string, operation: MigrationOperation): Promise<pg.Client> {
  const client = new pg.Client(migrationClientConfig(url));
  // An idle client whose server goes away emits 'error'; unhandled, that would crash the
  // process instead of failing the current query, which reports it anyway.
  client.on('error', () => undefined);
  try {
    await client.connect();
    // Operators bound the app role's queries server-side (`ALTER ROLE … SET statement_timeout`,
    // since Neon's pooler takes no timeout from the client), and migrations run as that same
    // role: an index build on a big table must not inherit a request-sized timeout.
    await client.query('set statement_timeout = 0');
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new MigrationError(operation, undefined, error, 'connect');
  }
  return client;
}

/**
 * Applies (`up`) or undoes (`down`) migrations; returns the names of those it ran, in order.
 * Throws a `MigrationError` naming the migration that failed (rolled back, nothing of it
 * applied; those before it stay applied).
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const progress = options.log ?? (() => undefined);
  const libraryLog = options.libraryLog ?? (() => undefined);
  let current: string | undefined;
  const onInfo = (message: string): void => {
    const started = MIGRATION_START_LINE.exec(message);
    if (started !== null) {
      current = started[1];
      progress(`${options.direction === 'up' ? 'applying' : 'reverting'} ${current}`);
    }
    libraryLog(message);
  };
  const client = await connect(options.databaseUrl, options.direction);
  try {
    const ran = await runner({
      dbClient: client,
      dir: options.dir ?? MIGRATIONS_DIR,
      migrationsTable: MIGRATIONS_TABLE,
      direction: options.direction,
      count: options.count ?? (options.direction === 'up' ? Infinity : 1),
      // One transaction per migration: a failure rolls back that migration only.
      singleTransaction: false,
      checkOrder: true,
      advisoryLockMode: 'wait',
      logger: { debug: libraryLog, info: onInfo, warn: libraryLog, error: libraryLog },
    });
    current = undefined;
    return ran.map((migration) => migration.name);
  } catch (error) {
    throw new MigrationError(options.direction, current, error);
  } finally {
    // Ending the session rolls back a failed migration's open transaction and releases the
    // advisory lock, even when node-pg-migrate's own unlock could not run in that transaction.
    await client.end().catch(() => undefined);
  }
}

/** One migration the database has applied. */
export interface AppliedMigration {
  name: string;
  runOn: Date;
  /** False when this build has no file for it (the database is ahead of this code). */
  known: boolean;
}

/** Which migrations are applied and which are pending, without changing anything. */
export interface MigrationStatus {
  applied: AppliedMigration[];
  /** In this build, not yet applied, in the order `up` would apply them. */
  pending: string[];
}

/**
 * Reads the migration state of a database. Read-only: unlike `up`, it does not create the
 * bookkeeping table (a database that has none has simply applied nothing).
 */
export async function migrationStatus(options: { databaseUrl: string; dir?: string }): Promise<MigrationStatus> {
  const files = await getMigrationFilePaths(options.dir ?? MIGRATIONS_DIR);
  const names = files.map((file) => path.basename(file, path.extname(file)));
  const client = await connect(options.databaseUrl, 'status');
  try {
    const { rows: exists } = await client.query<{ present: boolean }>(
      `select to_regclass('public.${MIGRATIONS_TABLE}') is not null as present`,
    );
    const rows =
      exists[0]?.present === true
        ? (await client.query<{ name: string; run_on: Date }>(`select name, run_on from public.${MIGRATIONS_TABLE} order by run_on, id`)).rows
        : [];
    const applied = new Set(rows.map((row) => row.name));
    return {
      applied: rows.map((row) => ({ name: row.name, runOn: row.run_on, known: names.includes(row.name) })),
      pending: names.filter((name) => !applied.has(name)),
    };
  } catch (error) {
    throw new MigrationError('status', undefined, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}
