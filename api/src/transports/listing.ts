/**
 * A listing's answer, written as it is read. A listing that fits in one batch is an ordinary
 * envelope; a longer one (an `/execute` `list-tasks` without `limit`, a large page) is the same
 * envelope written batch by batch: the stream pulls the next batch from the database only when
 * the socket has taken the last one (backpressure), so memory stays flat however many tasks
 * the user has.
 *
 * The status (200) goes out before the last batch is read. A fault after that cannot become an
 * error response any more: the connection is cut instead, so the client sees a broken answer
 * (no final chunk), never a short list that looks complete.
 */
import { Readable } from 'node:stream';
import { JSON_CONTENT_TYPE, JsonText, successText, successTextAround } from '../envelope.js';
import type { RouteContext, Services } from '../routes.js';
import { TaskListing, type ListingEnd } from '../tasks/operations.js';

/** What follows a listing's tasks in its data: `],"count":…,"next_cursor":…}`. */
function dataEnd(end: ListingEnd): string {
  return `],"count":${end.count},"next_cursor":${JSON.stringify(end.next_cursor)}}`;
}

/**
 * The envelope around a listing, written in pieces: the same bytes as `successText` (and so
 * `JSON.stringify`) would give for the whole, the tasks as PostgreSQL wrote them.
 */
async function* listingEnvelope(listing: TaskListing, now: number): AsyncGenerator<string> {
  const [head, tail] = successTextAround(now);
  yield `${head}{"tasks":[`;
  let separator = '';
  for await (const tasks of listing.batches) {
    yield separator + tasks;
    separator = ',';
  }
  yield dataEnd(listing.end()) + tail;
}

/**
 * Answers with `data` when it is a listing (and returns true): at once when it fits in one
 * batch, otherwise as a stream. Anything else is left to the caller (false).
 */
export async function writeListing(ctx: RouteContext, services: Services, data: unknown): Promise<boolean> {
  if (!(data instanceof TaskListing)) return false;
  const now = services.clock.now();
  ctx.status = 200;
  ctx.res.setHeader('Content-Type', JSON_CONTENT_TYPE);
  if (data.whole) {
    // Whole: one batch at most (none when no task matched).
    let tasks = '';
    for await (const batch of data.batches) tasks = batch;
    ctx.body = successText(new JsonText(`{"tasks":[${tasks}${dataEnd(data.end())}`), now);
    return true;
  }
  const pieces = listingEnvelope(data, now);
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
  ctx.body = stream;
  return true;
}
