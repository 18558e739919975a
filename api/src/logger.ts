/**
 * The process logger: one JSON line per event (pino), carrying the version on every line.
 * Credentials are redacted by path so a logged header or config object can never leak a key.
 *
 * Lines are written in batches: a write(2) to stdout per request line was among the largest
 * costs in a CPU profile under load (see docs/performance.md). So lines collect in a 4 KiB
 * buffer (sonic-boom's `minLength`, written synchronously when full), the buffer is written
 * at least once a second (its `periodicFlush`), at once after lifecycle and 5xx lines
 * (`flushLogs`), and when the process exits (not on SIGKILL: up to a second of request lines
 * can be lost then).
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
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

/** Bytes of log lines collected before they are written. */
const BUFFER_BYTES = 4096;
/** The longest a line waits in the buffer when traffic is light. */
const FLUSH_INTERVAL_MS = 1000;

type Flushable = DestinationStream & { flushSync(): void };
const buffers = new Set<Flushable>();

/**
 * Writes every buffered line now. Called after lines that must not wait for the buffer:
 * lifecycle lines, and 5xx lines (which a crash or SIGKILL right after would otherwise lose).
 */
export function flushLogs(): void {
  for (const buffer of buffers) {
    try {
      buffer.flushSync();
    } catch {
      // stdout is gone (its reader closed): nothing left to write to.
    }
  }
}

/** At exit, whatever ends the process, the lines still in a buffer are written. */
function flushAtExit(destination: Flushable): void {
  if (buffers.size === 0) process.once('exit', flushLogs);
  buffers.add(destination);
}

/** The process logger, writing JSON lines to stdout in batches (see above). */
export function createLogger(options: { level: LogLevel; version: string }): Logger {
  const destination = pino.destination({ dest: 1, sync: true, minLength: BUFFER_BYTES, periodicFlush: FLUSH_INTERVAL_MS }) as Flushable;
  flushAtExit(destination);
  return pino(createLoggerOptions(options), destination);
}

/** The access log's line: one per request (`middleware/access-log.ts`). No field holds a secret. */
export interface RequestLine {
  request_id: string;
  method: string;
  route: string | null;
  status: number;
  duration_ms: number;
  key_name: string | null;
  user_id: string | null;
}

/** A JSON value of a request line: text escaped by JSON.stringify, numbers and null as they are. */
function jsonValue(value: string | number | null): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * Writes request lines to `logger`'s destination, the same line pino would write for
 * `logger.info(line, 'request')` (field order included; a test compares the two), without
 * pino's general path: in a CPU profile of `/health` under load, pino's serialisation and
 * redaction took a tenth of the process's CPU for a line whose seven fields are known and
 * carry no secret. Everything else (lifecycle lines, 5xx lines with their error) goes
 * through pino. The level is checked on every line, so changing `logger.level` still works.
 */
export function requestLineWriter(logger: Logger): (line: RequestLine) => void {
  const stream = (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym] as DestinationStream;
  // The logger's base fields (service, version), serialised once by pino itself.
  const bindings = (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] as string;
  return (line) => {
    if (!logger.isLevelEnabled('info')) return;
    stream.write(
      `{"level":"info","time":"${new Date().toISOString()}"${bindings},"request_id":${jsonValue(line.request_id)},` +
        `"method":${jsonValue(line.method)},"route":${jsonValue(line.route)},"status":${jsonValue(line.status)},` +
        `"duration_ms":${jsonValue(line.duration_ms)},"key_name":${jsonValue(line.key_name)},"user_id":${jsonValue(line.user_id)},` +
        `"msg":"request"}\n`,
    );
  };
}
