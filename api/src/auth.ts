/**
 * Authentication: service keys (`X-API-Key`, or `X-Service-Key` as the Cat House client
 * sends it) for the task routes, the admin key (`X-Admin-Key`) for `/admin/*`.
 *
 * The hot path costs no database round trip: a key is looked up by its SHA-256 once, then
 * served from memory for at most 30 s (so a revocation lands within 30 s on every task, and at
 * once on the task that revoked it: `forget`), and an unknown key is remembered for 5 s (so
 * repeating a bad key cannot hammer the database). Known and unknown keys live in separate
 * bounded caches: a flood of unknown keys can never push a known one out. A key is looked up
 * whatever its shape (imported keys keep the earlier service's), as long as it is printable
 * ASCII of 16..256 characters; anything else never reaches the database. In production only
 * keys of the `prod` environment authenticate: an `sk_dev_`/`sk_test_` key is refused before
 * the lookup, and a key whose stored environment is not `prod` after it (an imported key
 * without a prefix has the environment the import gave it). `last_used_at` is written at most once a minute per key, after
 * the response, never on the request's path.
 *
 * Rate limits (`rate-limit.ts`) come first, before any database work: the per-key limit, and
 * the source's budget of failed authentications (every 401, admin key included, spends one).
 *
 * Every failure is the same 401: the response never says whether the key was missing,
 * malformed, unknown, revoked or expired, and never echoes it. Keys are never logged.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Middleware } from 'koa';
import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';
import { withDeadline, type Db } from './db.js';
import { ApiError } from './errors.js';
import { clientSource, type RateLimiter } from './rate-limit.js';
import { hashServiceKey, isLookupableKey, prefixEnvironment } from './keys/format.js';
import { keyByHashQuery, touchLastUsed, type ServiceKeyRow } from './keys/sql.js';
import { isKeyUsable } from './keys/status.js';
import type { Logger } from './logger.js';
import type { AccessLogState } from './middleware/access-log.js';

/** The contract: revoking or rotating takes effect within 30 s on every running API task. */
export const KEY_CACHE_TTL_MS = 30_000;
/** How long "no such key" is remembered: short, so a key issued just now works soon. */
export const NEGATIVE_CACHE_TTL_MS = 5_000;
/** Known keys kept in memory; beyond it the least recently used go. */
export const KEY_CACHE_MAX_ENTRIES = 10_000;
/** Unknown keys remembered, in their own cache (bounds a key flood without touching known ones). */
export const NEGATIVE_CACHE_MAX_ENTRIES = 10_000;
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
  /** `NODE_ENV=production`: only keys of the `prod` environment authenticate. */
  productionOnly: boolean;
  /** @default no limits */
  limiter?: RateLimiter;
  /** Cache sizes (tests make them small). @default KEY_CACHE_MAX_ENTRIES, NEGATIVE_CACHE_MAX_ENTRIES */
  cacheMax?: { known: number; unknown: number };
}

/** Service-key authentication with its caches; one per app. */
export class ServiceKeyAuth {
  private readonly deps: ServiceKeyAuthDeps;
  /** Keys found in the database, by the base64 of their hash. */
  private readonly known: LRUCache<string, ServiceKeyRow, Buffer>;
  /** Hashes the database did not know, remembered briefly. */
  private readonly unknown: LRUCache<string, true>;
  /** When each key's `last_used_at` was last written by this process. */
  private readonly lastTouched = new Map<string, number>();

  constructor(deps: ServiceKeyAuthDeps) {
    this.deps = deps;
    // Expiry follows the injected clock (tests move it) and reads it on every access.
    const clockOptions = { perf: deps.clock, ttlResolution: 0 };
    this.unknown = new LRUCache<string, true>({
      max: deps.cacheMax?.unknown ?? NEGATIVE_CACHE_MAX_ENTRIES,
      ttl: cacheTtl(NEGATIVE_CACHE_TTL_MS),
      ...clockOptions,
    });
    this.known = new LRUCache<string, ServiceKeyRow, Buffer>({
      max: deps.cacheMax?.known ?? KEY_CACHE_MAX_ENTRIES,
      ttl: cacheTtl(KEY_CACHE_TTL_MS),
      ...clockOptions,
      // A lookup in flight whose slot a flood of other lookups evicts still answers its
      // requests (lru-cache would otherwise abort it: a 500 for a valid key).
      ignoreFetchAbort: true,
      // Concurrent requests with one uncached key share this one lookup. An unknown key
      // resolves undefined, which lru-cache does not store: it goes to `unknown` instead.
      fetchMethod: async (id, _stale, { context }) => {
        const [row] = await withDeadline(keyByHashQuery(deps.db.sql, context), deps.db.queryTimeoutMs);
        if (row === undefined) this.unknown.set(id, true);
        return row;
      },
    });
  }

