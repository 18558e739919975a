/**
 * The API's configuration: read from the environment once at start-up, validated, typed.
 *
 * A bad value stops start-up with one line naming the variable and what it accepts
 * (`ConfigError`); the value of a secret (`DATABASE_URL`, `ADMIN_API_KEY`) is never printed.
 */
import type { RateLimitConfig } from './rate-limit.js';
import { readPackageVersion } from './version.js';

/** Thrown for an invalid environment; its message is the one line an operator needs. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `NODE_ENV`: production enables the production-only rules (sk_prod_ keys, no CORS wildcard). */
export type NodeEnv = 'production' | 'development' | 'test';
/** `LOG_LEVEL`: pino's levels. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
/** `auto`: named prepared statements unless the URL is a PgBouncer pooler (Neon's `-pooler` host). */
export type PrepareMode = 'auto' | 'on' | 'off';

/** The database part of the configuration (`DATABASE_URL`, `DB_*`). */
export interface DatabaseConfig {
  /** Connection string; may carry `sslmode` / `channel_binding` (Neon). Secret. */
  url: string;
  /** Connections per API process. @default 10 (2 tasks × 10 stays well inside Neon's pooler limits) */
  poolMax: number;
  /**
   * Longest a query may take, waiting for a pool connection included, before the API cancels it
   * and answers 503 (`db.ts`, `withDeadline`). On a direct connection PostgreSQL also enforces a
   * statement_timeout a second later; Neon's pooler accepts none. @default 5000
   */
  statementTimeoutMs: number;
  /** Longest a new connection may take to open. @default 5 */
  connectTimeoutS: number;
  /**
   * Idle connections are closed after this long. @default 30
   * Neon's pooler and the NAT gateway drop idle TCP connections (the NAT after 350 s); closing
   * ours well before keeps the pool from handing out a socket that is already dead.
   */
  idleTimeoutS: number;
  /** Named prepared statements: see `PrepareMode`. @default 'auto' */
  prepare: PrepareMode;
}

/** The whole, validated configuration of the API process. */
export interface Config {
  nodeEnv: NodeEnv;
  /** @default 8000 (the container port the ALB's target group sends to) */
  port: number;
  /** @default '0.0.0.0' (every interface, as a container needs) */
  host: string;
  logLevel: LogLevel;
  /** Origins that get CORS headers; empty means none does. Never `*` in production. */
  corsOrigins: string[];
  /** When unset the `/admin/*` routes do not exist. At least 32 characters. Secret. */
  adminApiKey: string | undefined;
  /**
   * How long in-flight requests may take to finish after SIGTERM. @default 25000
   * ECS sends SIGKILL 30 s (the task's stop timeout) after SIGTERM: 25 s leaves room to close
   * the pool and flush logs.
   */
  shutdownGraceMs: number;
  /** The git commit the image was built from (`APP_VERSION`), else the package version. */
  version: string;
  database: DatabaseConfig;
  /** `RATE_LIMIT_KEY_RPS` and `RATE_LIMIT_AUTH_FAILURES_PER_MIN` (`rate-limit.ts`). */
  rateLimit: RateLimitConfig;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const NODE_ENVS: readonly NodeEnv[] = ['production', 'development', 'test'];
const PREPARE_MODES: readonly PrepareMode[] = ['auto', 'on', 'off'];
/** The contract: an admin key shorter than this is refused at start-up. */
export const MIN_ADMIN_KEY_LENGTH = 32;

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

function databaseUrl(env: Env): string {
  const raw = env.DATABASE_URL;
  if (raw === undefined || raw === '') {
    throw new ConfigError('DATABASE_URL is required (a postgres:// connection string)');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Never echo the value: it holds the database password.
    throw new ConfigError('DATABASE_URL is not a valid URL (expected postgres://user:password@host:port/db)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL must start with postgres:// or postgresql://');
  }
  return raw;
}

function corsOrigins(env: Env, nodeEnv: NodeEnv): string[] {
  const origins = (env.CORS_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  for (const origin of origins) {
    if (origin === '*') {
      if (nodeEnv === 'production') {
        throw new ConfigError('CORS_ORIGINS must list origins explicitly in production (a wildcard "*" is refused)');
      }
      continue;
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    // An origin is scheme://host[:port] and nothing else; a path or trailing slash never matches.
    if (parsed === undefined || parsed.origin !== origin) {
      throw new ConfigError(`CORS_ORIGINS entries must be origins like https://cathouse.example (got "${origin}")`);
    }
  }
  return origins;
}

function adminApiKey(env: Env): string | undefined {
  const raw = env.ADMIN_API_KEY;
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < MIN_ADMIN_KEY_LENGTH) {
    throw new ConfigError(`ADMIN_API_KEY must be at least ${MIN_ADMIN_KEY_LENGTH} characters (it has ${raw.length})`);
  }
  return raw;
}

/** Reads and validates the whole configuration; throws `ConfigError` on the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = oneOf(env, 'NODE_ENV', NODE_ENVS, 'development');
  return {
    nodeEnv,
    port: integer(env, 'PORT', 8000, 0, 65535),
    host: env.HOST === undefined || env.HOST === '' ? '0.0.0.0' : env.HOST,
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    corsOrigins: corsOrigins(env, nodeEnv),
    adminApiKey: adminApiKey(env),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 25_000, 0, 120_000),
    version: env.APP_VERSION === undefined || env.APP_VERSION === '' ? readPackageVersion() : env.APP_VERSION,
    database: {
      url: databaseUrl(env),
      poolMax: integer(env, 'DB_POOL_MAX', 10, 1, 100),
      statementTimeoutMs: integer(env, 'DB_STATEMENT_TIMEOUT_MS', 5_000, 100, 120_000),
      connectTimeoutS: integer(env, 'DB_CONNECT_TIMEOUT_S', 5, 1, 60),
      idleTimeoutS: integer(env, 'DB_IDLE_TIMEOUT_S', 30, 1, 3_600),
      prepare: oneOf(env, 'DB_PREPARE', PREPARE_MODES, 'auto'),
    },
    rateLimit: {
      keyRps: integer(env, 'RATE_LIMIT_KEY_RPS', 0, 0, 100_000),
      authFailuresPerMin: integer(env, 'RATE_LIMIT_AUTH_FAILURES_PER_MIN', 300, 0, 1_000_000),
    },
  };
}
