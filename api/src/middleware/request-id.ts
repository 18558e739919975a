/**
 * `X-Request-Id`: the caller's, when it is sane (the contract: up to 128 characters of
 * `[A-Za-z0-9._:-]`) and cannot be a secret, else a fresh UUID. Set on every response, before
 * anything can fail.
 *
 * The id is written to every log line of the request, so a client that sends its key there by
 * mistake (or a header mix-up in a proxy) would put the key into the logs: an id shaped like a
 * key is replaced. Shaped like a key: it contains `sk_` (every service key starts with
 * `sk_<env>_`, the earlier service's imported ones too), or a high-entropy run: 40 or more
 * letters and digits with at least 12 different characters (a secret's random part: 32 bytes
 * are 43 base62 or 64 hex characters, which use ~30 and ~16 different ones; the admin key has
 * at least 32 characters). UUIDs and 32-hex trace ids are shorter runs and pass, and so does
 * a long run of few characters.
 */
import { randomUUID } from 'node:crypto';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const KEY_PREFIX = /sk_/i;
const LONG_RUN = /[A-Za-z0-9]{40,}/g;
/** Different characters in a run that only random text has (base62 ~30, hex ~16). */
const RANDOM_RUN_DISTINCT = 12;

function hasSecretLikeRun(text: string): boolean {
  return [...text.matchAll(LONG_RUN)].some(([run]) => new Set(run).size >= RANDOM_RUN_DISTINCT);
}

export interface RequestIdState {
  requestId: string;
}

/** True when `incoming` may be used as the request id: sane, and not shaped like a key. */
export function isAcceptableRequestId(incoming: string): boolean {
  return SANE_REQUEST_ID.test(incoming) && !KEY_PREFIX.test(incoming) && !hasSecretLikeRun(incoming);
}

/** The id for a request that sent `incoming` (or none). */
export function requestIdFor(incoming: string | undefined): string {
  return incoming !== undefined && isAcceptableRequestId(incoming) ? incoming : randomUUID();
}
