/**
 * SQL for the `service_api_keys` table. Every query is a tagged template on the shared pool.
 */
import type { Queryable } from '../db.js';
import type { KeyEnvironment } from './format.js';

/** How a key came to be: issued by hand, by a rotation, synced from SERVICE_API_KEYS, or imported from the earlier service. */
export type KeyOrigin = 'created' | 'rotated' | 'managed' | 'imported';

/** A row of `service_api_keys`, without its hash. */
export interface ServiceKeyRow {
  id: string;
  key_name: string;
  environment: KeyEnvironment;
  display_prefix: string;
  origin: KeyOrigin;
  rotated_from: string | null;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

/** The columns of a `ServiceKeyRow`: every column but the hash, which never leaves the database. */
const KEY_COLUMNS = [
  'id',
  'key_name',
  'environment',
  'display_prefix',
  'origin',
  'rotated_from',
  'created_at',
  'expires_at',
  'revoked_at',
  'last_used_at',
] as const;

/** The key whose SHA-256 is `hash`, whatever its state; the caller decides if it is usable. */
export async function findKeyByHash(sql: Queryable, hash: Buffer): Promise<ServiceKeyRow | undefined> {
  const [row] = await sql<ServiceKeyRow[]>`
    select ${sql(KEY_COLUMNS)} from service_api_keys where key_hash = ${hash}`;
  return row;
}

/** What `insertKey` stores: the hash and display prefix, never the key. */
export interface NewKey {
  keyName: string;
  environment: KeyEnvironment;
  hash: Buffer;
  displayPrefix: string;
  origin: KeyOrigin;
  rotatedFrom?: string;
}

/** Inserts a key; a name that already has a current key fails with a unique violation (23505). */
export async function insertKey(sql: Queryable, key: NewKey): Promise<ServiceKeyRow> {
  const [row] = await sql<ServiceKeyRow[]>`
    insert into service_api_keys (key_name, environment, key_hash, display_prefix, origin, rotated_from)
    values (${key.keyName}, ${key.environment}, ${key.hash}, ${key.displayPrefix}, ${key.origin},
            ${key.rotatedFrom ?? null})
    returning ${sql(KEY_COLUMNS)}`;
  if (row === undefined) throw new Error('insert returned no row');
  return row;
}

/**
 * Records use of a key. Only ever moves `last_used_at` forward, so late or concurrent
 * writes from several API tasks cannot move it back.
 */
export async function touchLastUsed(sql: Queryable, id: string, at: Date): Promise<void> {
  await sql`
    update service_api_keys set last_used_at = ${at}
    where id = ${id} and (last_used_at is null or last_used_at < ${at})`;
}

/** Every key, oldest name first, newest key first within a name. */
export async function listAllKeys(sql: Queryable): Promise<ServiceKeyRow[]> {
  return await sql<ServiceKeyRow[]>`
    select ${sql(KEY_COLUMNS)} from service_api_keys order by key_name, created_at desc, id`;
}

/**
 * The name's current key (not revoked, no expiry), locked until the transaction ends so two
 * rotations of one name cannot both succeed.
 */
export async function lockCurrentKey(sql: Queryable, keyName: string): Promise<ServiceKeyRow | undefined> {
  const [row] = await sql<ServiceKeyRow[]>`
    select ${sql(KEY_COLUMNS)} from service_api_keys
    where key_name = ${keyName} and revoked_at is null and expires_at is null
    for update`;
  return row;
}

/** Ends a key's life at `at` (the end of a rotation's grace period). */
export async function setKeyExpiry(sql: Queryable, id: string, at: Date): Promise<void> {
  await sql`update service_api_keys set expires_at = ${at} where id = ${id}`;
}

/** The name's keys that still authenticate at `now` (current, or in a grace period). */
export async function usableKeysByName(sql: Queryable, keyName: string, now: Date): Promise<ServiceKeyRow[]> {
  return await sql<ServiceKeyRow[]>`
    select ${sql(KEY_COLUMNS)} from service_api_keys
    where key_name = ${keyName} and revoked_at is null and (expires_at is null or expires_at > ${now})`;
}

/** Revokes every key of the name that still authenticates; returns how many. */
export async function revokeUsableKeys(sql: Queryable, keyName: string, now: Date): Promise<number> {
  const rows = await sql`
    update service_api_keys set revoked_at = ${now}
    where key_name = ${keyName} and revoked_at is null and (expires_at is null or expires_at > ${now})
    returning id`;
  return rows.length;
}

/** Revokes one key at `at` (the managed-key sync: a key replaced or removed from the secret). */
export async function revokeKeyById(sql: Queryable, id: string, at: Date): Promise<void> {
  await sql`update service_api_keys set revoked_at = ${at} where id = ${id}`;
}

/** Every deployment-managed key that is not revoked, locked until the transaction ends. */
export async function lockActiveManagedKeys(sql: Queryable): Promise<ServiceKeyRow[]> {
  return await sql<ServiceKeyRow[]>`
    select ${sql(KEY_COLUMNS)} from service_api_keys
    where origin = 'managed' and revoked_at is null
    order by key_name
    for update`;
}

/**
 * `findKeyByHash` as a pending query: authentication runs it under the query deadline, which
 * needs the query itself to cancel it.
 */
export function keyByHashQuery(sql: Queryable, hash: Buffer) {
  return sql<ServiceKeyRow[]>`
    select ${sql(KEY_COLUMNS)} from service_api_keys where key_hash = ${hash}`;
}
