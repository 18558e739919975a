/**
 * The ceilings: a bare Koa server answering a fixed JSON body, measured in the same run as
 * chapi so that every scenario can be reported as a fraction of what Koa alone does on this
 * machine at this moment (the machines are noisy; ratios within one run compare).
 *
 * With `BARE_DATABASE_URL`, the same server is the floor of a task request: it is sent the
 * scenario's own requests (the contract's `POST /execute` with its JSON body), reads the body
 * with raw-body as the API does, parses it, runs the API's own statement for the action
 * (`api/src/tasks/sql.ts`, through postgres.js with the API's pool settings) and answers the
 * text that statement returns. Nothing of chapi is around it: no key check, validation,
 * routing, idempotency, error envelope, logging or headers. So the floor is what the request
 * costs in Koa, the driver and the sockets, with PostgreSQL doing the request's real work and
 * returning its real result; the API's CPU above it is the application's own.
 */
import { createServer } from 'node:http';
import Koa from 'koa';
import getRawBody from 'raw-body';
import { loadConfig } from '../../api/src/config.js';
import { openPool, type Sql } from '../../api/src/db.js';
import { LIST_BATCH_BYTES } from '../../api/src/tasks/operations.js';
import { insertTaskStatement, selectTaskStatement, statsStatement, taskBatchStatement, updateTaskStatement } from '../../api/src/tasks/sql.js';

const BODY = { success: true, data: { status: 'ok' }, error: null, timestamp: '2026-01-01T00:00:00.000Z' };

const databaseUrl = process.env.BARE_DATABASE_URL;
// A pool with the API's settings (`openPool` in db.ts: size, prepared statements, a pipeline
// of one), without the API's swappable handle around it.
// A version of its own: bundled under .bench/, it has no package.json to read one from.
const sql =
  databaseUrl === undefined
    ? undefined
    : openPool(loadConfig({ ...process.env, DATABASE_URL: databaseUrl, APP_VERSION: 'bench-floor' }).database, { applicationName: 'bench-floor' });

/** An `/execute` request as the scenarios send it (`scenarios.ts`); nothing is checked. */
interface ExecuteRequest {
  action?: string;
  user_id?: string;
  payload?: Record<string, unknown>;
}

/**
 * The text the API's statement for `request` returns, in a minimal envelope; undefined when it
 * found no task (answered 404: the bench stops on a floor that fails requests, as one that did
 * less than their work would understate their cost).
 */
async function answer(db: Sql, request: ExecuteRequest): Promise<string | undefined> {
  const enveloped = (data: string | null | undefined) => (data === null || data === undefined ? undefined : `{"success":true,"data":${data}}`);
  const user = String(request.user_id);
  const payload = request.payload ?? {};
  const text = (value: unknown) => (value === undefined || value === null ? null : String(value));
  switch (request.action) {
    case 'get-task': {
      const [row] = await selectTaskStatement(db, user, String(payload.task_id));
      return enveloped(row?.json);
    }
    case 'list-tasks': {
      const [row] = await taskBatchStatement(db, user, {}, undefined, Number(payload.limit), LIST_BATCH_BYTES);
      return enveloped(row?.tasks === null || row?.tasks === undefined ? undefined : `{"tasks":[${row.tasks}]}`);
    }
    case 'create-task': {
      const dueDate = text(payload.due_date);
      const [row] = await insertTaskStatement(db, {
        user_id: user,
        title: String(payload.title),
        description: text(payload.description),
        status: (text(payload.status) ?? 'pending') as 'pending',
        priority: text(payload.priority) as null,
        due_date: dueDate === null ? null : new Date(dueDate),
      });
      return enveloped(row?.json);
    }
    case 'update-task': {
      const [row] = await updateTaskStatement(db, user, String(payload.task_id), { status: text(payload.status) as 'pending' });
      return enveloped(row?.json);
    }
    case 'get-stats': {
      const [row] = await statsStatement(db, user);
      return enveloped(JSON.stringify(row));
    }
    default:
      return undefined;
  }
}

const app = new Koa();
app.use(async (ctx) => {
  if (sql === undefined || ctx.method !== 'POST') {
    ctx.body = BODY;
    return;
  }
  const body = await getRawBody(ctx.req, { length: ctx.req.headers['content-length'] ?? null, limit: '1mb', encoding: 'utf8' });
  const text = await answer(sql, JSON.parse(body) as ExecuteRequest);
  if (text === undefined) {
    ctx.status = 404;
    return;
  }
  ctx.type = 'application/json';
  ctx.body = text;
});
const handle = app.callback();
const server = createServer((request, response) => void handle(request, response));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') process.stdout.write(`listening ${address.port}\n`);
});
process.once('SIGTERM', () => server.close(() => void sql?.end({ timeout: 1 }).finally(() => process.exit(0))));
