/**
 * Deployment-managed service keys: the infrastructure generates keys into the Secrets Manager
 * secret `SERVICE_API_KEYS` (JSON `{ "cat-house-prod": "sk_prod_…" }`), and only the
 * migration task sees it. After migrating, `npm run migrate -- up` makes the table match it:
 *
 * - an entry not in the table is added (origin `managed`);
 * - an entry whose key changed replaces the old one: the old row is revoked and the new one
 *   inserted in the same transaction (changing the secret is the managed form of
 *   revoke + create; for a switch without downtime, add the new key under a new name first);
 * - a managed key whose entry left the secret is revoked;
 * - hand-made keys (CLI, admin routes) are never touched.
 *
 * Running it twice changes nothing the second time. Managed keys cannot be rotated or
 * revoked through the CLI or the admin routes (`service.ts` refuses): the secret is the
 * single source of truth for them.
 */
import { displayPrefix, hashServiceKey, parseServiceKey, type KeyEnvironment } from './format.js';
import { KEY_NAME_PATTERN, type KeyServiceDeps } from './service.js';
import { findKeyByHash, insertKey, lockActiveManagedKeys, lockCurrentKey, revokeKeyById } from './sql.js';
import { keyStatus } from './status.js';

/** The environment variable the migration task receives the secret in. */
export const MANAGED_KEYS_ENV = 'SERVICE_API_KEYS';

/** One entry of the secret, checked and hashed; the plaintext key is not kept. */
export interface ManagedKeyEntry {
  keyName: string;
  environment: KeyEnvironment;
  hash: Buffer;
  displayPrefix: string;
}

/**
 * The secret cannot be applied: malformed, or at odds with the keys in the table. The message
 * names the entry (its key name) and never contains a key.
 */
export class ManagedKeysError extends Error {
  override name = 'ManagedKeysError';
}

/** A name is shown in messages only when it cannot be a key pasted into the wrong place. */
function entryLabel(name: string, index: number): string {
  const printable = /^[\x20-\x7e]{1,100}$/.test(name) && !/sk_/i.test(name);
  return printable ? `entry "${name}"` : `entry #${index + 1}`;
}

/** How strictly `parseManagedKeys` reads the secret. */
export interface ParseManagedKeysOptions {
  /**
   * Refuse keys of any environment but this one. In production only `sk_prod_` keys
   * authenticate, so a `sk_test_` key in the production secret is a mistake best caught at
   * deploy time, not as 401s. @default any environment
   */
  environment?: KeyEnvironment;
}

/**
 * Parses and checks the secret's JSON. Every problem names its entry; nothing of a key (nor
 * of the JSON, which would contain keys) is ever part of a message.
 */
export function parseManagedKeys(json: string, options: ParseManagedKeysOptions = {}): ManagedKeyEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    // V8's message quotes the text around the error, which may be a key: keep only the position.
    const position = /at position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
    throw new ManagedKeysError(
      `${MANAGED_KEYS_ENV} is not valid JSON${position === undefined ? '' : ` (error at character ${position})`}: ` +
        'expected an object like {"cat-house-prod": "sk_prod_…"}',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ManagedKeysError(`${MANAGED_KEYS_ENV} must be a JSON object of key name → key, like {"cat-house-prod": "sk_prod_…"}`);
  }
  const entries: ManagedKeyEntry[] = [];
  const seen = new Map<string, string>();
  Object.entries(parsed).forEach(([name, key], index) => {
    const label = entryLabel(name, index);
    if (!KEY_NAME_PATTERN.test(name)) {
      throw new ManagedKeysError(`${MANAGED_KEYS_ENV} ${label}: a key name is 1 to 100 characters of a-z, 0-9 and -`);
    }
    if (typeof key !== 'string') {
      throw new ManagedKeysError(`${MANAGED_KEYS_ENV} ${label}: the value must be a string (the key)`);
    }
    const environment = parseServiceKey(key);
    if (environment === undefined) {
      throw new ManagedKeysError(
        `${MANAGED_KEYS_ENV} ${label}: not a well-formed service key ` +
          '(expected sk_dev_, sk_test_ or sk_prod_ followed by at least 43 letters or digits)',
      );
    }
    if (options.environment !== undefined && environment !== options.environment) {
      throw new ManagedKeysError(
        `${MANAGED_KEYS_ENV} ${label}: a sk_${environment}_ key, but only sk_${options.environment}_ keys authenticate here`,
      );
    }
    const other = seen.get(key);
    if (other !== undefined) {
      throw new ManagedKeysError(`${MANAGED_KEYS_ENV} entries "${other}" and "${name}" hold the same key: each needs its own`);
    }
    seen.set(key, name);
    entries.push({ keyName: name, environment, hash: hashServiceKey(key), displayPrefix: displayPrefix(key) });
  });
  return entries;
}

