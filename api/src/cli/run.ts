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
 * Runs a CLI's `main` and sets the process's exit code. A `CliError` prints its message; a
 * database error is classified; anything else is "unexpected" (exit 1) with its message only.
 * Every line printed on failure has the URLs' passwords and anything like a key removed.
 */
export async function runCli(main: () => Promise<ExitCode>, secretUrls: readonly string[]): Promise<void> {
  let code: ExitCode;
  try {
    code = await main();
  } catch (error) {
    const failure =
      error instanceof CliError
        ? error
        : (classifyDatabaseError(error) ?? new CliError(EXIT.failure, `unexpected error: ${describeDatabaseError(error)}`));
    const message = redactUrls(failure.message, secretUrls).replace(SERVICE_KEY_LIKE, '[redacted key]');
    console.error(`error: ${message}`);
    code = failure.exitCode;
  }
  process.exitCode = code;
}
