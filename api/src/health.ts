/**
 * `GET /health` (liveness: never touches the database, so a database outage does not make
 * the load balancer kill healthy tasks) and `GET /health/ready` (readiness: one `select 1`
 * that answers within 2 s either way; 503 while the process drains).
 */
import { withDeadline, type Sql } from './db.js';
import type { RouteDefinition } from './routes.js';
import { strictObject } from './schemas/common.js';

/** The contract: readiness answers within 2 s, whether the database does or not. */
export const READY_TIMEOUT_MS = 2_000;

/** Resolves true when `select 1` succeeds within the deadline (cancelled if not), false otherwise. */
export async function pingDatabase(sql: Sql, timeoutMs: number = READY_TIMEOUT_MS): Promise<boolean> {
  try {
    await withDeadline(sql`select 1`, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

const HealthSchema = strictObject(
  {
    status: { const: 'ok' },
    version: { type: 'string', description: 'The git commit the image was built from, else the package version.' },
    uptime_s: { type: 'integer', minimum: 0 },
  },
  ['status', 'version', 'uptime_s'],
);
const ReadySchema = strictObject({ status: { const: 'ok' }, database: { const: 'connected' } }, ['status', 'database']);
const NotReadySchema = {
  oneOf: [
    strictObject({ status: { const: 'unavailable' }, database: { const: 'unreachable' } }, ['status', 'database']),
    strictObject({ status: { const: 'draining' } }, ['status'], { description: 'Shutting down: route elsewhere.' }),
  ],
};

/** `/health` and `/health/ready`. */
export const healthRoutes: RouteDefinition[] = [
  {
    method: 'GET',
    path: '/health',
    auth: 'none',
    handle: (ctx, services) => {
      ctx.body = {
        status: 'ok',
        version: services.config.version,
        uptime_s: Math.floor((services.clock.now() - services.lifecycle.startedAt) / 1000),
      };
    },
    doc: {
      operationId: 'health',
      summary: 'Liveness: the process can serve (does not touch the database)',
      tags: ['service'],
      readsBody: false,
      usesDatabase: false,
      responses: {
        200: {
          description: 'Alive.',
          content: { 'application/json': { schema: HealthSchema, example: { status: 'ok', version: '3f2a9c1', uptime_s: 3600 } } },
        },
      },
    },
  },
  {
    method: 'GET',
    path: '/health/ready',
    auth: 'none',
    handle: async (ctx, services) => {
      // Shutting down (before the ping, or by the time it answered): tell the load balancer to
      // route elsewhere, whatever the database says.
      const draining = () => {
        ctx.status = 503;
        ctx.body = { status: 'draining' };
      };
      if (services.lifecycle.draining) return draining();
      const connected = await pingDatabase(services.db.sql);
      if (services.lifecycle.draining) return draining();
      ctx.status = connected ? 200 : 503;
      ctx.body = connected ? { status: 'ok', database: 'connected' } : { status: 'unavailable', database: 'unreachable' };
    },
    doc: {
      operationId: 'ready',
      summary: 'Readiness: the database answers (within 2 s either way)',
      tags: ['service'],
      readsBody: false,
      usesDatabase: false,
      responses: {
        200: { description: 'Ready.', content: { 'application/json': { schema: ReadySchema, example: { status: 'ok', database: 'connected' } } } },
        503: {
          description: 'The database is unreachable, or the process is shutting down.',
          content: { 'application/json': { schema: NotReadySchema, example: { status: 'unavailable', database: 'unreachable' } } },
        },
      },
    },
  },
];