/** What a sync changed, by key name. */
export interface ManagedKeysSyncResult {
  added: string[];
  replaced: string[];
  revoked: string[];
  unchanged: string[];
}

/**
 * Serialises concurrent syncs (two migration tasks at once): a transaction-level advisory
 * lock, so it is released at commit and works through any connection.
 */
const SYNC_LOCK_NAME = 'chapi.managed-key-sync';

/**
 * Makes the managed keys in the table match `entries`, in one transaction (all or nothing),
 * and writes one audit entry per change. Throws `ManagedKeysError` when an entry cannot be
 * applied: its name has a hand-made key, or its key is already stored (revoked, or under
 * another name: a revoked key is never brought back).
 */
export async function syncManagedKeys(deps: KeyServiceDeps, entries: ManagedKeyEntry[]): Promise<ManagedKeysSyncResult> {
  const now = new Date(deps.clock.now());
  const result: ManagedKeysSyncResult = { added: [], replaced: [], revoked: [], unchanged: [] };
  await deps.sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${SYNC_LOCK_NAME}, 0))`;
    const managed = new Map((await lockActiveManagedKeys(tx)).map((row) => [row.key_name, row]));
    for (const entry of entries) {
      const current = managed.get(entry.keyName);
      const holder = await findKeyByHash(tx, entry.hash);
      if (holder !== undefined && holder.id === current?.id) {
        result.unchanged.push(entry.keyName);
        continue;
      }
      if (holder !== undefined) {
        const where = holder.key_name === entry.keyName ? 'under this name' : `under the name "${holder.key_name}"`;
        throw new ManagedKeysError(
          `${MANAGED_KEYS_ENV} entry "${entry.keyName}": this key is already stored ${where} ` +
            `(${keyStatus(holder, now.getTime())}); a key that was revoked or replaced is never brought back: put a new key in the secret`,
        );
      }
      if (current === undefined) {
        const handMade = await lockCurrentKey(tx, entry.keyName);
        if (handMade !== undefined) {
          throw new ManagedKeysError(
            `${MANAGED_KEYS_ENV} entry "${entry.keyName}": the name already has a hand-made key (${handMade.display_prefix}…), ` +
              'which the deployment does not touch: revoke it with the keys CLI, or give the entry another name',
          );
        }
      } else {
        await revokeKeyById(tx, current.id, now);
      }
      await insertKey(tx, {
        keyName: entry.keyName,
        environment: entry.environment,
        hash: entry.hash,
        displayPrefix: entry.displayPrefix,
        origin: 'managed',
      });
      (current === undefined ? result.added : result.replaced).push(entry.keyName);
    }
    const wanted = new Set(entries.map((entry) => entry.keyName));
    for (const [keyName, row] of managed) {
      if (wanted.has(keyName)) continue;
      await revokeKeyById(tx, row.id, now);
      result.revoked.push(keyName);
    }
  });
  // After the commit: an entry is written for what happened, never for a rolled-back attempt.
  for (const [change, names] of [
    ['added', result.added],
    ['replaced', result.replaced],
    ['revoked', result.revoked],
  ] as const) {
    for (const keyName of names) deps.audit({ action: 'sync', key_name: keyName, actor: deps.actor, detail: { change } });
  }
  return result;
}
