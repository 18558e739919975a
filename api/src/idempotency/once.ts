/**
 * Idempotent runs of an operation (docs/api.md, "Idempotent creates"): within 24 hours, the
 * same `Idempotency-Key` from the same service key, transport, user and body returns the first
 * response again and runs nothing; with another user or body it is a 409. Only a run that
 * succeeded is remembered. Concurrent requests with one key run at most once: the first
 * statement to commit wins, the others wait for it, then replay or conflict.
 *
 * It wraps any operation whose work is one statement returning one row (today `create-task`):
 * that statement runs inside the one that remembers it. The common case (a new key) costs one
 * statement; a replay costs two.
 */
import type { Clock } from '../clock.js';
import { withDeadline, type Db, type Queryable } from '../db.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../logger.js';
import { findRemembered, forgetExpired, isScopeTaken, purgeExpired, runRemembered, type IdempotencyScope, type RememberableRow, type RowStatement } from './sql.js';

/** The contract: a key is remembered for 24 hours. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/**
 * Expired entries are deleted by the API itself (the deployment runs no cron): at most once a
 * minute per process, after a remembered run, off the request path, in bounded batches.
 */
export const PURGE_INTERVAL_MS = 60_000;
/** Most expired entries one purge deletes: bounded work, whatever piled up. */
export const PURGE_BATCH = 1_000;
/** A run retries when the entry it collided with expired or vanished meanwhile; rarely twice. */
const MAX_ATTEMPTS = 3;

/**
 * An operation that can run idempotently: its work as one statement, whose row's `json` (the
 * answer as JSON text) is what is remembered, and how a remembered answer reads back.
 */
export interface Rememberable<Input, Row extends RememberableRow> {
  name: string;
  statement(sql: Queryable, userId: string, input: Input): RowStatement<Row>;
  /** The row of a remembered answer (`stored`: its jsonb; jsonb keeps its own key order, this restores the contract's). */
  replay(stored: unknown): Row;
}

/** How a request runs: the status a fresh run answers with, and, with an `Idempotency-Key`, what to remember it by. */
export interface RunRequest {
  /** The status a fresh run answers with on this transport (200 or 201), remembered for replays. */
  responseStatus: number;
  /** With an `Idempotency-Key`: its scope and the hash of what was sent. */
  remember: { scope: IdempotencyScope; requestHash: Buffer } | undefined;
}

/** What an idempotent run answers: the data, the status, and whether it is a replay. */
export interface Outcome<Row> {
  data: Row;
  status: number;
  /** True when this is the remembered response of an earlier request. */
  replayed: boolean;
}

/**
 * Runs an operation; with an idempotency scope, at most once per scope (see `idempotentRuns`).
 * Without one it is the operation's statement, run once under the query deadline.
 */
export type RunOnce = <Input, Row extends RememberableRow>(
  operation: Rememberable<Input, Row>,
  userId: string,
  input: Input,
  request: RunRequest,
) => Promise<Outcome<Row>>;

/** The idempotent runs of one app, with its purge schedule. */
export function idempotentRuns(deps: { db: Db; clock: Clock; logger: Logger }): RunOnce {
  let lastPurgeAt = Number.NEGATIVE_INFINITY;

  const purgeSoon = (now: number): void => {
    if (now - lastPurgeAt < PURGE_INTERVAL_MS) return;
    lastPurgeAt = now;
    purgeExpired(deps.db, new Date(now), PURGE_BATCH).then(
      (purged) => {
        if (purged > 0) deps.logger.debug({ purged }, 'expired idempotency keys deleted');
      },
      (error: unknown) => deps.logger.warn({ err: error }, 'could not delete expired idempotency keys'),
    );
  };

  return async (operation, userId, input, request) => {
    const { remember, responseStatus } = request;
    if (remember === undefined) {
      const [data] = await withDeadline(operation.statement(deps.db.sql, userId, input), deps.db.queryTimeoutMs);
      if (data === undefined) throw new Error(`${operation.name} returned no row`);
      return { data, status: responseStatus, replayed: false };
    }
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const now = deps.clock.now();
      try {
        const data = await runRemembered(
          deps.db,
          remember.scope,
          {
            userId,
            requestHash: remember.requestHash,
            responseStatus,
            createdAt: new Date(now),
            expiresAt: new Date(now + IDEMPOTENCY_WINDOW_MS),
          },
          (sql) => operation.statement(sql, userId, input),
        );
        purgeSoon(now);
        return { data, status: responseStatus, replayed: false };
      } catch (error) {
        if (!isScopeTaken(error)) throw error;
      }
      const remembered = await findRemembered(deps.db, remember.scope);
      // Gone since the collision (purged as expired): the key is free again.
      if (remembered === undefined) continue;
      if (remembered.expires_at.getTime() <= now) {
        await forgetExpired(deps.db, remember.scope, new Date(now));
        continue;
      }
      if (remembered.user_id !== userId || !remembered.request_hash.equals(remember.requestHash)) {
        throw new ApiError(
          'idempotency_conflict',
          'This Idempotency-Key was already used with a different user_id or body; use a new key for a new request',
        );
      }
      return { data: operation.replay(remembered.response_data), status: remembered.response_status, replayed: true };
    }
    throw new Error(`idempotent run gave up after ${MAX_ATTEMPTS} attempts`);
  };
}
