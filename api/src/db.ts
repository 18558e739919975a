/**
 * The one `sql` instance of the process (porsager/postgres): pool size, TLS, timeouts and
 * prepared statements, tuned for Neon behind its PgBouncer pooler; and the deadline that every
 * query of the API runs under.
 *
 * Why a client-side deadline: postgres.js's pool queue has no timeout of its own, and Neon
 * accepts no `statement_timeout` from the client (its pooler refuses the startup parameter,
 * its direct endpoint drops it), so without one a dead or stuck database would let requests
 * pile up without bound. `withDeadline` rejects at the deadline with `QUERY_DEADLINE` (a 503)
 * and cancels the query: a queued one leaves the queue, a running one gets a CancelRequest.
 */
import postgres from 'postgres';
import type { DatabaseConfig } from './config.js';

/** The pool: a postgres.js `sql` instance. */
export type Sql = postgres.Sql;
/** The pool or a transaction: what a query function needs, so it can run inside `sql.begin`. */
export type Queryable = postgres.Sql | postgres.TransactionSql;

/** The pool and the deadline its queries run under: what every SQL module receives. */
export interface Db {
  sql: Sql;
  /** Longest a query may take, queueing for a connection included (`DB_STATEMENT_TIMEOUT_MS`). */
  queryTimeoutMs: number;
}

/** Query-string parameters that must not reach the server as startup parameters. */
const CLIENT_ONLY_PARAMS = [
  // postgres.js forwards unknown URL parameters to the server as startup parameters, and
  // the server rejects `channel_binding`. postgres.js does not implement channel binding
  // (SCRAM-PLUS) anyway, and Neon's pooler cannot do it: drop it rather than fail.
  'channel_binding',
];

/**
 * Queries queued on the wire behind a running one, per connection (postgres.js defaults to
 * 100). Beyond this a query waits in the pool's queue, which it simply leaves when its
 * deadline passes; a query on the wire needs a CancelRequest instead, and a deep pipeline
 * behind one slow query would make every query in it miss its deadline. 0 would be cleaner
 * still, but postgres.js needs 1 for `sql.begin` (it reserves the connection from that hook).
 */
const MAX_PIPELINE = 1;

/**
 * postgres.js waits longer and longer between reconnection attempts after failures (up to
 * 20 s by default), which would keep the API answering 503 long after the database is back.
 * Capped at 1 s: reconnecting is cheap, and attempts are driven by requests anyway.
 */
const RECONNECT_BACKOFF_MAX_S = 1;

/**
 * On a direct connection the server also enforces a statement timeout, a little later than
 * the client's deadline (which should act first and answers the request): it bounds what the
 * client cannot cancel, e.g. a transaction whose client went away.
 */
const SERVER_TIMEOUT_MARGIN_MS = 1_000;

/**
 * `sslmode` values that ask for TLS but, in postgres.js, do not check the server's certificate
 * (`require` connects with `rejectUnauthorized: false`). Neon's URLs say `sslmode=require`, and
 * an unchecked certificate lets anyone on the path read and change the traffic; `verify-full`
 * checks the chain and the host name, as pg 8 (the migrations' driver) already does for them.
 */
const UNVERIFIED_SSL_MODES = new Set(['require', 'verify-ca']);

/**
 * The URL as postgres.js should see it: without client-only parameters, and with a TLS request
 * upgraded to a verified one (`sslmode=require` → `verify-full`).
 */
export function normalizeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  for (const name of CLIENT_ONLY_PARAMS) parsed.searchParams.delete(name);
  const sslMode = parsed.searchParams.get('sslmode');
  if (sslMode !== null && UNVERIFIED_SSL_MODES.has(sslMode)) parsed.searchParams.set('sslmode', 'verify-full');
  return parsed.toString();
}

/**
 * True for a PgBouncer transaction-mode pooler (Neon's `-pooler` host), where a named
 * prepared statement created on one server connection does not exist on the next one.
 */
export function isPooledUrl(url: string): boolean {
  return new URL(url).hostname.includes('-pooler');
}

/** Whether to use named prepared statements for this configuration. */
export function usePreparedStatements(config: DatabaseConfig): boolean {
  if (config.prepare === 'on') return true;
  if (config.prepare === 'off') return false;
  return !isPooledUrl(config.url);
}

/**
 * Session settings sent as startup parameters, only where the server takes them: a PgBouncer
 * pooler refuses unknown startup parameters ("unsupported startup parameter"), so they are
 * sent exactly when prepared statements are on, i.e. to a direct connection. (Neon's direct
 * endpoint accepts and ignores them; set `ALTER ROLE … SET statement_timeout` there.)
 */
