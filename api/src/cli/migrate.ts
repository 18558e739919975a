/**
 * `npm run migrate -- up|down|status` (in the image: `node api/dist/cli/migrate.js up`, what
 * the one-off ECS migration task runs before each rollout).
 *
 * - Connects with `MIGRATION_DATABASE_URL` when set, else `DATABASE_URL` (see
 *   `database-url.ts`: the migration lock needs a direct connection, not Neon's pooler).
 * - `up` checks `SERVICE_API_KEYS` first (a malformed secret fails the run before anything
 *   changes), applies the pending migrations, then syncs the deployment-managed keys
 *   (`keys/managed.ts`).
 * - A failed migration is named with the database's message; it was rolled back, those
 *   before it stay applied, and the exit code is 1.
 */
import path from 'node:path';
import { systemClock } from '../clock.js';
import { createSql } from '../db.js';
import { auditToLogger } from '../keys/audit.js';
import { MANAGED_KEYS_ENV, ManagedKeysError, parseManagedKeys, syncManagedKeys, type ManagedKeyEntry } from '../keys/managed.js';
import {
  MIGRATION_APPLICATION_NAME,
  MIGRATION_CONNECT_TIMEOUT_MS,
  MIGRATIONS_DIR,
  MigrationError,
  migrate,
  migrationStatus,
  type MigrationDirection,
} from '../migrate.js';
import { parseCommandLine, showUsage } from './args.js';
import { describeDatabaseUrl, migrationTarget, type MigrationTarget } from './database-url.js';
import { CliError, EXIT, exitCodesHelp, usageError, type ExitCode } from './exit-codes.js';
import { probePostgres } from './postgres-probe.js';
import { classifyDatabaseError, createCliLogger, runCli, type CliContext } from './run.js';

const USAGE = `Usage: npm run migrate -- <command> [options]
       node api/dist/cli/migrate.js <command> [options]     (in the image)

Commands:
  up [N]      apply the pending migrations (all, or the next N), each in its own
              transaction; then sync the deployment-managed keys from SERVICE_API_KEYS
  down [N]    undo the last N applied migrations (default 1). Destroys data: not part of
              any deploy (a rollback reverts code, never schema)
  status      list applied and pending migrations; changes nothing

Options:
  --migrations-dir <path>   migration files (default: the project's migrations/)
  --verbose                 also print node-pg-migrate's log, e.g. the SQL that failed
  -h, --help                this help (also: help)

Environment:
  MIGRATION_DATABASE_URL  direct (non-pooler) connection string; used when set
  DATABASE_URL            used when MIGRATION_DATABASE_URL is not set
  SERVICE_API_KEYS        optional JSON {"key-name": "sk_prod_…"}: the deployment-managed
                          keys; after "up", the table matches it (unset: left as they are)
  NODE_ENV                "production": SERVICE_API_KEYS may hold only sk_prod_ keys

Two runs at once are safe: the second waits for the first, then finds nothing to do.

${exitCodesHelp([
  [EXIT.ok, 'done'],
  [EXIT.failure, 'a migration failed (rolled back), or an unexpected error'],
  [EXIT.usage, 'bad arguments'],
  [EXIT.config, 'configuration: database URL (a pooler refused), SERVICE_API_KEYS, login, missing database'],
  [EXIT.unavailable, 'the database cannot be reached, or is not PostgreSQL: retry later'],
])}`;

type Command = MigrationDirection | 'status';
const COMMANDS: readonly Command[] = ['up', 'down', 'status'];

interface Invocation {
  command: Command;
  count: number | undefined;
  dir: string;
  verbose: boolean;
}

function parseInvocation(argv: string[]): Invocation | undefined {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      'migrations-dir': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  // `help` as a command too: `npm run migrate -- help` is what people type after `npm run migrate`.
  if (values.help || positionals[0] === 'help') return undefined;
  const [commandName, countText, ...rest] = positionals;
  if (commandName === undefined) throw usageError('no command given (up, down or status)');
  if (!(COMMANDS as readonly string[]).includes(commandName)) throw usageError(`unknown command "${commandName}" (up, down or status)`);
  const command = commandName as Command;
  if (rest.length > 0 || (command === 'status' && countText !== undefined)) throw usageError(`too many arguments for ${command}`);
  let count: number | undefined;
  if (countText !== undefined) {
    count = Number(countText);
    if (!/^\d+$/.test(countText) || !Number.isSafeInteger(count) || count < 1) {
      throw usageError(`the count must be a whole number of migrations, at least 1 (got "${countText}")`);
    }
  }
  const dir = values['migrations-dir'] === undefined ? MIGRATIONS_DIR : path.resolve(values['migrations-dir']);
  return { command, count, dir, verbose: values.verbose };
}

/**
 * The managed keys to sync after `up`, checked before anything changes; undefined when unset.
 * With `NODE_ENV=production` (as the API tasks run) only `sk_prod_` keys are accepted: the
 * API would refuse any other.
 */
function readManagedKeys(env: Record<string, string | undefined>): ManagedKeyEntry[] | undefined {
  const json = env[MANAGED_KEYS_ENV];
  if (json === undefined || json === '') return undefined;
  try {
    return parseManagedKeys(json, env.NODE_ENV === 'production' ? { environment: 'prod' } : {});
  } catch (error) {
    if (error instanceof ManagedKeysError) throw new CliError(EXIT.config, error.message);
    throw error;
  }
}

