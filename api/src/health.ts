/**
 * `GET /health` (liveness: never touches the database, so a database outage does not make
 * the load balancer kill healthy tasks) and `GET /health/ready` (readiness: one `select 1`
 * that answers within 2 s either way).
 */
import Router from '@koa/router';
import type { Sql } from './db.js';
import type { Lifecycle } from './lifecycle.js';

/** The contract: readiness answers within 2 s, whether the database does or not. */
export const READY_TIMEOUT_MS = 2_000;

/** Resolves true when `select 1` succeeds within the deadline, false otherwise. */
export async function pingDatabase(sql: Sql, timeoutMs: number = READY_TIMEOUT_MS): Promise<boolean> {
  const query = sql`select 1`;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => {
      // Cancel so the probe does not hold a pool connection behind a dead database.
      query.cancel();
      resolve(false);
    }, timeoutMs);
  });
  try {
    return await Promise.race([query.then(() => true, () => false), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRouter(deps: { sql: Sql; lifecycle: Lifecycle; version: string; now: () => number }): Router {
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = {
      status: 'ok',
      version: deps.version,
      uptime_s: Math.floor((deps.now() - deps.lifecycle.startedAt) / 1000),
    };
  });
  router.get('/health/ready', async (ctx) => {
    if (deps.lifecycle.draining) {
      // Shutting down: tell the load balancer to route elsewhere, whatever the database says.
      ctx.status = 503;
      ctx.body = { status: 'draining' };
      return;
    }
    const connected = await pingDatabase(deps.sql);
    ctx.status = connected ? 200 : 503;
    ctx.body = connected ? { status: 'ok', database: 'connected' } : { status: 'unavailable', database: 'unreachable' };
  });
  return router;
}