export function serverSessionSettings(config: DatabaseConfig): Record<string, string> {
  if (!usePreparedStatements(config)) return {};
  const timeout = String(config.statementTimeoutMs + SERVER_TIMEOUT_MARGIN_MS);
  return { statement_timeout: timeout, idle_in_transaction_session_timeout: timeout };
}

/**
 * One postgres.js pool with the API's settings, as it is: `createSql` puts it behind its
 * swappable handle; the bench's floor (`scripts/bench/bare-koa.ts`) uses it bare, so that it
 * measures the same driver settings without anything of chapi around them.
 */
export function openPool(config: DatabaseConfig, options: { applicationName?: string } = {}): Sql {
  return postgres(normalizeDatabaseUrl(config.url), {
    max: config.poolMax,
    idle_timeout: config.idleTimeoutS,
    connect_timeout: config.connectTimeoutS,
    prepare: usePreparedStatements(config),
    // Supported by postgres.js, missing from its type definitions.
    ...({ max_pipeline: MAX_PIPELINE } as object),
    // The array-types query postgres.js runs on each new connection costs a round trip, and
    // when it fails (a timeout, a cancel) its rejection is unhandled and would crash the
    // process (porsager/postgres#1205). The API passes no arrays of custom types.
    fetch_types: false,
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, RECONNECT_BACKOFF_MAX_S),
    // Server notices (e.g. "relation already exists, skipping") are not errors; the
    // default handler would print them with console.log.
    onnotice: () => undefined,
    connection: { application_name: options.applicationName ?? 'chapi-api', ...serverSessionSettings(config) },
  });
}

/**
 * Creates the connection pool. Connections open lazily, so this never blocks start-up.
 *
 * What it returns is a stable handle on a postgres.js pool that `retirePool` can replace: a
 * connection that carried a cut query must take no new work (see `withDeadline`), and
 * postgres.js can close only all of a pool's connections at once (its `close()` even loses
 * the ones that never opened). So the pool itself is retired: it finishes what is in flight
 * and ends, and every query from then on goes to a fresh pool behind the same handle.
 */
export function createSql(config: DatabaseConfig, options: { applicationName?: string } = {}): Sql {
  const open = (): Sql => openPool(config, options);
  // A retired pool gets this long to finish its in-flight queries (the deadline, and the
  // server's statement timeout a second later), then its connections are destroyed.
  const retireTimeoutS = Math.ceil((config.statementTimeoutMs + SERVER_TIMEOUT_MARGIN_MS) / 1000) + 1;
  return swappablePool(open, retireTimeoutS);
}

/** A pool created by `createSql`, by its dispatch function (a query's `handler`). */
const retirersByHandler = new WeakMap<object, () => void>();

function handlerOf(sql: Sql): unknown {
  // A postgres.js query is sent only when awaited; this one never is, it only shows the
  // function every query of this pool is dispatched through.
  return (sql`select 1` as unknown as QueryInternals).handler;
}

/** The stable handle `createSql` returns, in front of the current pool. */
function swappablePool(open: () => Sql, retireTimeoutS: number): Sql {
  const retiring = new Set<Promise<void>>();
  let current: Sql;
  const install = (): void => {
    const pool = open();
    current = pool;
    const handler = handlerOf(pool);
    if (typeof handler !== 'function') return;
    retirersByHandler.set(handler, () => {
      if (current !== pool) return; // already retired
      install();
      const ended = pool.end({ timeout: retireTimeoutS }).catch(() => undefined);
      retiring.add(ended);
      void ended.finally(() => retiring.delete(ended));
    });
  };
  install();
  const end = async (endOptions?: { timeout?: number }): Promise<void> => {
    await Promise.all([current.end(endOptions), ...retiring]);
  };
  // The target only makes the proxy callable; every call and property goes to the current pool.
  return new Proxy((() => undefined) as unknown as Sql, {
    apply: (_target, _this, args: unknown[]) => (current as unknown as (...all: unknown[]) => unknown)(...args),
    get: (_target, property) => (property === 'end' ? end : (current as unknown as Record<PropertyKey, unknown>)[property]),
  });
}

/** Retires the pool `work` was dispatched through, if `createSql` made it and it is current. */
function retirePool(work: PromiseLike<unknown>): void {
  const handler = (work as QueryInternals).handler;
  if (typeof handler === 'function') retirersByHandler.get(handler)?.();
}

/** A query (or other database work) missed its deadline; `errors.ts` answers it with 503. */
export class QueryDeadlineError extends Error {
  override name = 'QueryDeadlineError';
  readonly code = 'QUERY_DEADLINE';