/** A `MigrationError` as the operator needs it: which migration, what the database said, and what state it left. */
function migrationFailure(error: MigrationError, verbose: boolean): CliError {
  if (error.phase === 'connect') {
    return classifyDatabaseError(error.cause) ?? new CliError(EXIT.unavailable, error.message);
  }
  const lines = [error.message];
  if (error.migration !== undefined) {
    lines.push(
      `Nothing of ${error.migration} was applied: its transaction was rolled back. ` +
        `Migrations before it stay ${error.operation === 'up' ? 'applied' : 'reverted'}.`,
    );
    if (!verbose) lines.push('Run with --verbose to see the statement that failed.');
  }
  return new CliError(EXIT.failure, lines.join('\n'));
}

async function runMigrations(invocation: Invocation, target: MigrationTarget, direction: MigrationDirection): Promise<void> {
  const managed = direction === 'up' ? readManagedKeys(process.env) : undefined;
  console.log(`migrate ${direction}: ${describeDatabaseUrl(target.url)} (from ${target.variable})`);
  let ran: string[];
  try {
    ran = await migrate({
      databaseUrl: target.url,
      direction,
      dir: invocation.dir,
      ...(invocation.count === undefined ? {} : { count: invocation.count }),
      log: (line) => console.log(`  ${line}`),
      ...(invocation.verbose ? { libraryLog: (line: string) => console.error(line) } : {}),
    });
  } catch (error) {
    if (error instanceof MigrationError) throw migrationFailure(error, invocation.verbose);
    throw error;
  }
  const plural = ran.length === 1 ? 'migration' : 'migrations';
  if (ran.length === 0) console.log(direction === 'up' ? 'No pending migrations: the schema is up to date.' : 'No migration to revert.');
  else console.log(`${direction === 'up' ? 'Applied' : 'Reverted'} ${ran.length} ${plural}.`);
  if (direction === 'up') await syncKeys(target, managed);
}

async function syncKeys(target: MigrationTarget, managed: ManagedKeyEntry[] | undefined): Promise<void> {
  if (managed === undefined) {
    console.log(`${MANAGED_KEYS_ENV} is not set: deployment-managed keys are left as they are.`);
    return;
  }
  const sql = createSql(
    {
      url: target.url,
      poolMax: 1,
      statementTimeoutMs: MIGRATION_CONNECT_TIMEOUT_MS,
      connectTimeoutS: MIGRATION_CONNECT_TIMEOUT_MS / 1000,
      idleTimeoutS: MIGRATION_CONNECT_TIMEOUT_MS / 1000,
      prepare: 'auto',
    },
    { applicationName: MIGRATION_APPLICATION_NAME },
  );
  try {
    const result = await syncManagedKeys(
      { sql, clock: systemClock, audit: auditToLogger(createCliLogger()), actor: 'migrate' },
      managed,
    );
    console.log(
      `Managed keys (${MANAGED_KEYS_ENV}): ${result.added.length} added, ${result.replaced.length} replaced, ` +
        `${result.revoked.length} revoked, ${result.unchanged.length} unchanged.`,
    );
  } catch (error) {
    if (error instanceof ManagedKeysError) throw new CliError(EXIT.config, error.message);
    throw error;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function printStatus(invocation: Invocation, target: MigrationTarget): Promise<void> {
  let status;
  try {
    status = await migrationStatus({ databaseUrl: target.url, dir: invocation.dir });
  } catch (error) {
    if (error instanceof MigrationError) throw migrationFailure(error, invocation.verbose);
    throw error;
  }
  console.log(`Migrations of ${describeDatabaseUrl(target.url)} (from ${target.variable}), files in ${invocation.dir}:`);
  const width = Math.max(0, ...[...status.applied.map((entry) => entry.name), ...status.pending].map((name) => name.length));
  for (const entry of status.applied) {
    const note = entry.known ? '' : '  (no file in this build: the database is ahead of this code)';
    console.log(`  applied  ${entry.name.padEnd(width)}  ${entry.runOn.toISOString()}${note}`);
  }
  for (const name of status.pending) console.log(`  pending  ${name}`);
  console.log(`${status.applied.length} applied, ${status.pending.length} pending.`);
}

/**
 * How long `up` or `down` may run in all: far beyond any migration this project should write
 * (they are small, expand/contract steps), so only a run stuck on something is stopped.
 * `status` keeps the CLIs' default deadline.
 */
const MIGRATION_DEADLINE_MS = 30 * 60_000;

async function main(context: CliContext): Promise<ExitCode> {
  const invocation = parseInvocation(process.argv.slice(2));
  if (invocation === undefined) return showUsage(USAGE);
  const target = migrationTarget(process.env);
  await probePostgres(target.url);
  if (invocation.command !== 'status') context.setDeadline(MIGRATION_DEADLINE_MS);
  if (invocation.command === 'status') await printStatus(invocation, target);
  else await runMigrations(invocation, target, invocation.command);
  return EXIT.ok;
}

await runCli(main, [process.env.MIGRATION_DATABASE_URL ?? '', process.env.DATABASE_URL ?? '']);
