/**
 * The ceiling: a bare Koa server answering a fixed JSON body, measured in the same run as
 * chapi so that every scenario can be reported as a fraction of what Koa alone does on this
 * machine at this moment (the machines are noisy; ratios within one run compare).
 */
import { createServer } from 'node:http';
import Koa from 'koa';

const BODY = { success: true, data: { status: 'ok' }, error: null, timestamp: '2026-01-01T00:00:00.000Z' };

const app = new Koa();
app.use((ctx) => {
  ctx.body = BODY;
});
const handle = app.callback();
const server = createServer((request, response) => void handle(request, response));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') process.stdout.write(`listening ${address.port}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