  constructor(timeoutMs: number) {
    super(`database work did not finish within ${timeoutMs} ms`);
  }
}

/**
 * A result that cannot be the database's answer: its length disagrees with the row count the
 * server reported, or it has holes. postgres.js 3.4.9 produced such results after a query
 * was cut while its rows streamed (porsager/postgres#1181; patched in `patches/`). It is a
 * fault, never data: `errors.ts` answers 503, and the pool that produced it is retired.
 */
export class InconsistentResultError extends Error {
  override name = 'InconsistentResultError';
  readonly code = 'INCONSISTENT_RESULT';

  constructor(length: number, rows: number, count: number | null) {
    super(`query result has ${rows} rows in ${length} slots; the server reported ${count ?? 'no'} rows`);
  }
}

/**
 * postgres.js's pending query, seen from inside: its canceller is what `cancel()` calls, its
 * handler is the pool (or transaction) it is dispatched through, and `state` (the backend key
 * of its connection) is set once it has been written to a connection.
 */
interface QueryInternals {
  canceller?: ((query: unknown) => Promise<void>) | null;
  handler?: unknown;
  state?: unknown;
}

/** True when postgres.js had written `work` to a connection (not merely queued it in the pool). */
function isOnTheWire(work: PromiseLike<unknown>): boolean {
  const state = (work as QueryInternals).state;
  return state !== undefined && state !== null;
}

/**
 * Returns `result` unless it is a query result that cannot be whole: an array with holes, or
 * rows (a row description) whose number differs from the row count in the server's
 * CommandComplete. A statement without rows (an INSERT, UPDATE or DELETE without RETURNING)
 * reports the rows it touched and returns none: that is whole.
 */
export function assertConsistentResult<T>(result: T): T {
  if (!Array.isArray(result)) return result;
  const { count, columns } = result as { count?: unknown; columns?: unknown };
  const returnsRows = Array.isArray(columns) && columns.length > 0;
  const reported = typeof count === 'number' ? count : null;
  let filled = 0;
  for (let index = 0; index < result.length; index += 1) if (index in result) filled += 1;
  if (filled !== result.length || (returnsRows && reported !== null && reported !== result.length)) {
    throw new InconsistentResultError(result.length, filled, reported);
  }
  return result;
}

/**
 * Cancels a postgres.js query without risking the process: a queued query leaves the pool's
 * queue (and rejects with 57014), a running one gets a CancelRequest on a new connection.
 *
 * `query.cancel()` itself is not used because it drops the promise of that CancelRequest, and
 * the promise rejects when the database cannot be reached — precisely when deadlines fire —
 * as an unhandled rejection, which ends a Node process (postgres.js 3.4.9). Here the same
 * canceller is called and its failure is handed to `onError`. Non-queries are left alone.
 */
export function cancelQuery(work: PromiseLike<unknown>, onError: (error: unknown) => void = () => undefined): void {
  const internals = work as QueryInternals;
  const canceller = internals.canceller;
  if (typeof canceller !== 'function') return;
  internals.canceller = null;
  canceller(work).catch(onError);
}

/**
 * Resolves or rejects like `work`, or rejects with `QueryDeadlineError` once `timeoutMs` has
 * passed, cancelling `work` when it is a postgres.js query. Pass the query itself (not a
 * promise derived from it) so that it can be cancelled.
 *
 * Defence in depth around a cut query (porsager/postgres#1181, fixed at its root by the patch
 * in `patches/`): a result that cannot be whole rejects with `InconsistentResultError` (a
 * 503), never reaches a handler; and when the deadline cancels a query that a connection was
 * already working on, or such a result shows up, the pool is retired (`createSql`): its
 * connections finish what they have in flight and close, and new queries get fresh ones, so
 * the connection that carried the cut query takes no new work.
 */
export function withDeadline<T>(work: PromiseLike<T>, timeoutMs: number): Promise<T> {
  // One promise, settled by whichever comes first (a race of three promises cost measurably on
  // every request); what comes second finds it settled and changes nothing.
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      const wasOnTheWire = isOnTheWire(work);
      cancelQuery(work);
      if (wasOnTheWire) retirePool(work);
      reject(new QueryDeadlineError(timeoutMs));
    }, timeoutMs);
    // Both outcomes are handled here: the loser's rejection (e.g. 57014 after our cancel) is
    // expected and never surfaces as an unhandled rejection.
    work.then(
      (result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          resolve(assertConsistentResult(result));
        } catch (error) {
          retirePool(work);
          reject(error);
        }
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
