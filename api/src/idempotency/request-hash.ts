/**
 * "The same body, compared as parsed JSON, not bytes": a SHA-256 of the parsed body written
 * out canonically, so key order and whitespace do not matter but every value does.
 */
import { createHash } from 'node:crypto';

/**
 * The hash of a validated body. `keys` lists every property name the body's schema allows,
 * at any depth: `JSON.stringify` with a key list writes the properties of every object in
 * that list's order, which makes the output canonical (the body was validated, so no other
 * property exists to be dropped).
 */
export function requestHash(body: unknown, keys: readonly string[]): Buffer {
  return createHash('sha256')
    .update(JSON.stringify(body, [...keys].sort()))
    .digest();
}
