/**
 * `npm run import` end to end: a database laid out as the earlier Python service's README
 * describes (plain-text keys in `service_api_keys`, `tasks` without `updated_at`), the real CLI
 * as a process, chapi's database after it, and the API authenticating an imported key.
 * Tasks keep their ids and times; only active keys come over, hashed; rows chapi cannot hold
 * are refused and reported, never altered; a second run changes nothing; a run after a
 * partial one completes it; no key is ever printed.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { EXIT } from '../src/cli/exit-codes.js';
import type { EarlierTask } from '../src/import/earlier-service.js';
import { hashServiceKey } from '../src/keys/format.js';
import type { RunningServer } from '../src/server.js';
import { request } from './helpers/api-client.js';
import { startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { createEmptyDatabase, type EmptyDatabase } from './helpers/empty-database.js';
import { runCli, type CliResult } from './helpers/run-cli.js';

/** The earlier service's schema, as its README lays it out. */
async function layOutEarlierService(sql: EmptyDatabase['sql']): Promise<void> {
  await sql`create table service_api_keys (
    id uuid primary key default gen_random_uuid(),
    key_name varchar(100) unique not null,
    api_key varchar(255) unique not null,
    active boolean not null default true,
    created_at timestamptz not null default now(),
    expires_at timestamptz)`;
  await sql`create index ix_service_api_keys_active on service_api_keys (api_key) where active`;
  await sql`create table tasks (
    id uuid primary key,
    user_id varchar(255) not null,
    title varchar(500) not null,
    description text,
    status varchar(50) not null default 'pending',
    priority varchar(50),
    created_at timestamptz not null,
    completed_at timestamptz,
    due_date timestamptz)`;
  await sql`create index ix_tasks_user_id on tasks (user_id)`;
  await sql`create index ix_tasks_user_status on tasks (user_id, status)`;
}

const SEEDED_DEV_KEY = `sk_dev_test_key_${'12345678'.repeat(4)}`;
const PROD_KEY = `sk_prod_${'0123456789abcdef'.repeat(4)}`;
const UNPREFIXED_KEY = `legacy-mobile-${'f00d'.repeat(6)}`;
const INACTIVE_KEY = `sk_prod_${'deadbeef'.repeat(8)}`;
const EXPIRED_KEY = `sk_prod_${'cafebabe'.repeat(8)}`;
const ALL_KEYS = [SEEDED_DEV_KEY, PROD_KEY, UNPREFIXED_KEY, INACTIVE_KEY, EXPIRED_KEY];

