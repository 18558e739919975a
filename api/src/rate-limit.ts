/**
 * Rate limits, checked before any database work (contract: 429 `rate_limited` + `Retry-After`):
 *
 * - per key: `RATE_LIMIT_KEY_RPS` requests per second per presented key on this process,
 *   bursts of twice that (0, the default, turns it off: local runs and benchmarks are
 *   unthrottled). Keyed by the key's SHA-256, so an unknown key is limited like a known one.
 * - per source: `RATE_LIMIT_AUTH_FAILURES_PER_MIN` failed authentications per client IP
 *   (default 300; 0 turns it off). Once a source has used them up, its requests that would
 *   need the database to authenticate get 429 until the budget refills; a key this process
 *   already knows to be valid still works from there (it costs no database work).
 *
 * Each limit is a token bucket per key or source, kept in an LRU of bounded size (lru-cache):
 * a flood of distinct keys or addresses costs bounded memory, and what it evicts is the
 * least recently seen bucket (which then starts full again: the limits fail open for it,
 * never closed for everyone).
 */
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';
import { ApiError } from './errors.js';

/** Keys with a bucket at once (one per distinct presented key). */
export const KEY_BUCKETS_MAX = 10_000;
/** Sources with a bucket at once (one per client address or IPv6 /64 with failures). */
export const SOURCE_BUCKETS_MAX = 50_000;
/** A key may burst to this many times its per-second rate (the contract: twice). */
export const KEY_BURST_FACTOR = 2;

/** `RATE_LIMIT_*`: 0 turns a limit off. */
export interface RateLimitConfig {
  /** Requests per second per key on one process; bursts of twice that. @default 0 (off) */
  keyRps: number;
  /** Failed authentications per client IP per minute. @default 300 */
  authFailuresPerMin: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Token buckets, one per name, refilling at `ratePerS` up to `capacity`. */
export class TokenBuckets {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly ratePerS: number;
  private readonly capacity: number;
  private readonly clock: Clock;

  constructor(ratePerS: number, capacity: number, maxEntries: number, clock: Clock) {
    this.ratePerS = ratePerS;
    this.capacity = capacity;
    this.clock = clock;
    this.buckets = new LRUCache<string, Bucket>({ max: maxEntries });
  }

  private current(name: string): Bucket {
    const now = this.clock.now();
    const bucket = this.buckets.get(name) ?? { tokens: this.capacity, updatedAt: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.ratePerS);
    bucket.updatedAt = now;
    this.buckets.set(name, bucket);
    return bucket;
  }

  /** Whole seconds until the bucket holds a token again (at least 1). */
  private retryAfterS(bucket: Bucket): number {
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerS));
  }

  /** Takes a token; undefined when there was one, else the seconds until there is. */
  take(name: string): number | undefined {
    const bucket = this.current(name);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return this.retryAfterS(bucket);
  }

  /** Like `take`, without taking: undefined while a token is left. */
  peek(name: string): number | undefined {
    const bucket = this.current(name);
    return bucket.tokens >= 1 ? undefined : this.retryAfterS(bucket);
  }

  /** Takes a token if there is one; a spent bucket stays spent (never below zero). */
  spend(name: string): void {
    const bucket = this.current(name);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
  }
}

function rateLimited(message: string, retryAfterS: number): ApiError {
  return new ApiError('rate_limited', message, { headers: { 'Retry-After': String(retryAfterS) } });
}

/** The process's rate limits; one per app. */
export class RateLimiter {
  private readonly keys: TokenBuckets | undefined;
  private readonly sources: TokenBuckets | undefined;

  constructor(config: RateLimitConfig, clock: Clock) {
    this.keys =
      config.keyRps > 0 ? new TokenBuckets(config.keyRps, config.keyRps * KEY_BURST_FACTOR, KEY_BUCKETS_MAX, clock) : undefined;
    this.sources =
      config.authFailuresPerMin > 0
        ? new TokenBuckets(config.authFailuresPerMin / 60, config.authFailuresPerMin, SOURCE_BUCKETS_MAX, clock)
        : undefined;
  }

  /** 429 when the source has used up its failed authentications. */
  checkSource(source: string): void {
    const wait = this.sources?.peek(source);
    if (wait !== undefined) throw rateLimited('Too many failed authentications from this address; retry later', wait);
  }

  /** Counts a failed authentication against the source. */
  recordFailure(source: string): void {
    this.sources?.spend(source);
  }

  /** 429 when the key (by its hash, as base64) has used up its requests for now. */
  takeKey(keyId: string): void {
    const wait = this.keys?.take(keyId);
    if (wait !== undefined) throw rateLimited('Too many requests for this key; retry later', wait);
  }
}

/** `1.2.3.4:5678` and `[2001:db8::1]:5678` → the address alone (the ALB may keep the port). */
function withoutPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed !== null) return bracketed[1] as string;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return v4WithPort === null ? hop : (v4WithPort[1] as string);
}

/**
 * Where limits apply: an IPv4 address, or the /64 of an IPv6 one (one subscriber's network:
 * a client that owns a /64 could otherwise take a fresh address per request).
 */
function sourceOf(address: string): string | undefined {
  const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  const version = isIP(plain);
  if (version === 4) return plain;
  if (version !== 6) return undefined;
  // Expand `::` so that the first four groups are the /64.
  const [head = '', tail = ''] = plain.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = plain.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = plain.includes('::')
    ? [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups]
    : headGroups;
  return `${groups
    .slice(0, 4)
    .map((group) => (Number.parseInt(group, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/**
 * The client's address. Behind the ALB it is the LAST entry of `X-Forwarded-For`: the ALB
 * appends the address it saw to whatever the client sent (its default `append` mode:
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html),
 * so the entries before it are the client's own words and never used. Without the header
 * (a direct connection: local runs, tests) it is the socket's peer.
 */
export function clientSource(request: IncomingMessage): string {
  const forwarded = request.headers['x-forwarded-for'];
  const joined = Array.isArray(forwarded) ? forwarded.join(',') : forwarded;
  const last = joined?.split(',').at(-1)?.trim();
  const fromHeader = last === undefined || last === '' ? undefined : sourceOf(withoutPort(last));
  return fromHeader ?? sourceOf(request.socket.remoteAddress ?? '') ?? 'unknown';
}
