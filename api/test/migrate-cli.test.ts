/**
 * `npm run migrate`: the real CLI, as its own process (`node --import tsx api/src/cli/migrate.ts`),
 * which is what the one-off ECS migration task runs (compiled), against empty test databases.
 */
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { PG_MIGRATE_LOCK_ID } from 'node-pg-migrate';
import { EXIT } from '../src/cli/exit-codes.js';
import { AUDIT_EVENT } from '../src/keys/audit.js';
import { generateServiceKey, hashServiceKey } from '../src/keys/format.js';
import { findKeyByHash } from '../src/keys/sql.js';
import { MIGRATIONS_DIR } from '../src/migrate.js';
import { useEmptyDatabasePerTest } from './helpers/empty-database.js';
import { jsonLines, runCli, startCli, type CliResult } from './helpers/run-cli.js';
import { dumpSchema } from './helpers/schema-dump.js';
import { waitFor } from './helpers/wait.js';

async function migrationNames(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR)).filter((file) => file.endsWith('.sql')).map((file) => file.replace(/\.sql$/, '')).sort();
}

describe('migrate CLI (npm run migrate, a real process)', function () {
  // Several tsx processes per test on a machine busy with other tests; a timeout only stops a
  // hung process, no assertion depends on speed.
  this.timeout(240_000);
  const database = useEmptyDatabasePerTest();
  const migrateCli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    runCli('migrate', args, { DATABASE_URL: database().url, ...env });

  it('--help documents the commands, the variables and the exit codes', async () => {
    const result = await runCli('migrate', ['--help'], {});
    expect(result.code).to.equal(EXIT.ok);
    for (const text of ['up [N]', 'down [N]', 'status', 'MIGRATION_DATABASE_URL', 'DATABASE_URL', 'SERVICE_API_KEYS', 'Exit codes']) {
      expect(result.stdout).to.include(text);
    }
  });

  it('status, up, up again, status, down: each says what it did', async () => {
    const names = await migrationNames();
    const fresh = await migrateCli(['status']);
    expect(fresh.code, fresh.stderr).to.equal(EXIT.ok);
    for (const name of names) expect(fresh.stdout).to.match(new RegExp(`^  pending  ${name}$`, 'm'));
    expect(fresh.stdout).to.include(`0 applied, ${names.length} pending.`);
    // status is read-only: no bookkeeping table appeared.
    expect((await dumpSchema(database().sql)).relations).to.deep.equal([]);

    const up = await migrateCli(['up']);
    expect(up.code, up.stderr).to.equal(EXIT.ok);
    expect(up.stdout).to.include(`(from DATABASE_URL)`);
    for (const name of names) expect(up.stdout).to.include(`applying ${name}`);
    expect(up.stdout).to.include(`Applied ${names.length} migrations.`);
    expect(up.stdout).to.include('SERVICE_API_KEYS is not set');

    const again = await migrateCli(['up']);
    expect(again.code, again.stderr).to.equal(EXIT.ok);
    expect(again.stdout).to.include('No pending migrations: the schema is up to date.');
    expect(again.stdout).not.to.include('applying');

    const applied = await migrateCli(['status']);
    for (const name of names) expect(applied.stdout).to.match(new RegExp(`^  applied  ${name} +\\d{4}-\\d\\d-\\d\\dT`, 'm'));
    expect(applied.stdout).to.include(`${names.length} applied, 0 pending.`);

    const down = await migrateCli(['down']);
    expect(down.code, down.stderr).to.equal(EXIT.ok);
    expect(down.stdout).to.include(`reverting ${names.at(-1) as string}`).and.to.include('Reverted 1 migration.');
    const after = await migrateCli(['status']);
    expect(after.stdout).to.match(new RegExp(`^  pending  ${names.at(-1) as string}$`, 'm'));
  });

  it('prefers MIGRATION_DATABASE_URL over DATABASE_URL', async () => {
    const result = await runCli('migrate', ['up'], {
      MIGRATION_DATABASE_URL: database().url,
      // Would fail if used: nothing listens on port 1.
      DATABASE_URL: 'postgres://chapi:pooled-password@127.0.0.1:1/chapi',
    });
    expect(result.code, result.stderr).to.equal(EXIT.ok);
    expect(result.stdout).to.include('(from MIGRATION_DATABASE_URL)');
    expect(await database().sql`select 1 from pgmigrations`).to.have.length((await migrationNames()).length);
  });

  it('refuses a pooler URL (exit 7): the session advisory lock needs a direct connection', async () => {
    const result = await runCli('migrate', ['up'], {
      DATABASE_URL: 'postgres://chapi:pooler-secret-pw@ep-cool-name-123-pooler.us-east-1.aws.neon.tech/chapi?sslmode=require',
    });
    expect(result.code).to.equal(EXIT.config);
    expect(result.stderr).to.include('connection pooler').and.to.include('Set MIGRATION_DATABASE_URL');
    expect(result.stdout + result.stderr).not.to.include('pooler-secret-pw');
  });

  it('a failing migration: exit 1, named with the database message, previous schema intact', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chapi-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      expect((await migrateCli(['up'])).code).to.equal(EXIT.ok);
      const before = await dumpSchema(database().sql);
      await writeFile(
        path.join(dir, '1769000000000_broken.sql'),
        '-- Up Migration\nCREATE TABLE half_done (id int);\nALTER TABLE tasks ADD COLUMN oops int REFERENCES nowhere (id);\n-- Down Migration\nDROP TABLE half_done;\n',
      );
      const result = await migrateCli(['up', '--migrations-dir', dir]);
      expect(result.code).to.equal(EXIT.failure);
      expect(result.stdout).to.include('applying 1769000000000_broken');
      expect(result.stderr).to.include('migration 1769000000000_broken (up) failed: relation "nowhere" does not exist (SQLSTATE 42P01)');
      expect(result.stderr).to.include('Nothing of 1769000000000_broken was applied');
      expect(result.stderr).to.include('--verbose');
      expect(await dumpSchema(database().sql)).to.deep.equal(before);

      const verbose = await migrateCli(['up', '--migrations-dir', dir, '--verbose']);
      expect(verbose.code).to.equal(EXIT.failure);
      // node-pg-migrate's log shows the statement that failed.
      expect(verbose.stderr).to.include('REFERENCES nowhere');

      const status = await migrateCli(['status', '--migrations-dir', dir]);
      expect(status.stdout).to.match(/^ {2}pending {2}1769000000000_broken$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('two runs at once, both waiting on the lock: both exit 0, each migration and each managed key once', async () => {
    const db = database();
    const secret = JSON.stringify({ 'cat-house-prod': generateServiceKey('prod'), 'mobile-prod': generateServiceKey('prod') });
    const holder = await db.sql.reserve();
    try {
      await holder`select pg_advisory_lock(${PG_MIGRATE_LOCK_ID})`;
      const runs = [0, 1].map(() => startCli('migrate', ['up'], { DATABASE_URL: db.url, SERVICE_API_KEYS: secret }).result);
      await waitFor(
        async () => {
          const [row] = await db.sql<{ waiting: number }[]>`
            select count(*)::int as waiting from pg_locks
            where locktype = 'advisory' and not granted
              and database = (select oid from pg_database where datname = current_database())`;
          return row?.waiting === 2;
        },
        { timeoutMs: 90_000, what: 'both migrate processes to wait on the migration lock' },
      );
      await holder`select pg_advisory_unlock(${PG_MIGRATE_LOCK_ID})`;
      const results = await Promise.all(runs);
      for (const result of results) expect(result.code, result.stderr).to.equal(EXIT.ok);
      const names = await migrationNames();
      const outputs = results.map((result) => result.stdout);
      expect(outputs.filter((out) => out.includes(`Applied ${names.length} migrations.`))).to.have.length(1);
      expect(outputs.filter((out) => out.includes('No pending migrations'))).to.have.length(1);
      expect((await db.sql<{ name: string }[]>`select name from pgmigrations order by id`).map((row) => row.name)).to.deep.equal(names);
      const keys = await db.sql`select key_name from service_api_keys where origin = 'managed' and revoked_at is null order by key_name`;
      expect(keys.map((row) => row.key_name)).to.deep.equal(['cat-house-prod', 'mobile-prod']);
      expect(outputs.filter((out) => out.includes('2 added, 0 replaced, 0 revoked, 0 unchanged'))).to.have.length(1);
      expect(outputs.filter((out) => out.includes('0 added, 0 replaced, 0 revoked, 2 unchanged'))).to.have.length(1);
    } finally {
      holder.release();
    }
  });

  it('syncs SERVICE_API_KEYS after up: add, replace, revoke, with audit lines and never a key in the output', async () => {
    const catHouse = generateServiceKey('prod');
    const mobile = generateServiceKey('prod');
    const first = await migrateCli(['up'], { SERVICE_API_KEYS: JSON.stringify({ 'cat-house-prod': catHouse, 'mobile-prod': mobile }) });
    expect(first.code, first.stderr).to.equal(EXIT.ok);
    expect(first.stdout).to.include('Managed keys (SERVICE_API_KEYS): 2 added, 0 replaced, 0 revoked, 0 unchanged.');
    const audits = jsonLines(first.stderr).filter((line) => line.event === AUDIT_EVENT);
    expect(audits.map((line) => [line.action, line.key_name, line.actor])).to.deep.equal([
      ['sync', 'cat-house-prod', 'migrate'],
      ['sync', 'mobile-prod', 'migrate'],
    ]);

    const replacement = generateServiceKey('prod');
    const second = await migrateCli(['up'], { SERVICE_API_KEYS: JSON.stringify({ 'cat-house-prod': replacement }) });
    expect(second.code, second.stderr).to.equal(EXIT.ok);
    expect(second.stdout).to.include('0 added, 1 replaced, 1 revoked, 0 unchanged.');
    expect((await findKeyByHash(database().sql, hashServiceKey(catHouse)))?.revoked_at).to.be.instanceOf(Date);
    expect((await findKeyByHash(database().sql, hashServiceKey(mobile)))?.revoked_at).to.be.instanceOf(Date);
    expect((await findKeyByHash(database().sql, hashServiceKey(replacement)))?.revoked_at).to.equal(null);

    for (const key of [catHouse, mobile, replacement]) {
      expect(first.stdout + first.stderr + second.stdout + second.stderr).not.to.include(key.slice(8));
    }
  });

  it('a malformed SERVICE_API_KEYS fails the run (exit 7) before anything changes, naming the entry', async () => {
    const good = generateServiceKey('prod');
    const bad = `sk_prod_${'Z'.repeat(12)}`;
    const result = await migrateCli(['up'], { SERVICE_API_KEYS: JSON.stringify({ 'cat-house-prod': good, 'mobile-prod': bad }) });
    expect(result.code).to.equal(EXIT.config);
    expect(result.stderr).to.include('SERVICE_API_KEYS entry "mobile-prod": not a well-formed service key');
    expect(result.stdout + result.stderr).not.to.include(good.slice(8)).and.not.to.include(bad);
    // Checked before migrating: the database is as empty as it was.
    expect((await dumpSchema(database().sql)).relations).to.deep.equal([]);

    const testKeyInProduction = await migrateCli(['up'], {
      NODE_ENV: 'production',
      SERVICE_API_KEYS: JSON.stringify({ 'cat-house-prod': good, 'mobile-prod': generateServiceKey('test') }),
    });
    expect(testKeyInProduction.code).to.equal(EXIT.config);
    expect(testKeyInProduction.stderr).to.include('entry "mobile-prod": a sk_test_ key, but only sk_prod_ keys');

    const notJson = await migrateCli(['up'], { SERVICE_API_KEYS: `{"cat-house-prod": "${good}"` });
    expect(notJson.code).to.equal(EXIT.config);
    expect(notJson.stderr).to.include('SERVICE_API_KEYS is not valid JSON');
    expect(notJson.stdout + notJson.stderr).not.to.include(good.slice(8));
  });

  it('a secret at odds with the table fails the run (exit 7) after migrating, and syncs nothing', async () => {
    expect((await migrateCli(['up'])).code).to.equal(EXIT.ok);
    const keys = await runCli('keys', ['create', 'cat-house-prod', '--env', 'prod'], { DATABASE_URL: database().url });
    expect(keys.code, keys.stderr).to.equal(EXIT.ok);
    const result = await migrateCli(['up'], {
      SERVICE_API_KEYS: JSON.stringify({ 'a-new-one': generateServiceKey('prod'), 'cat-house-prod': generateServiceKey('prod') }),
    });
    expect(result.code).to.equal(EXIT.config);
    expect(result.stderr).to.include('entry "cat-house-prod": the name already has a hand-made key');
    const managed = await database().sql`select 1 from service_api_keys where origin = 'managed'`;
    expect(managed).to.have.length(0);
  });

  it('usage errors are exit 2; connection trouble is 7 or 8, never with the password', async () => {
    for (const args of [[], ['sideways'], ['status', '2'], ['up', 'all'], ['down', '0'], ['up', '--force']]) {
      const result = await migrateCli(args);
      expect(result.code, args.join(' ')).to.equal(EXIT.usage);
      expect(result.stderr, args.join(' ')).to.include('--help');
    }
    expect((await runCli('migrate', ['up'], {})).code).to.equal(EXIT.config);
    expect((await runCli('migrate', ['up'], { DATABASE_URL: 'not a url with password hunter22' })).stderr).not.to.include('hunter22');

    const wrongPassword = new URL(database().url);
    wrongPassword.password = 'wrong-password-77';
    const refused = await runCli('migrate', ['up'], { DATABASE_URL: wrongPassword.toString() });
    expect(refused.code).to.equal(EXIT.config);
    expect(refused.stdout + refused.stderr).not.to.include('wrong-password-77');

    const unreachable = new URL(database().url);
    unreachable.port = '1';
    unreachable.password = 'unreachable-pw-55';
    const down = await runCli('migrate', ['status'], { DATABASE_URL: unreachable.toString() });
    expect(down.code).to.equal(EXIT.unavailable);
    expect(down.stderr).to.include('cannot reach the database');
    expect(down.stdout + down.stderr).not.to.include('unreachable-pw-55');
  });
});
