/**
 * The CLIs' command lines: Node's `parseArgs`, strict, its refusals as the usage error (exit 2)
 * every CLI answers a bad command line with.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT, usageError, type ExitCode } from './exit-codes.js';

/** `parseArgs(config)`, or a usage error naming what was wrong. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
}

/** Prints a CLI's `--help` text; the exit code of having done so. */
export function showUsage(usage: string): ExitCode {
  console.log(usage);
  return EXIT.ok;
}
