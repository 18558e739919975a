/**
 * postgres.js's row counter after a query that failed while its rows were streaming
 * (https://github.com/porsager/postgres/issues/1181, #1119): unpatched, the connection keeps
 * counting from where the failed query stopped, and the next query on it resolves with a
 * sparse array — holes first, then its rows. Every handler reads `const [row] = …`, so a hole
 * is a wrong answer (a valid key 401, an existing task 404, an applied update 404).
 *
 * The project ships the driver patched (`patches/postgres+*.patch`, applied by patch-package
 * on every install path); these tests reproduce the failure with the real driver against the
 * real PostgreSQL, through each build of the driver that is installed: the ES module build
 * (what the API and its esbuild bundle import) and the CommonJS one (what a `require` gets).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { build } from 'esbuild';
import postgresEsm from 'postgres';
import { createSql, QueryDeadlineError, withDeadline, type Sql } from '../../api/src/db.js';
import { loadConfig } from '../../api/src/config.js';
import { useTestDatabase } from '../../api/test/helpers/databases.js';
import { expectPatched } from '../support/patches.js';
import { REPO_ROOT } from '../static/lib/dockerfile.js';

type PostgresFactory = typeof postgresEsm;
const postgresCjs = createRequire(import.meta.url)('postgres') as PostgresFactory;

/** Rows the cut query streams before it stalls: far more than PostgreSQL's 8 KB send buffer. */
const ROWS_BEFORE_STALL = 2_000;
/** The deadline that cuts the stalled query (the API's own `withDeadline` and cancel). */
const DEADLINE_MS = 400;

/**
 * A large result whose rows stream at once until row ROWS_BEFORE_STALL, where the server
 * stalls (as a slow plan or a locked row would): a deadline or a statement timeout then cuts
 * it after the client has received most rows.
 */
function stallingQuery(sql: Sql) {
  return sql`
    select i, repeat('x', 200) as pad,
           case when i = ${ROWS_BEFORE_STALL} then pg_sleep(30)::text end as stall
    from generate_series(1, ${ROWS_BEFORE_STALL * 2}) as i`;
}

/** What every query after the cut must return: exactly its rows, no holes. */
async function expectExactRows(sql: Sql): Promise<void> {
  const rows = await sql<{ x: number }[]>`select x from generate_series(1, 5) as x`;
  const holes = Array.from(rows.keys()).filter((index) => !(index in rows)).length;
  expect({ length: rows.length, holes, count: rows.count }).to.deep.equal({ length: 5, holes: 0, count: 5 });
  expect(rows.map((row) => row.x)).to.deep.equal([1, 2, 3, 4, 5]);
}

/**
 * The driver as `api/bundle.ts` bundles it (esbuild, platform node, ES module output): the
 * bundle holds its own copy of the driver's code, so it is checked on its own.
 */
async function bundledPostgres(dir: string): Promise<PostgresFactory> {
  const entry = path.join(dir, 'entry.js');
  await writeFile(entry, "export { default } from 'postgres';\n");
  const outfile = path.join(dir, 'bundle.mjs');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    nodePaths: [path.join(REPO_ROOT, 'node_modules')],
    logLevel: 'silent',
  });
  return ((await import(pathToFileURL(outfile).href)) as { default: PostgresFactory }).default;
}

describe('postgres.js after a query cut while its rows stream (porsager/postgres#1181)', function () {
  this.timeout(60_000);
  const db = useTestDatabase();
  let bundleDir: string;
  let postgresBundled: PostgresFactory;

  before(async () => {
    bundleDir = await mkdtemp(path.join(tmpdir(), 'chapi-driver-bundle-'));
    postgresBundled = await bundledPostgres(bundleDir);
  });
  after(async () => {
    await rm(bundleDir, { recursive: true, force: true });
  });

  it('every build of the installed driver carries patches/ (the root postinstall ran patch-package)', () => {
    expectPatched(REPO_ROOT);
  });

  for (const [variant, factory] of [
    ['ES module build (what the API imports)', () => postgresEsm],
    ['CommonJS build', () => postgresCjs],
    ['esbuild bundle (as api/bundle.ts builds dist/main.js)', () => postgresBundled],
  ] as const) {
    describe(variant, () => {
      it('the next query on the connection gets exactly its rows after a deadline cancelled a streaming result', async () => {
        // One connection, so the next query surely runs where the cut one ran.
        const sql = factory()(db.url, { max: 1, onnotice: () => undefined, fetch_types: false });
        try {
          const cut = await withDeadline(stallingQuery(sql), DEADLINE_MS).then(
            () => undefined,
            (error: unknown) => error,
          );
          expect(cut).to.be.instanceOf(QueryDeadlineError);
          await expectExactRows(sql);
          await expectExactRows(sql);
        } finally {
          await sql.end({ timeout: 1 });
        }
      });

      it('the next query on the connection gets exactly its rows after the server\'s statement_timeout cut a streaming result', async () => {
        const sql = factory()(db.url, {
          max: 1,
          onnotice: () => undefined,
          fetch_types: false,
          connection: { statement_timeout: DEADLINE_MS },
        });
        try {
          const cut = await stallingQuery(sql).then(
            () => undefined,
            (error: unknown) => error,
          );
          expect(cut).to.have.property('code', '57014');
          await expectExactRows(sql);
        } finally {
          await sql.end({ timeout: 1 });
        }
      });
    });
  }

  it('the API\'s own pool (createSql: pipelining, prepared statements) answers exactly after a cut', async () => {
    const config = loadConfig({ DATABASE_URL: db.url, DB_POOL_MAX: '1', NODE_ENV: 'test' });
    const sql = createSql(config.database);
    try {
      // Pipelined behind the cut query on the one connection, as under load.
      const cut = withDeadline(stallingQuery(sql), DEADLINE_MS).catch((error: unknown) => error);
      const next = sql<{ x: number }[]>`select x from generate_series(1, 3) as x`.execute();
      expect(await cut).to.be.instanceOf(QueryDeadlineError);
      const rows = await next;
      expect({ length: rows.length, values: rows.map((row) => row.x) }).to.deep.equal({ length: 3, values: [1, 2, 3] });
      await expectExactRows(sql);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
