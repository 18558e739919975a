/**
 * The exit codes of `npm run migrate`, `npm run keys` and `npm run import`, one table for all, so a script or
 * the deploy pipeline can tell a retryable outage (8) from a mistake to fix (2..7).
 */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** A migration failed (rolled back), or an unexpected error. */
  failure: 1,
  /** Bad arguments: unknown command or option, missing or malformed value. */
  usage: 2,
  /** `--env` is not dev, test or prod. */
  badEnvironment: 3,
  /** No active key has that name (rotate, revoke). */
  notFound: 4,
  /** The name already has an active key (create). */
  nameTaken: 5,
  /** The key is managed by the deployment (SERVICE_API_KEYS): change the secret instead. */
  managedKey: 6,
  /** The environment is wrong: a missing or malformed URL or SERVICE_API_KEYS, login refused, no such database or table. */
  config: 7,
  /** The database cannot be reached (down, restarting, too slow): retry later. */
  unavailable: 8,
  /** `import`: it ran, but refused some rows or the per-user counts differ (the report says which). */
  incomplete: 9,
} as const;

/** One of the codes in `EXIT`. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * A CLI's exit-code table as its `--help` shows it: only the codes that CLI can return, each
 * described for that CLI (a script reading `keys --help` should not see migrate's codes).
 */
export function exitCodesHelp(entries: readonly (readonly [ExitCode, string])[]): string {
  return ['Exit codes:', ...entries.map(([code, meaning]) => `  ${code}  ${meaning}`)].join('\n');
}

/** A failure the CLI reports as one message and an exit code (no stack trace). */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** A bad command line (exit 2), with the pointer to `--help`. */
export function usageError(message: string): CliError {
  return new CliError(EXIT.usage, `${message}\nRun with --help for usage.`);
}
