/**
 * The process logger: one JSON line per event (pino), carrying the version on every line.
 * Credentials are redacted by path so a logged header or config object can never leak a key.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

/** Paths that may hold a secret, wherever a caller logs a request or an object. */
const REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers["x-service-key"]',
  'req.headers["x-admin-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.service_key',
  '*.new_key',
  '*.databaseUrl',
  '*.adminApiKey',
];

/** The logger's options (exported so tests can send the same lines elsewhere). */
export function createLoggerOptions(options: { level: LogLevel; version: string }): LoggerOptions {
  return {
    level: options.level,
    base: { service: 'chapi', version: options.version },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
}

/** The process logger, writing JSON lines to stdout. */
export function createLogger(options: { level: LogLevel; version: string }): Logger {
  return pino(createLoggerOptions(options));
}
