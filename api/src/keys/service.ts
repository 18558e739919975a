/**
 * The life of a service key: create, list, rotate with a grace period, revoke. One
 * implementation behind both the `keys` CLI and the `/admin` routes; each action writes one
 * audit entry (never the key).
 */
import type { Clock } from '../clock.js';
import type { Sql } from '../db.js';
import { displayPrefix, generateServiceKey, hashServiceKey, type KeyEnvironment } from './format.js';
import {
  insertKey,
  listAllKeys,
  lockCurrentKey,
  revokeUsableKeys,
  setKeyExpiry,
  usableKeysByName,
  type ServiceKeyRow,
} from './sql.js';
import { keyStatus, type KeyStatus } from './status.js';

/** A rotated-out key keeps working this long by default: time for clients to switch. */
export const DEFAULT_ROTATION_GRACE_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * The longest grace a rotation may give the old key. A month is ample for a client to
 * deploy the new key; a longer grace would keep a possibly leaked key alive for no reason.
 */
export const MAX_ROTATION_GRACE_MS = 30 * 24 * 60 * 60 * 1000;

/** Names: 1..100 characters of `[a-z0-9-]` (the contract; also a CHECK in the table). */
export const KEY_NAME_PATTERN = /^[a-z0-9-]{1,100}$/;

/** What an audit entry records: the four actions, and `sync` for the managed-key sync. */
export type KeyAction = 'create' | 'rotate' | 'revoke' | 'sync';

/**
 * One audit entry: what was done to which name, and by whom: `cli` (the keys CLI),
 * `request:<id>` (an admin route) or `migrate` (the deployment's managed-key sync).
 */
export interface AuditEntry {
  action: KeyAction;
  key_name: string;
  actor: string;
  /** e.g. how many keys a revoke stopped; never a key or a hash. */
  detail?: Record<string, string | number>;
}

/** What the key actions need: the database, the time, where audit entries go, and who acts. */
export interface KeyServiceDeps {
  sql: Sql;
  clock: Clock;
  audit: (entry: AuditEntry) => void;
  /** Who acts: `cli`, `request:<request id>` for the admin routes, `migrate` for the sync. */
  actor: string;
}

/**
 * Why a key action was refused, finer than the HTTP code: the CLI gives each its own exit
 * code. `no_active_key` → 404; `name_taken` and `managed` → 409.
 */
export type KeyRefusal = 'no_active_key' | 'name_taken' | 'managed';

/** Why a key action was refused; `code` matches the API's error codes. */
export class KeyActionError extends Error {
  override name = 'KeyActionError';
  readonly code: 'not_found' | 'conflict';
  readonly reason: KeyRefusal;

  constructor(code: 'not_found' | 'conflict', message: string, reason?: KeyRefusal) {
    super(message);
    this.code = code;
    this.reason = reason ?? (code === 'not_found' ? 'no_active_key' : 'name_taken');
  }
}

/** A key as listed: no secret, no hash. */
export interface KeyListItem {
  key_name: string;
  environment: KeyEnvironment;
  display_prefix: string;
  status: KeyStatus;
  managed: boolean;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

/** A newly issued key: its row, and the plaintext to show once. */
export interface IssuedKey {
  row: ServiceKeyRow;
  /** The plaintext key: shown once, to whoever asked for it, and never stored. */
  plaintext: string;
}

/** Managed keys change only through the deployment's SERVICE_API_KEYS secret (keys/managed.ts). */
function managedRefusal(keyName: string): string {
  return `key "${keyName}" is managed by the deployment (SERVICE_API_KEYS): change the secret instead`;
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

/**
 * Runs a key action whose refusal (a `KeyActionError`) is an action too: it leaves its audit
 * entry — outcome `refused` and the reason — before the error goes on to the caller.
 */
async function auditRefusal<T>(deps: KeyServiceDeps, action: KeyAction, keyName: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof KeyActionError) {
      deps.audit({ action, key_name: keyName, actor: deps.actor, detail: { outcome: 'refused', reason: error.reason } });
    }
    throw error;
  }
}

