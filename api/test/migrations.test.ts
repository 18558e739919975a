import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { PG_MIGRATE_LOCK_ID } from 'node-pg-migrate';
import { migrate, MigrationError, MIGRATIONS_DIR, migrationStatus } from '../src/migrate.js';
import { useEmptyDatabasePerTest } from './helpers/empty-database.js';
import { dumpSchema } from './helpers/schema-dump.js';
import { waitFor } from './helpers/wait.js';

/** The project's migrations, in the order `up` applies them. */
async function migrationNames(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR)).filter((file) => file.endsWith('.sql')).map((file) => file.replace(/\.sql$/, '')).sort();
}

/** A temporary migrations folder: the project's migrations plus `extra` files. */
async function migrationsWith(extra: Record<string, string>): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'chapi-migrations-'));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  for (const [file, content] of Object.entries(extra)) await writeFile(path.join(dir, file), content);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

describe('migrations (migrate.ts against a fresh database)', function () {
  // Each test migrates an empty database from zero, several times over.
  this.timeout(120_000);
  const database = useEmptyDatabasePerTest();

  it('up, down to zero, up again: the same schema, down to the last column, default and index', async () => {
    const db = database();
    const names = await migrationNames();
    expect(await migrate({ databaseUrl: db.url, direction: 'up' })).to.deep.equal(names);
    const first = await dumpSchema(db.sql);
    // The dump sees what the migrations made, so an equality below is not vacuous.
    expect(first.relations).to.include.members(['service_api_keys r', 'tasks r', 'idempotency_keys r', 'pgmigrations r']);
    expect(first.indexes.join('\n')).to.include('tasks_user_status_created_idx');
    expect(first.constraints.join('\n')).to.include('tasks_status_valid');

    expect(await migrate({ databaseUrl: db.url, direction: 'down', count: Infinity })).to.deep.equal([...names].reverse());
    const empty = await dumpSchema(db.sql);
    // Only node-pg-migrate's bookkeeping table (and its sequence) is left, and it is empty.
    expect(empty.relations).to.deep.equal(['pgmigrations r', 'pgmigrations_id_seq S']);
    expect(await db.sql`select name from pgmigrations`).to.have.length(0);

    expect(await migrate({ databaseUrl: db.url, direction: 'up' })).to.deep.equal(names);
    expect(await dumpSchema(db.sql)).to.deep.equal(first);
  });

  it('each migration, undone on its own, restores exactly the schema before it', async () => {
    const db = database();
    // count 0 applies nothing but creates node-pg-migrate's bookkeeping table, which is then
    // part of every "before" (the first migration's down does not, and should not, drop it).
    expect(await migrate({ databaseUrl: db.url, direction: 'up', count: 0 })).to.deep.equal([]);
    for (const name of await migrationNames()) {
      const before = await dumpSchema(db.sql);
      expect(await migrate({ databaseUrl: db.url, direction: 'up', count: 1 })).to.deep.equal([name]);
      const after = await dumpSchema(db.sql);
      expect(after, `${name} changed nothing`).not.to.deep.equal(before);
      expect(await migrate({ databaseUrl: db.url, direction: 'down', count: 1 })).to.deep.equal([name]);
      expect(await dumpSchema(db.sql), `${name} is not exactly reversible`).to.deep.equal(before);
      await migrate({ databaseUrl: db.url, direction: 'up', count: 1 });
    }
  });

  it("ignores the role's or database's statement_timeout meant for the API's queries", async () => {
    const db = database();
    // What an operator sets for the app role on Neon; here on the database, scoped to this test.
    await db.sql.unsafe(`alter database "${db.name}" set statement_timeout = '50ms'`);
    const slow = await migrationsWith({ '9999999999999_slow-index-build.sql': '-- Up Migration\nselect pg_sleep(0.3);\n-- Down Migration\n' });
    try {
      const ran = await migrate({ databaseUrl: db.url, direction: 'up', dir: slow.dir });
      expect(ran.at(-1)).to.equal('9999999999999_slow-index-build');
    } finally {
      await slow.remove();
    }
  });

  it('a re-run is a no-op', async () => {
    const db = database();
    await migrate({ databaseUrl: db.url, direction: 'up' });
    const schema = await dumpSchema(db.sql);
    const runs = await db.sql`select name, run_on from pgmigrations order by id`;
    expect(await migrate({ databaseUrl: db.url, direction: 'up' })).to.deep.equal([]);
    expect(await dumpSchema(db.sql)).to.deep.equal(schema);
    expect(await db.sql`select name, run_on from pgmigrations order by id`).to.deep.equal(runs);
  });

  it('a failing migration is named with the database message and leaves the previous schema intact', async () => {
    const db = database();
    await migrate({ databaseUrl: db.url, direction: 'up' });
    const before = await dumpSchema(db.sql);
    const broken = await migrationsWith({
      // Two statements succeed before the third fails: none of them may survive.
      '1769000000000_broken.sql': [
        '-- Up Migration',
        'CREATE TABLE half_done (id int);',
        'ALTER TABLE tasks ADD COLUMN half_done text;',
        'SELECT no_such_column FROM tasks;',
        '-- Down Migration',
        'DROP TABLE half_done;',
      ].join('\n'),
    });
    try {
      const error = await migrate({ databaseUrl: db.url, direction: 'up', dir: broken.dir }).catch((thrown: unknown) => thrown);
      expect(error).to.be.instanceOf(MigrationError);
      const failure = error as MigrationError;
      expect(failure.migration).to.equal('1769000000000_broken');
      expect(failure.sqlState).to.equal('42703');
      expect(failure.message).to.include('1769000000000_broken').and.to.include('column "no_such_column" does not exist');
      expect(await dumpSchema(db.sql)).to.deep.equal(before);
      const status = await migrationStatus({ databaseUrl: db.url, dir: broken.dir });
      expect(status.pending).to.deep.equal(['1769000000000_broken']);
      // The session that failed is gone, and with it the advisory lock: the next run proceeds.
      expect(await migrate({ databaseUrl: db.url, direction: 'up' })).to.deep.equal([]);
    } finally {
      await broken.remove();
    }
  });

  it('a failure in a later migration keeps the earlier ones of the same run applied', async () => {
    const db = database();
    const broken = await migrationsWith({ '1769000000000_broken.sql': '-- Up Migration\nSELECT 1/0;\n-- Down Migration\n' });
    try {
      const error = (await migrate({ databaseUrl: db.url, direction: 'up', dir: broken.dir }).catch((e: unknown) => e)) as MigrationError;
      expect(error.migration).to.equal('1769000000000_broken');
      expect(error.message).to.include('division by zero');
      const status = await migrationStatus({ databaseUrl: db.url, dir: broken.dir });
      expect(status.applied.map((entry) => entry.name)).to.deep.equal(await migrationNames());
      expect(status.pending).to.deep.equal(['1769000000000_broken']);
    } finally {
      await broken.remove();
    }
  });

  it('two runners at once: the second waits for the first, both succeed, each migration runs once', async () => {
    const db = database();
    // Hold the migration lock ourselves so that both runners are certainly waiting at once.
    const holder = await db.sql.reserve();
    try {
      await holder`select pg_advisory_lock(${PG_MIGRATE_LOCK_ID})`;
      const runs = [migrate({ databaseUrl: db.url, direction: 'up' }), migrate({ databaseUrl: db.url, direction: 'up' })];
      await waitFor(
        async () => {
          const [row] = await db.sql<{ waiting: number }[]>`
            select count(*)::int as waiting from pg_locks
            where locktype = 'advisory' and not granted
              and database = (select oid from pg_database where datname = current_database())`;
          return row?.waiting === 2;
        },
        { timeoutMs: 60_000, what: 'both runners to wait on the migration lock' },
      );
      await holder`select pg_advisory_unlock(${PG_MIGRATE_LOCK_ID})`;
      const results = await Promise.all(runs);
      const names = await migrationNames();
      expect(results.map((ran) => ran.length).sort()).to.deep.equal([0, names.length]);
      const applied = await db.sql<{ name: string }[]>`select name from pgmigrations order by id`;
      expect(applied.map((row) => row.name)).to.deep.equal(names);
    } finally {
      holder.release();
    }
  });

  it('an older build against a newer database: up is a no-op and status shows the unknown migration', async () => {
    // After a code rollback the schema stays ahead (expand/contract): the old image's
    // migration task must succeed without touching it.
    const db = database();
    const newer = await migrationsWith({
      '1769000000000_expand.sql': '-- Up Migration\nALTER TABLE tasks ADD COLUMN labels text[];\n-- Down Migration\nALTER TABLE tasks DROP COLUMN labels;\n',
    });
    try {
      await migrate({ databaseUrl: db.url, direction: 'up', dir: newer.dir });
    } finally {
      await newer.remove();
    }
    const schema = await dumpSchema(db.sql);
    expect(await migrate({ databaseUrl: db.url, direction: 'up' })).to.deep.equal([]);
    expect(await dumpSchema(db.sql)).to.deep.equal(schema);
    const status = await migrationStatus({ databaseUrl: db.url });
    expect(status.pending).to.deep.equal([]);
    expect(status.applied.filter((entry) => !entry.known).map((entry) => entry.name)).to.deep.equal(['1769000000000_expand']);
  });

  it('status reads a database that was never migrated without creating anything', async () => {
    const db = database();
    const status = await migrationStatus({ databaseUrl: db.url });
    expect(status).to.deep.equal({ applied: [], pending: await migrationNames() });
    expect((await dumpSchema(db.sql)).relations).to.deep.equal([]);
  });

  it('an unreachable database is a connect failure naming no migration', async () => {
    const db = database();
    const url = new URL(db.url);
    url.port = '1';
    const error = (await migrate({ databaseUrl: url.toString(), direction: 'up' }).catch((e: unknown) => e)) as MigrationError;
    expect(error).to.be.instanceOf(MigrationError);
    expect(error.phase).to.equal('connect');
    expect(error.migration).to.equal(undefined);
    expect(error.message).to.include('ECONNREFUSED');
  });
});