describe('npm run import (from the earlier service)', function () {
  this.timeout(120_000);
  const db = useTestDatabase();
  let earlier: EmptyDatabase;
  let tasks: EarlierTask[];
  const tooLong = randomUUID();
  const completedWithoutTime = randomUUID();

  const run = (args: string[]): Promise<CliResult> => runCli('import', ['--from', earlier.url, '--batch', '100', ...args], { DATABASE_URL: db.url });

  before(async () => {
    earlier = await createEmptyDatabase();
    await layOutEarlierService(earlier.sql);
    await earlier.sql`insert into service_api_keys (key_name, api_key) values ('cat-house-dev', ${SEEDED_DEV_KEY}), ('cat-house-prod', ${PROD_KEY}), ('mobile-legacy', ${UNPREFIXED_KEY})`;
    await earlier.sql`insert into service_api_keys (key_name, api_key, active) values ('retired', ${INACTIVE_KEY}, false)`;
    await earlier.sql`insert into service_api_keys (key_name, api_key, expires_at) values ('expired', ${EXPIRED_KEY}, now() - interval '1 day')`;
    // 250 tasks over 7 users (three batches of 100), with microsecond times and every field.
    tasks = Array.from({ length: 250 }, (_, index) => {
      const completed = index % 4 === 0;
      return {
        id: randomUUID(),
        user_id: `user-${index % 7}`,
        title: `Task ${index}`,
        description: index % 3 === 0 ? null : `About task ${index}`,
        status: completed ? 'completed' : index % 4 === 1 ? 'in_progress' : 'pending',
        priority: index % 5 === 0 ? null : (['low', 'medium', 'high', 'urgent'] as const)[index % 4] as string,
        created_at: `2025-0${1 + (index % 9)}-1${index % 10}T10:20:30.${String(1_000_000 + index).slice(1)}Z`,
        completed_at: completed ? `2025-10-0${1 + (index % 9)}T08:00:00.123456Z` : null,
        due_date: index % 2 === 0 ? `2026-0${1 + (index % 9)}-01T00:00:00.000001Z` : null,
      };
    });
    // As JSON with declared types: bound as Dates, the times would lose their microseconds.
    await earlier.sql`
      insert into tasks select * from jsonb_to_recordset(${earlier.sql.json(tasks as never)})
        as t(id uuid, user_id text, title text, description text, status text, priority text,
             created_at timestamptz, completed_at timestamptz, due_date timestamptz)`;
    await earlier.sql`insert into tasks (id, user_id, title, description, created_at) values (${tooLong}, 'user-0', 'long', ${'d'.repeat(10_001)}, now())`;
    await earlier.sql`insert into tasks (id, user_id, title, status, created_at) values (${completedWithoutTime}, 'user-1', 'done?', 'completed', now())`;
  });
  after(async () => {
    await earlier.drop();
  });

  function expectNoKeyPrinted(result: CliResult): void {
    for (const key of ALL_KEYS) {
      expect(result.stdout, 'stdout').not.to.include(key);
      expect(result.stderr, 'stderr').not.to.include(key);
    }
  }

  it('refuses, and reports, what chapi cannot hold; copies the rest with the same ids and times', async () => {
    const result = await run([]);
    expectNoKeyPrinted(result);
    expect(result.code, result.stderr).to.equal(EXIT.incomplete);
    expect(result.stdout).to.include('keys:  3 active on the earlier service; 2 imported, 0 already here, 1 refused');
    expect(result.stdout).to.include('key "mobile-legacy": the key has no sk_<env>_ prefix: give its environment with --environment');
    expect(result.stdout).to.include('tasks: 252 on the earlier service; 250 imported, 0 already here, 2 refused');
    expect(result.stdout).to.include(`task ${tooLong}: description is 10001 characters`);
    expect(result.stdout).to.include(`task ${completedWithoutTime}: completed without completed_at`);
    expect(result.stdout).to.match(/tasks per user: 2 of 7 users differ/);

    const copied = await db.sql<(EarlierTask & { updated_at: string })[]>`
      select id, user_id, title, description, status, priority,
             to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at,
             to_char(completed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as completed_at,
             to_char(due_date at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as due_date,
             to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as updated_at
      from tasks order by id`;
    // Every time to the microsecond, as written into the earlier database.
    const expected = [...tasks].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(copied.map(({ updated_at: _updated, ...task }) => task)).to.deep.equal(expected);
    // No updated_at there: the later of created_at and completed_at.
    for (const task of copied) expect(task.updated_at).to.equal(task.completed_at ?? task.created_at);

    const keys = await db.sql<{ key_name: string; environment: string; origin: string; key_hash: Buffer; display_prefix: string }[]>`
      select key_name, environment, origin, key_hash, display_prefix from service_api_keys order by key_name`;
    expect(keys.map((key) => [key.key_name, key.environment, key.origin, key.display_prefix])).to.deep.equal([
      ['cat-house-dev', 'dev', 'imported', 'sk_dev_test'],
      ['cat-house-prod', 'prod', 'imported', 'sk_prod_0123'],
    ]);
    expect(keys.map((key) => key.key_hash.toString('hex'))).to.deep.equal([SEEDED_DEV_KEY, PROD_KEY].map((key) => hashServiceKey(key).toString('hex')));
    const [stored] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from service_api_keys where display_prefix in (select jsonb_array_elements_text(${db.sql.json(ALL_KEYS)}))`;
    expect(stored?.n, 'no key is stored whole').to.equal(0);
  });

  it('completes after the fixes, and a second run changes nothing', async () => {
    await earlier.sql`update tasks set description = left(description, 10000) where id = ${tooLong}`;
    await earlier.sql`update tasks set completed_at = created_at where id = ${completedWithoutTime}`;
    const fixed = await run(['--environment', 'test']);
    expectNoKeyPrinted(fixed);
    expect(fixed.code, fixed.stdout + fixed.stderr).to.equal(EXIT.ok);
    expect(fixed.stdout).to.include('keys:  3 active on the earlier service; 1 imported, 2 already here, 0 refused');
    expect(fixed.stdout).to.include('tasks: 252 on the earlier service; 2 imported, 250 already here, 0 refused');
    expect(fixed.stdout).to.include('tasks per user: the same on both sides for all 7 users');

    const before = await db.sql`select * from tasks order by id`;
    const again = await run(['--environment', 'test', '--json']);
    expect(again.code).to.equal(EXIT.ok);
    const report = JSON.parse(again.stdout) as { tasks: { imported: number; alreadyHere: number }; keys: { imported: number } };
    expect(report.tasks).to.include({ imported: 0, alreadyHere: 252 });
    expect(report.keys.imported).to.equal(0);
    expect(await db.sql`select * from tasks order by id`).to.deep.equal(before);
  });

  it('resumes: a run that stopped halfway is completed by running it again', async () => {
    // What a run cut off after some batches leaves: part of the tasks.
    await db.sql`delete from tasks where id in (select id from tasks order by id desc limit 120)`;
    const resumed = await run(['--environment', 'test']);
    expect(resumed.code, resumed.stdout).to.equal(EXIT.ok);
    expect(resumed.stdout).to.include('tasks: 252 on the earlier service; 120 imported, 132 already here, 0 refused');
  });

  it('the imported keys authenticate, by their hash, whatever their shape', async () => {
    const api: RunningServer = await startTestApi(db.url);
    try {
      const body = { action: 'list-tasks', user_id: 'user-3' };
      for (const key of [SEEDED_DEV_KEY, UNPREFIXED_KEY]) {
        const response = await request(api.url, 'POST', '/execute', { headers: { 'X-Service-Key': key }, body });
        expect(response.status, response.text).to.equal(200);
        expect(response.data.count).to.equal(tasks.filter((task) => task.user_id === 'user-3').length);
      }
      for (const key of [INACTIVE_KEY, EXPIRED_KEY]) {
        expect((await request(api.url, 'POST', '/execute', { headers: { 'X-Service-Key': key }, body })).status).to.equal(401);
      }
    } finally {
      await api.stop();
    }
  });

  it('refuses a bad command line before touching anything', async () => {
    expect((await runCli('import', [], { DATABASE_URL: db.url })).code).to.equal(EXIT.usage);
    expect((await run(['--environment', 'staging'])).code).to.equal(EXIT.badEnvironment);
    const secret = await runCli('import', ['--from', 'postgres://someone:s3cret-pass@127.0.0.1:1/nothing'], { DATABASE_URL: db.url });
    expect(secret.code).to.equal(EXIT.unavailable);
    expect(secret.stdout + secret.stderr).not.to.include('s3cret-pass');
  });
});
