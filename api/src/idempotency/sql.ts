/**
 * SQL for the `idempotency_keys` table: what an idempotent operation remembers, keyed by the
 * service key's id, the transport and the `Idempotency-Key`.
 */
import type postgres from 'postgres';
import { withDeadline, type Db, type Queryable } from '../db.js';

/** The transport a request came through: part of an idempotency key's scope. */
export type Transport = 'execute' | 'v1';

/** Whose key it is: a rotated service key is a new scope (its id differs). */
export interface IdempotencyScope {
  serviceKeyId: string;
  transport: Transport;
  key: string;
}

/** What a run remembers besides its response. */
export interface Remembrance {
  userId: string;
  /** SHA-256 of the request body as canonical JSON (`request-hash.ts`). */
  requestHash: Buffer;
  responseStatus: number;
  createdAt: Date;
  expiresAt: Date;
}

/** A remembered run, as stored. */
export interface RememberedRun {
  user_id: string;
  request_hash: Buffer;
  response_status: number;
  /** The data as first returned (the statement's `json`, as jsonb). */
  response_data: unknown;
  expires_at: Date;
}

/** What an idempotent statement's row carries: the answer as JSON text, which is remembered. */
export interface RememberableRow {
  json: string;
}

/** A statement that returns one row: what an idempotent run runs and remembers. */
export type RowStatement<Row extends RememberableRow> = postgres.PendingQuery<Row[]>;

/** The primary key's constraint: a second run with the same scope violates it. */
const SCOPE_CONSTRAINT = 'idempotency_keys_pkey';

/** True for the error of `runRemembered` when the scope is already taken. */
export function isScopeTaken(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, constraint_name: constraint } = error as { code?: unknown; constraint_name?: unknown };
  return code === '23505' && constraint === SCOPE_CONSTRAINT;
}

/**
 * Runs `statement` and remembers its row in one statement: both happen or neither. A
 * concurrent statement with the same scope waits on the primary key until this one commits,
 * then fails with a unique violation (`isScopeTaken`), and its own work is undone.
 */
export async function runRemembered<Row extends RememberableRow>(
  db: Db,
  scope: IdempotencyScope,
  remember: Remembrance,
  statement: (sql: Queryable) => RowStatement<Row>,
): Promise<Row> {
  const sql = db.sql;
  const [row] = await withDeadline(
    sql<Row[]>`
      with result as (${statement(sql)}),
      remembered as (
        insert into idempotency_keys (service_key_id, transport, idempotency_key, user_id, request_hash,
                                      response_status, response_data, created_at, expires_at)
        select ${scope.serviceKeyId}, ${scope.transport}, ${scope.key}, ${remember.userId}, ${remember.requestHash},
               ${remember.responseStatus}, result.json::jsonb, ${remember.createdAt}, ${remember.expiresAt}
        from result
      )
      select * from result`,
    db.queryTimeoutMs,
  );
  if (row === undefined) throw new Error('the remembered statement returned no row');
  return row;
}

/** The remembered run of this scope, expired or not. */
export async function findRemembered(db: Db, scope: IdempotencyScope): Promise<RememberedRun | undefined> {
  const [row] = await withDeadline(
    db.sql<RememberedRun[]>`
      select user_id, request_hash, response_status, response_data, expires_at
      from idempotency_keys
      where service_key_id = ${scope.serviceKeyId} and transport = ${scope.transport} and idempotency_key = ${scope.key}`,
    db.queryTimeoutMs,
  );
  return row;
}

/** Forgets the scope's entry if it expired by `now`, so the key can be used afresh. */
export async function forgetExpired(db: Db, scope: IdempotencyScope, now: Date): Promise<void> {
  await withDeadline(
    db.sql`
      delete from idempotency_keys
      where service_key_id = ${scope.serviceKeyId} and transport = ${scope.transport}
        and idempotency_key = ${scope.key} and expires_at <= ${now}`,
    db.queryTimeoutMs,
  );
}

/**
 * Deletes up to `limit` entries that expired by `now`; returns how many. Rows another
 * process is deleting at the same moment are skipped, never waited for (no deadlocks).
 */
export async function purgeExpired(db: Db, now: Date, limit: number): Promise<number> {
  const rows = await withDeadline(
    db.sql`
      delete from idempotency_keys
      where ctid = any(array(
        select ctid from idempotency_keys where expires_at <= ${now}
        limit ${limit} for update skip locked))
      returning 1`,
    db.queryTimeoutMs,
  );
  return rows.length;
}