  /** The presented key, its hash, or a 401 when it cannot be a key (no database needed). */
  private presentedKey(headers: IncomingHttpHeaders): { id: string; hash: Buffer } {
    const apiKey = header(headers, 'x-api-key');
    const serviceKey = header(headers, 'x-service-key');
    if (apiKey !== undefined && serviceKey !== undefined && apiKey !== serviceKey) {
      throw unauthorized('X-API-Key and X-Service-Key carry different keys: send one');
    }
    const key = apiKey ?? serviceKey;
    if (key === undefined) throw unauthorized();
    if (!isLookupableKey(key)) throw unauthorized();
    const named = prefixEnvironment(key);
    if (this.deps.productionOnly && named !== undefined && named !== 'prod') throw unauthorized();
    const hash = hashServiceKey(key);
    return { id: hash.toString('base64'), hash };
  }

  /** Whether a key's row authenticates now: usable, and of the `prod` environment in production. */
  private usable(row: ServiceKeyRow | undefined): row is ServiceKeyRow {
    return row !== undefined && isKeyUsable(row, this.deps.clock.now()) && (!this.deps.productionOnly || row.environment === 'prod');
  }

  /** The usable row this process already holds for the key, without asking the database. */
  private cachedUsable(id: string): ServiceKeyRow | undefined {
    const row = this.known.get(id);
    return this.usable(row) ? row : undefined;
  }

  /**
   * The key the headers carry, if it authenticates now; otherwise a 401 (or the 503 of a
   * database that cannot answer the lookup, or the 429 of a rate limit). `source` is the
   * client's address (`clientSource`), for the limit on failed authentications.
   */
  async authenticate(headers: IncomingHttpHeaders, source = 'unknown'): Promise<AuthenticatedKey> {
    const limiter = this.deps.limiter;
    try {
      const presented = this.presentedKey(headers);
      limiter?.takeKey(presented.id);
      let row = this.cachedUsable(presented.id);
      if (row === undefined) {
        if (this.unknown.has(presented.id)) throw unauthorized();
        // A source out of failed authentications gets no database lookup.
        limiter?.checkSource(source);
        row = await this.known.fetch(presented.id, { context: presented.hash });
        if (!this.usable(row)) throw unauthorized();
      }
      this.touchSoon(row.id, this.deps.clock.now());
      return { id: row.id, name: row.key_name };
    } catch (error) {
      if (error instanceof ApiError && error.code === 'unauthorized' && limiter !== undefined) {
        // A source out of failed authentications hears 429 for every one, cheap ones included.
        limiter.checkSource(source);
        limiter.recordFailure(source);
      }
      throw error;
    }
  }

  /**
   * Drops what this process remembers about the keys of `keyName`, so that a revocation or
   * rotation made through this process applies to its next request (other tasks: within
   * KEY_CACHE_TTL_MS).
   */
  forget(keyName: string): void {
    for (const [id, row] of this.known.entries()) if (row.key_name === keyName) this.known.delete(id);
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
      const key = await this.authenticate(ctx.req.headers, clientSource(ctx.req));
      ctx.state.serviceKey = key;
      ctx.state.keyName = key.name;
      await next();
    };
  }
}

function sha256(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/**
 * Koa middleware for `/admin/*`: 401 unless `X-Admin-Key` equals `ADMIN_API_KEY`. Both sides
 * are hashed first, so the comparison takes the same time whatever the lengths and contents.
 * A source out of failed authentications gets 429 before its key is compared (guessing).
 */
export function requireAdminKey(adminApiKey: string, limiter?: RateLimiter): Middleware<AccessLogState> {
  const expected = sha256(adminApiKey);
  return async (ctx, next) => {
    const source = clientSource(ctx.req);
    limiter?.checkSource(source);
    const given = header(ctx.req.headers, 'x-admin-key');
    if (given === undefined || !timingSafeEqual(sha256(given), expected)) {
      limiter?.recordFailure(source);
      throw unauthorized('A valid admin key is required in the X-Admin-Key header');
    }
    ctx.state.keyName = ADMIN_KEY_LABEL;
    await next();
  };
}
