/**
 * Idempotent creates (../shared/spec/api.md, "Idempotent creates"): within 24 hours, the same
 * `Idempotency-Key` from the same service key, transport, user and body returns the first
 * response again and creates nothing; with another user or body it is a 409. Only a create
 * that succeeded is remembered. Concurrent requests with one key create at most one task:
 * the first statement to commit wins, the others wait for it, then replay or conflict.
 *
 * The common case (a new key) costs one statement; a replay costs two.
 */
import type { Clock } from '../clock.js';
import type { Db } from '../db.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Task } from '../schemas/tasks.js';
import { pickTask, type NewTask } from '../tasks/sql.js';
import { findRemembered, forgetExpired, insertTaskRemembered, isScopeTaken, purgeExpired, type IdempotencyScope } from './sql.js';

/** The contract: a key is remembered for 24 hours. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/**
 * Expired entries are deleted by the API itself (the deployment runs no cron): at most once a
 * minute per process, after a remembered create, off the request path, in bounded batches.
 */
export const PURGE_INTERVAL_MS = 60_000;
/** Most expired entries one purge deletes: bounded work, whatever piled up. */
export const PURGE_BATCH = 1_000;
/** A create retries when the entry it collided with expired or vanished meanwhile; rarely twice. */
const MAX_ATTEMPTS = 3;

/** A create with an `Idempotency-Key`: its scope, its request and the task to insert. */
export interface IdempotentCreateRequest {
  scope: IdempotencyScope;
  userId: string;
  requestHash: Buffer;
  /** The status a fresh create answers with on this transport (200 or 201). */
  responseStatus: number;
  task: NewTask;
}

/** What a create answers: the task, the status, and whether it is a replay. */
export interface CreateOutcome {
  task: Task;
  status: number;
  /** True when this is the remembered response of an earlier request. */
  replayed: boolean;
}

/** An idempotent create (see `idempotentCreates`). */
export type CreateTaskOnce = (request: IdempotentCreateRequest) => Promise<CreateOutcome>;

/** The idempotent create of one app, with its purge schedule. */
export function idempotentCreates(deps: { db: Db; clock: Clock; logger: Logger }): CreateTaskOnce {
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

  return async (request) => {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const now = deps.clock.now();
      try {
        const task = await insertTaskRemembered(
          deps.db,
          request.scope,
          {
            userId: request.userId,
            requestHash: request.requestHash,
            responseStatus: request.responseStatus,
            createdAt: new Date(now),
            expiresAt: new Date(now + IDEMPOTENCY_WINDOW_MS),
          },
          request.task,
        );
        purgeSoon(now);
        return { task, status: request.responseStatus, replayed: false };
      } catch (error) {
        if (!isScopeTaken(error)) throw error;
      }
      const remembered = await findRemembered(deps.db, request.scope);
      // Gone since the collision (purged as expired): the key is free again.
      if (remembered === undefined) continue;
      if (remembered.expires_at.getTime() <= now) {
        await forgetExpired(deps.db, request.scope, new Date(now));
        continue;
      }
      if (remembered.user_id !== request.userId || !remembered.request_hash.equals(request.requestHash)) {
        throw new ApiError(
          'idempotency_conflict',
          'This Idempotency-Key was already used with a different user_id or body; use a new key for a new request',
        );
      }
      // jsonb keeps its own key order: pickTask restores the contract's.
      return { task: pickTask(remembered.response_data), status: remembered.response_status, replayed: true };
    }
    throw new Error(`idempotent create gave up after ${MAX_ATTEMPTS} attempts`);
  };
}
