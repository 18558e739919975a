/**
 * Authentication: service keys (`X-API-Key`, or `X-Service-Key` as the Cat House client
 * sends it) for the task routes, the admin key (`X-Admin-Key`) for `/admin/*`.
 *
 * The hot path costs no database round trip: a key is looked up by its SHA-256 once, then
 * served from memory for at most 30 s (so a revocation lands within 30 s on every task), and
 * an unknown key is remembered for 5 s (so repeating a bad key cannot hammer the database).
 * Malformed keys never reach the database. `last_used_at` is written at most once a minute
 * per key, after the response, never on the request's path.
 *
 * Every failure is the same 401: the response never says whether the key was missing,
 * malformed, unknown, revoked or expired, and never echoes it. Keys are never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Middleware } from 'koa';
import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';
import { withDeadline, type Db } from './db.js';
import { ApiError } from './errors.js';
import { hashServiceKey, parseServiceKey } from './keys/format.js';
import { keyByHashQuery, touchLastUsed, type ServiceKeyRow } from './keys/sql.js';
import { isKeyUsable } from './keys/status.js';
import type { Logger } from './logger.js';
import type { AccessLogState } from './middleware/access-log.js';

/** The contract: revoking or rotating takes effect within 30 s on every running API task. */
export const KEY_CACHE_TTL_MS = 30_000;
/** How long "no such key" is remembered: short, so a key issued just now works soon. */
export const NEGATIVE_CACHE_TTL_MS = 5_000;
/** Distinct keys kept in memory; beyond it the least recently used go (bounds a key flood). */
export const KEY_CACHE_MAX_ENTRIES = 10_000;
/** `last_used_at` precision: a write per key per minute at most. */
export const LAST_USED_INTERVAL_MS = 60_000;

/** The service key a request authenticated with (never the key itself). */
export interface AuthenticatedKey {
  id: string;
  name: string;
}

/** Request state the key checks fill in (on top of what the access log reads). */
export interface AuthState extends AccessLogState {
  /** Set by `requireServiceKey`. */
  serviceKey?: AuthenticatedKey;
}

/**
 * lru-cache treats an entry as stale once it is strictly older than its TTL; one millisecond
 * less makes "at most 30 s" exact (an entry 30 s old is looked up again).
 */
function cacheTtl(ms: number): number {
  return ms - 1;
}

/** What the cache holds for a hash: the key's row, or null for "no such key". */
interface CachedLookup {
  row: ServiceKeyRow | null;
}

/** The label the access log shows for admin requests: not a valid key name, so never confused. */
export const ADMIN_KEY_LABEL = '(admin)';

function unauthorized(message = 'A valid service key is required in the X-API-Key header'): ApiError {
  return new ApiError('unauthorized', message, { headers: { 'WWW-Authenticate': 'ApiKey' } });
}

/** One header value: absent, or its text (Node joins a repeated custom header with ", "). */
function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** What service-key authentication needs. */
export interface ServiceKeyAuthDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** `NODE_ENV=production`: only `sk_prod_` keys authenticate. */
  productionOnly: boolean;
}

/** Service-key authentication with its cache; one per app. */
export class ServiceKeyAuth {
  private readonly deps: ServiceKeyAuthDeps;
  private readonly cache: LRUCache<string, CachedLookup, Buffer>;
  /** When each key's `last_used_at` was last written by this process. */
  private readonly lastTouched = new Map<string, number>();

  constructor(deps: ServiceKeyAuthDeps) {
    this.deps = deps;
    this.cache = new LRUCache<string, CachedLookup, Buffer>({
      max: KEY_CACHE_MAX_ENTRIES,
      ttl: cacheTtl(KEY_CACHE_TTL_MS),
      // Expiry follows the injected clock (tests move it) and reads it on every access.
      perf: deps.clock,
      ttlResolution: 0,
      // Concurrent requests with one uncached key share this one lookup.
      fetchMethod: async (_hash, _stale, { options, context }) => {
        const [row] = await withDeadline(keyByHashQuery(deps.db.sql, context), deps.db.queryTimeoutMs);
        options.ttl = cacheTtl(row === undefined ? NEGATIVE_CACHE_TTL_MS : KEY_CACHE_TTL_MS);
        return { row: row ?? null };
      },
    });
  }

  /**
   * The key the headers carry, if it authenticates now; otherwise a 401 (or the 503 of a
   * database that cannot answer the lookup).
   */
  async authenticate(headers: IncomingHttpHeaders): Promise<AuthenticatedKey> {
    const apiKey = header(headers, 'x-api-key');
    const serviceKey = header(headers, 'x-service-key');
    if (apiKey !== undefined && serviceKey !== undefined && apiKey !== serviceKey) {
      throw unauthorized('X-API-Key and X-Service-Key carry different keys: send one');
    }
    const key = apiKey ?? serviceKey;
    if (key === undefined) throw unauthorized();
    const environment = parseServiceKey(key);
    if (environment === undefined) throw unauthorized();
    if (this.deps.productionOnly && environment !== 'prod') throw unauthorized();

    const hash = hashServiceKey(key);
    const lookup = await this.cache.fetch(hash.toString('base64'), { context: hash });
    const now = this.deps.clock.now();
    const row = lookup?.row ?? null;
    if (row === null || !isKeyUsable(row, now)) throw unauthorized();
    this.touchSoon(row.id, now);
    return { id: row.id, name: row.key_name };
  }

  /** Records the key's use, at most once a minute, without making the request wait. */
  private touchSoon(id: string, now: number): void {
    const last = this.lastTouched.get(id);
    if (last !== undefined && now - last < LAST_USED_INTERVAL_MS) return;
    this.lastTouched.set(id, now);
    withDeadline(touchLastUsed(this.deps.db.sql, id, new Date(now)), this.deps.db.queryTimeoutMs).catch((error: unknown) => {
      // Best effort: the next request a minute on tries again.
      this.lastTouched.delete(id);
      this.deps.logger.warn({ err: error, key_id: id }, 'could not record last_used_at');
    });
  }

  /** Koa middleware: 401 unless the request carries a working service key. */
  middleware(): Middleware<AuthState> {
    return async (ctx, next) => {
      const key = await this.authenticate(ctx.req.headers);
      ctx.state.serviceKey = key;
      ctx.state.keyName = key.name;
      await next();
    };
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Koa middleware for `/admin/*`: 401 unless `X-Admin-Key` equals `ADMIN_API_KEY`. Both sides
 * are hashed first, so the comparison takes the same time whatever the lengths and contents.
 */
export function requireAdminKey(adminApiKey: string): Middleware<AccessLogState> {
  const expected = sha256(adminApiKey);
  return async (ctx, next) => {
    const given = header(ctx.req.headers, 'x-admin-key');
    if (given === undefined || !timingSafeEqual(sha256(given), expected)) {
      throw unauthorized('A valid admin key is required in the X-Admin-Key header');
    }
    ctx.state.keyName = ADMIN_KEY_LABEL;
    await next();
  };
}
