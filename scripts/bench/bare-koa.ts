/**
 * The ceilings: a bare Koa server answering a fixed JSON body, measured in the same run as
 * chapi so that every scenario can be reported as a fraction of what Koa alone does on this
 * machine at this moment (the machines are noisy; ratios within one run compare).
 *
 * With `BARE_DATABASE_URL`, the same server is the floor of a task request: it is sent the
 * scenario's own requests (the contract's `POST /execute` with its JSON body), reads the body
 * with raw-body as the API does and parses it, then runs one statement through postgres.js
 * with the API's pool settings (`db.ts`), and answers the fixed body. That is what any Koa
 * application must do for such a request, whatever it does around it. The statement has a
 * parameter and returns one row, like the API's, and asks PostgreSQL for almost nothing: what
 * it costs is the round trip (the driver, the two socket writes and reads, the wake-ups),
 * which every task request of the API pays once.
 */
import { createServer } from 'node:http';
import Koa from 'koa';
import postgres from 'postgres';
import getRawBody from 'raw-body';

const BODY = { success: true, data: { status: 'ok' }, error: null, timestamp: '2026-01-01T00:00:00.000Z' };

const databaseUrl = process.env.BARE_DATABASE_URL;
// The API's pool: db.ts (size, prepared statements, no type fetch, a pipeline of one).
const sql = databaseUrl === undefined ? undefined : postgres(databaseUrl, { max: 10, prepare: true, fetch_types: false, ...({ max_pipeline: 1 } as object) });

const app = new Koa();
app.use(async (ctx) => {
  if (sql !== undefined) {
    if (ctx.method === 'POST') {
      const text = await getRawBody(ctx.req, { length: ctx.req.headers['content-length'] ?? null, limit: '1mb', encoding: 'utf8' });
      JSON.parse(text);
    }
    await sql`select ${ctx.path}::text as path`;
  }
  ctx.body = BODY;
});
const handle = app.callback();
const server = createServer((request, response) => void handle(request, response));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') process.stdout.write(`listening ${address.port}\n`);
});
process.once('SIGTERM', () => server.close(() => void sql?.end({ timeout: 1 }).finally(() => process.exit(0))));
