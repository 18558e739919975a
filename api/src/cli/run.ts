/**
 * What both CLIs share: the audit logger, turning any failure into one readable message and an
 * exit code, and keeping secrets out of everything printed.
 */
import { pino } from 'pino';
import { isUnavailable, sqlStateOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { describeDatabaseError } from '../migrate.js';
import { readPackageVersion } from '../version.js';
import { redactUrls } from './database-url.js';
import { databaseAddress } from './postgres-probe.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';

/** Anything shaped like a service key; hidden from error output whatever produced it. */
const SERVICE_KEY_LIKE = /sk_(?:dev|test|prod)_[A-Za-z0-9]{8,}/g;

/**
 * The CLIs' structured log (audit lines): the API's JSON line format, on stderr so that
 * stdout stays the command's output (a key, a list, `--json`), written synchronously so that
 * nothing is lost when the process exits.
 */
export function createCliLogger(env: Record<string, string | undefined> = process.env): Logger {
  const version = env.APP_VERSION === undefined || env.APP_VERSION === '' ? readPackageVersion() : env.APP_VERSION;
  return pino(
    {
      level: 'info',
      base: { service: 'chapi', version },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}

/**
 * A database error as an operator should read it, with its exit code: unreachable (8),
 * login refused, no such database or table (7); undefined for anything else.
 */
export function classifyDatabaseError(error: unknown): CliError | undefined {
  const described = describeDatabaseError(error);
  if (isUnavailable(error)) return new CliError(EXIT.unavailable, `cannot reach the database: ${described}`);
  const state = sqlStateOf(error);
  if (state?.startsWith('28')) return new CliError(EXIT.config, `the database refused the login: ${described}`);
  if (state === '3D000') return new CliError(EXIT.config, `no such database: ${described}`);
  if (state === '42P01') {
    return new CliError(EXIT.config, `${described}: the schema is missing; run "npm run migrate -- up" first`);
  }
  return undefined;
}

/**
 * How long one CLI command may take in all, unless it says otherwise: a key action or a status
 * is a few statements, so two minutes means something is wrong (a stuck lock, a server that
 * is not PostgreSQL) and the operator hears so instead of watching a silent terminal.
 */
export const DEFAULT_CLI_DEADLINE_MS = 120_000;

/** What `runCli` gives a CLI's `main`. */
export interface CliContext {
  /** Replaces the overall deadline from now on (a migration may legitimately run long). */
  setDeadline(ms: number): void;
}

/**
 * Runs a CLI's `main` and sets the process's exit code. A `CliError` prints its message; a
 * database error is classified; anything else is "unexpected" (exit 1) with its message only.
 * Every line printed on failure has the URLs' passwords and anything like a key removed.
 *
 * The whole command runs under a deadline (`DEFAULT_CLI_DEADLINE_MS` unless `main` sets
 * another): when it passes, the CLI prints which database it was waiting for (host and port,
 * the first of `secretUrls` that is set) and exits 8 at once, whatever the drivers are doing.
 */
export async function runCli(main: (context: CliContext) => Promise<ExitCode>, secretUrls: readonly string[]): Promise<void> {
  const target = secretUrls.find((url) => url !== '');
  const address = target === undefined ? undefined : databaseAddress(target);
  let timer: NodeJS.Timeout | undefined;
  const setDeadline = (ms: number): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const where = address === undefined ? 'the database' : `the database at ${address.label}`;
      console.error(`error: no result within ${Math.round(ms / 1000)} s: still waiting for ${where} (is it reachable, and is that port PostgreSQL's?)`);
      // The drivers may still be reconnecting: exit now rather than wait for them.
      process.exit(EXIT.unavailable);
    }, ms);
  };
  setDeadline(DEFAULT_CLI_DEADLINE_MS);
  let code: ExitCode;
  try {
    code = await main({ setDeadline });
  } catch (error) {
    const failure =
      error instanceof CliError
        ? error
        : (classifyDatabaseError(error) ?? new CliError(EXIT.failure, `unexpected error: ${describeDatabaseError(error)}`));
    const message = redactUrls(failure.message, secretUrls).replace(SERVICE_KEY_LIKE, '[redacted key]');
    console.error(`error: ${message}`);
    code = failure.exitCode;
  } finally {
    clearTimeout(timer);
  }
  process.exitCode = code;
}
