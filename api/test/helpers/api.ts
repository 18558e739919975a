/**
 * Starts the real API (the production `startServer`) on 127.0.0.1 with an ephemeral port,
 * against a test database; tests talk to it over real HTTP.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import type { Sql } from '../../src/db.js';
import { displayPrefix, generateServiceKey, hashServiceKey, type KeyEnvironment } from '../../src/keys/format.js';
import { insertKey } from '../../src/keys/sql.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';

export interface TestApiOptions {
  /** Extra environment for `loadConfig`, e.g. `{ ADMIN_API_KEY: '…' }`. */
  env?: Record<string, string>;
  clock?: Clock;
  logger?: Logger;
  /** Small service-key caches, to overflow them quickly. */
  keyCacheMax?: { known: number; unknown: number };
}

/** A running API whose logs are silent unless `LOG_LEVEL` is set for the test run. */
export async function startTestApi(databaseUrl: string, options: TestApiOptions = {}): Promise<RunningServer> {
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    ...options.env,
  });
  const logger = options.logger ?? createLogger({ level: config.logLevel, version: config.version });
  return await startServer(config, {
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.keyCacheMax ? { keyCacheMax: options.keyCacheMax } : {}),
  });
}

/** Issues a service key straight into the database; returns the plaintext key. */
export async function createTestKey(
  sql: Sql,
  options: { name?: string; environment?: KeyEnvironment } = {},
): Promise<string> {
  const environment = options.environment ?? 'test';
  const key = generateServiceKey(environment);
  await insertKey(sql, {
    keyName: options.name ?? `test-${randomBytes(4).toString('hex')}`,
    environment,
    hash: hashServiceKey(key),
    displayPrefix: displayPrefix(key),
    origin: 'created',
  });
  return key;
}
