/**
 * Service keys: the ones chapi issues are `sk_<env>_<secret>`, the secret being ≥ 32 random
 * bytes written URL-safe. Keys imported from the earlier service keep whatever shape they had
 * (any printable ASCII, 16..256 characters). Only the SHA-256 of the whole key is ever stored
 * or compared.
 */
import { hash, randomBytes } from 'node:crypto';

/** The environments a key belongs to: the `<env>` of `sk_<env>_<secret>`. */
export const KEY_ENVIRONMENTS = ['dev', 'test', 'prod'] as const;
/** One of `KEY_ENVIRONMENTS`. */
export type KeyEnvironment = (typeof KEY_ENVIRONMENTS)[number];

/** Random bytes behind a generated key: 256 bits, as the contract's minimum. */
export const KEY_SECRET_BYTES = 32;

/**
 * What a well-formed key looks like. The secret is base62 or hex: 43 base62 characters
 * carry 256 bits (a generated key is 64 hex characters; a deployment-managed key may be a
 * longer alphanumeric string from Pulumi's RandomPassword).
 */
export const SERVICE_KEY_PATTERN = /^sk_(dev|test|prod)_([A-Za-z0-9]{43,200})$/;

/** A fresh key from the OS's CSPRNG (never Math.random). */
export function generateServiceKey(environment: KeyEnvironment): string {
  return `sk_${environment}_${randomBytes(KEY_SECRET_BYTES).toString('hex')}`;
}

/** The environment a well-formed key names, or undefined for a malformed one. */
export function parseServiceKey(key: string): KeyEnvironment | undefined {
  const match = SERVICE_KEY_PATTERN.exec(key);
  return match === null ? undefined : (match[1] as KeyEnvironment);
}

/**
 * What a presented key must look like to be looked up at all: printable ASCII, 16..256
 * characters (every key chapi issues, and every key the earlier service could have issued and
 * the import brought over). Anything else is refused without touching the database.
 */
export const LOOKUP_KEY_PATTERN = /^[\x20-\x7e]{16,256}$/;

/** Whether a presented key is worth looking up (see `LOOKUP_KEY_PATTERN`). */
export function isLookupableKey(key: string): boolean {
  return LOOKUP_KEY_PATTERN.test(key);
}

const ENVIRONMENT_PREFIX = /^sk_(dev|test|prod)_/;

/** The environment a key's `sk_<env>_` prefix names, whatever follows; undefined without one. */
export function prefixEnvironment(key: string): KeyEnvironment | undefined {
  const match = ENVIRONMENT_PREFIX.exec(key);
  return match === null ? undefined : (match[1] as KeyEnvironment);
}

/**
 * The display prefix of an imported key, of any shape: `sk_<env>_` and four characters, or,
 * without that prefix, the first four characters (not enough to guess the rest).
 */
export function importedDisplayPrefix(key: string): string {
  const environment = prefixEnvironment(key);
  return key.slice(0, (environment === undefined ? 0 : `sk_${environment}_`.length) + 4);
}

/**
 * SHA-256 of the whole key (UTF-8): what the database stores and looks keys up by. One-shot
 * `crypto.hash` rather than a Hash object: every request hashes the key it presents, and the
 * one-shot call is the faster of the two for small inputs (Node's docs).
 */
export function hashServiceKey(key: string): Buffer {
  return hash('sha256', key, 'buffer');
}

/** A short, non-secret label for lists and logs: `sk_prod_ab12`. */
export function displayPrefix(key: string): string {
  const environment = parseServiceKey(key);
  if (environment === undefined) throw new Error('displayPrefix needs a well-formed key');
  return key.slice(0, `sk_${environment}_`.length + 4);
}
