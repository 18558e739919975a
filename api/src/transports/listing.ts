/**
 * A listing's answer, written as it is read. A listing that fits in one batch is an ordinary
 * envelope; a longer one (an `/execute` `list-tasks` without `limit`, a large page) is the same
 * envelope written task by task: the stream pulls the next batch from the database only when
 * the socket has taken the last one (backpressure), so memory stays flat however many tasks
 * the user has.
 *
 * The status (200) goes out before the last batch is read. A fault after that cannot become an
 * error response any more: the connection is cut instead, so the client sees a broken answer
 * (no final chunk), never a short list that looks complete.
 */
import { Readable } from 'node:stream';
import { success } from '../envelope.js';
import type { RouteContext, Services } from '../routes.js';
import type { Task } from '../schemas/tasks.js';
import { TaskListing } from '../tasks/operations.js';

/** The envelope around a listing, written in pieces (the same bytes `JSON.stringify` would give). */
async function* listingEnvelope(listing: TaskListing, timestamp: string): AsyncGenerator<string> {
  yield '{"success":true,"data":{"tasks":[';
  let separator = '';
  for await (const task of listing.tasks) {
    yield separator + JSON.stringify(task);
    separator = ',';
  }
  const end = listing.end();
  yield `],"count":${end.count},"next_cursor":${JSON.stringify(end.next_cursor)}},"error":null,"timestamp":${JSON.stringify(timestamp)}}`;
}

/**
 * Answers with `data` when it is a listing (and returns true): at once when it fits in one
 * batch, otherwise as a stream. Anything else is left to the caller (false).
 */
export async function writeListing(ctx: RouteContext, services: Services, data: unknown): Promise<boolean> {
  if (!(data instanceof TaskListing)) return false;
  const now = services.clock.now();
  ctx.status = 200;
  if (data.whole) {
    const tasks: Task[] = [];
    for await (const task of data.tasks) tasks.push(task);
    ctx.body = success({ tasks, ...data.end() }, now);
    return true;
  }
  const pieces = listingEnvelope(data, new Date(now).toISOString());
  const { logger } = services;
  const requestId = ctx.state.requestId;
  const res = ctx.res;
  const stream = Readable.from(
    (async function* guarded() {
      try {
        yield* pieces;
      } catch (error) {
        // Too late for an error response: log it, and cut the connection (see above).
        logger.error({ err: error, request_id: requestId }, 'listing failed while streaming; connection cut');
        res.destroy();
      }
    })(),
    { objectMode: false },
  );
  ctx.type = 'application/json; charset=utf-8';
  ctx.body = stream;
  return true;
}
