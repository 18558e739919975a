/**
 * A pino logger whose lines land in an array, for tests that check what the API logs (and
 * what it never logs: keys). Same options as the API's own logger (`createLogger`), so
 * redaction and formatting are what production writes.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createLoggerOptions } from '../../src/logger.js';
import type { Logger } from '../../src/logger.js';

/** A logger and what it wrote. */
export interface CapturedLogs {
  logger: Logger;
  /** Every line so far, parsed. */
  lines: Record<string, unknown>[];
  /** Every line so far, as written. */
  text(): string;
}

/** A logger that keeps its lines for the test to read. */
export function captureLogs(options: { level?: 'info' | 'debug' } = {}): CapturedLogs {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const logger = pino(createLoggerOptions({ level: options.level ?? 'info', version: 'test' }), sink);
  return { logger, lines, text: () => raw.join('\n') };
}