/** Issues a new key for a name that has no current key. */
export async function createKey(
  deps: KeyServiceDeps,
  input: { keyName: string; environment: KeyEnvironment },
): Promise<IssuedKey> {
  const plaintext = generateServiceKey(input.environment);
  const row = await auditRefusal(deps, 'create', input.keyName, async () => {
    try {
      return await insertKey(deps.sql, {
        keyName: input.keyName,
        environment: input.environment,
        hash: hashServiceKey(plaintext),
        displayPrefix: displayPrefix(plaintext),
        origin: 'created',
      });
    } catch (error) {
      // The partial unique index makes this race-free: two creates of one name, one wins.
      if (isUniqueViolation(error)) {
        throw new KeyActionError('conflict', `key name "${input.keyName}" already has an active key`, 'name_taken');
      }
      throw error;
    }
  });
  deps.audit({ action: 'create', key_name: input.keyName, actor: deps.actor, detail: { environment: input.environment } });
  return { row, plaintext };
}

/** Every key, without secrets, with its status at this moment. */
export async function listKeys(deps: Pick<KeyServiceDeps, 'sql' | 'clock'>): Promise<KeyListItem[]> {
  const now = deps.clock.now();
  return (await listAllKeys(deps.sql)).map((row) => ({
    key_name: row.key_name,
    environment: row.environment,
    display_prefix: row.display_prefix,
    status: keyStatus(row, now),
    managed: row.origin === 'managed',
    created_at: row.created_at,
    expires_at: row.expires_at,
    last_used_at: row.last_used_at,
  }));
}

/**
 * Issues a new key for the name and lets the current one work until `graceMs` from now.
 * Refused for a name with no current key (404) and for a deployment-managed key (409).
 */
export async function rotateKey(
  deps: KeyServiceDeps,
  input: { keyName: string; graceMs?: number },
): Promise<IssuedKey & { oldKeyExpiresAt: Date }> {
  const graceMs = input.graceMs ?? DEFAULT_ROTATION_GRACE_MS;
  if (!Number.isSafeInteger(graceMs) || graceMs < 0 || graceMs > MAX_ROTATION_GRACE_MS) {
    // The callers validate what a person typed; this guards against a caller's bug.
    throw new RangeError(`graceMs must be a whole number from 0 to ${MAX_ROTATION_GRACE_MS}`);
  }
  const now = deps.clock.now();
  const oldKeyExpiresAt = new Date(now + graceMs);
  const issued = await auditRefusal(deps, 'rotate', input.keyName, () => deps.sql.begin(async (tx) => {
    const current = await lockCurrentKey(tx, input.keyName);
    if (current === undefined) {
      throw new KeyActionError('not_found', `key name "${input.keyName}" has no active key`, 'no_active_key');
    }
    if (current.origin === 'managed') {
      throw new KeyActionError('conflict', managedRefusal(input.keyName), 'managed');
    }
    // Expire the old key first: the one-current-key-per-name index then admits the new one.
    await setKeyExpiry(tx, current.id, oldKeyExpiresAt);
    const plaintext = generateServiceKey(current.environment);
    const row = await insertKey(tx, {
      keyName: input.keyName,
      environment: current.environment,
      hash: hashServiceKey(plaintext),
      displayPrefix: displayPrefix(plaintext),
      origin: 'rotated',
      rotatedFrom: current.id,
    });
    return { row, plaintext };
  }));
  deps.audit({ action: 'rotate', key_name: input.keyName, actor: deps.actor, detail: { grace_ms: graceMs } });
  return { ...issued, oldKeyExpiresAt };
}

/**
 * Stops every key of the name at once, one in its grace period included. Refused for a name
 * with no usable key (404) and for a deployment-managed key (409).
 */
export async function revokeKey(deps: KeyServiceDeps, input: { keyName: string }): Promise<{ revoked: number }> {
  const now = new Date(deps.clock.now());
  const revoked = await auditRefusal(deps, 'revoke', input.keyName, () => deps.sql.begin(async (tx) => {
    const usable = await usableKeysByName(tx, input.keyName, now);
    if (usable.length === 0) {
      throw new KeyActionError('not_found', `key name "${input.keyName}" has no active key`, 'no_active_key');
    }
    if (usable.some((key) => key.origin === 'managed')) {
      throw new KeyActionError('conflict', managedRefusal(input.keyName), 'managed');
    }
    return await revokeUsableKeys(tx, input.keyName, now);
  }));
  deps.audit({ action: 'revoke', key_name: input.keyName, actor: deps.actor, detail: { revoked } });
  return { revoked };
}
