/**
 * SQL for the `service_api_keys` table. Every query is a tagged template on the shared pool.
 */
import type { Sql } from '../db.js';
import type { KeyEnvironment } from './format.js';

export type KeyOrigin = 'created' | 'rotated' | 'managed';

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

/** The key whose SHA-256 is `hash`, whatever its state; the caller decides if it is usable. */
export async function findKeyByHash(sql: Sql, hash: Buffer): Promise<ServiceKeyRow | undefined> {
  const [row] = await sql<ServiceKeyRow[]>`
    select id, key_name, environment, display_prefix, origin, rotated_from,
           created_at, expires_at, revoked_at, last_used_at
    from service_api_keys
    where key_hash = ${hash}`;
  return row;
}

export interface NewKey {
  keyName: string;
  environment: KeyEnvironment;
  hash: Buffer;
  displayPrefix: string;
  origin: KeyOrigin;
  rotatedFrom?: string;
}

/** Inserts a key; a name that already has a current key fails with a unique violation (23505). */
export async function insertKey(sql: Sql, key: NewKey): Promise<ServiceKeyRow> {
  const [row] = await sql<ServiceKeyRow[]>`
    insert into service_api_keys (key_name, environment, key_hash, display_prefix, origin, rotated_from)
    values (${key.keyName}, ${key.environment}, ${key.hash}, ${key.displayPrefix}, ${key.origin},
            ${key.rotatedFrom ?? null})
    returning id, key_name, environment, display_prefix, origin, rotated_from,
              created_at, expires_at, revoked_at, last_used_at`;
  if (row === undefined) throw new Error('insert returned no row');
  return row;
}
