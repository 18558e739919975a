/**
 * The task contract (docs/api.md, "The task", "/execute", "/v1"), for both transports: fields,
 * defaults, times, trimming, lengths, completed_at, isolation between users, 404s, stats.
 * Where the transports differ (`/execute`'s leniency and 400s), `execute-compat.test.ts`.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { RunningServer } from '../src/server.js';
import { apiClient, type ApiClient, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { bothTransports, executeTransport, v1Transport } from './helpers/transports.js';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TASK_FIELDS = ['id', 'user_id', 'title', 'description', 'status', 'priority', 'due_date', 'created_at', 'updated_at', 'completed_at'];

/** A user id no other test uses. */
function newUser(): string {
  return `user-${randomUUID()}`;
}

function expectOk(response: ApiResponse, status = 200): void {
  expect(response.status, response.text).to.equal(status);
  expect(response.json).to.include({ success: true, error: null });
}

function expectError(response: ApiResponse, status: number, code: string): void {
  expect(response.status, response.text).to.equal(status);
  expect(response.json).to.include({ success: false, data: null });
  expect(response.error?.code).to.equal(code);
}

describe('tasks', () => {
  const db = useTestDatabase();
  let api: RunningServer;
  let client: ApiClient;

  before(async () => {
    api = await startTestApi(db.url);
    client = apiClient(api.url, { key: await createTestKey(db.sql) });
  });
  after(async () => {
    await api.stop();
  });

  async function rowCount(userId: string): Promise<number> {
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from tasks where user_id = ${userId}`;
    return row?.n ?? -1;
  }

  for (const transport of bothTransports(() => client)) {
    describe(`over ${transport.name}`, () => {
      async function create(userId: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
        const response = await transport.create(userId, payload);
        expectOk(response, transport.createdStatus);
        return response.data as Record<string, unknown>;
      }

      describe('create', () => {
        it('creates with defaults: exactly ten fields, unset ones null, status pending, UTC times with ms', async () => {
          const userId = newUser();
          const response = await transport.create(userId, { title: 'Feed the cats' });
          expectOk(response, transport.createdStatus);
          const task = response.data as Record<string, unknown>;
          expect(Object.keys(task)).to.deep.equal(TASK_FIELDS);
          expect(task).to.include({
            user_id: userId,
            title: 'Feed the cats',
            description: null,
            status: 'pending',
            priority: null,
            due_date: null,
            completed_at: null,
          });
          expect(task.id).to.match(/^[0-9a-f-]{36}$/);
          expect(task.created_at).to.match(ISO_MS);
          expect(task.updated_at).to.equal(task.created_at);
          expect(await rowCount(userId)).to.equal(1);
        });

        it('stores every field; a due_date with any offset comes back in UTC', async () => {
          const task = await create(newUser(), {
            title: 'Vet visit',
            description: 'Annual check-up',
            status: 'in_progress',
            priority: 'urgent',
            due_date: '2030-06-01T10:30:00.250+05:30',
          });
          expect(task).to.include({
            title: 'Vet visit',
            description: 'Annual check-up',
            status: 'in_progress',
            priority: 'urgent',
            due_date: '2030-06-01T05:00:00.250Z',
            completed_at: null,
          });
        });

        it('accepts RFC 3339 variants: lowercase t and z, a space, -00:00, many fraction digits', async () => {
          for (const [input, output] of [
            ['2030-01-02t03:04:05z', '2030-01-02T03:04:05.000Z'],
            ['2030-01-02 03:04:05Z', '2030-01-02T03:04:05.000Z'],
            ['2030-01-02T03:04:05-00:00', '2030-01-02T03:04:05.000Z'],
            ['2030-01-02T03:04:05.123456789Z', '2030-01-02T03:04:05.123Z'],
            ['2030-01-01T00:30:00+01:00', '2029-12-31T23:30:00.000Z'],
            ['2016-12-31T23:59:60Z', '2017-01-01T00:00:00.000Z'],
          ]) {
            const task = await create(newUser(), { title: 'dated', due_date: input });
            expect(task.due_date, input).to.equal(output);
          }
        });

        it('refuses an impossible date, an out-of-range year (and on /v1 a date-time without offset, a date alone): nothing stored', async () => {
          const userId = newUser();
          for (const due of [
            // /execute reads these two as UTC (the earlier service's leniency): execute-compat.test.ts.
            ...(transport.name === 'v1' ? ['2030-01-02T03:04:05', '2030-01-02'] : []),
            '2030-02-30',
            '2030-02-30T00:00:00',
            '2030-02-30T00:00:00Z',
            '2029-02-29T00:00:00Z',
            '2030-01-02T24:00:00Z',
            '2030-01-02T03:04:05+0200',
            '2030-01-02T03:04:05+24:00',
            '0000-01-01T00:00:00Z',
            '0001-01-01T00:00:00+00:01',
            '9999-12-31T23:59:59-00:01',
            'tomorrow',
            '',
          ]) {
            const response = await transport.create(userId, { title: 'dated', due_date: due });
            expectError(response, transport.invalidStatus, 'validation_failed');
            expect(response.error?.details?.map((detail) => detail.path), due).to.deep.equal([transport.pointer('create', 'due_date')]);
          }
          expect(await rowCount(userId)).to.equal(0);
        });

        it('trims the title, and counts its length in code points after trimming', async () => {
          expect((await create(newUser(), { title: '  \t Feed the cats \n ' })).title).to.equal('Feed the cats');
          // 500 astral code points are 1000 UTF-16 units: still 500 characters.
          const cats = '🐈'.repeat(500);
          expect((await create(newUser(), { title: `  ${cats}  ` })).title).to.equal(cats);
          const userId = newUser();
          for (const title of ['', '   ', '\n\t', '🐈'.repeat(501), 'x'.repeat(501)]) {
            const response = await transport.create(userId, { title });
            expectError(response, transport.invalidStatus, 'validation_failed');
            expect(response.error?.details?.[0]?.path).to.equal(transport.pointer('create', 'title'));
          }
          expect(await rowCount(userId)).to.equal(0);
        });

        it('takes a description up to 10 000 code points, or null', async () => {
          expect((await create(newUser(), { title: 't', description: 'd'.repeat(10_000) })).description).to.have.length(10_000);
          expect((await create(newUser(), { title: 't', description: null })).description).to.equal(null);
          expect((await create(newUser(), { title: 't', description: '' })).description).to.equal('');
          const response = await transport.create(newUser(), { title: 't', description: 'd'.repeat(10_001) });
          expectError(response, transport.invalidStatus, 'validation_failed');
          expect(response.error?.details?.[0]?.path).to.equal(transport.pointer('create', 'description'));
        });

        it('refuses NUL characters and lone surrogates anywhere (422), never altering them', async () => {
          const userId = newUser();
          for (const payload of [
            { title: 'a\u0000b' },
            { title: 'a\uD800b' },
            { title: 'ok', description: 'x\uDC00' },
            { title: 'ok', description: '\u0000' },
          ]) {
            const response = await transport.create(userId, payload);
            expectError(response, transport.invalidStatus, 'validation_failed');
            expect(response.error?.details?.[0]?.message).to.match(/NUL|surrogate/);
          }
          // user_id is the body's own field on /execute, a path parameter on /v1: 422 on both.
          for (const badUser of ['u\u0000', 'u\uD83D']) {
            const response = await transport.create(badUser, { title: 'ok' });
            expectError(response, 422, 'validation_failed');
          }
          expect(await rowCount(userId)).to.equal(0);
          // A well-formed surrogate pair is one code point and fine.
          expect((await create(userId, { title: 'cat \uD83D\uDC08' })).title).to.equal('cat 🐈');
        });

        it('a task created completed is completed at its creation time', async () => {
          const task = await create(newUser(), { title: 'done already', status: 'completed' });
          expect(task.status).to.equal('completed');
          expect(task.completed_at).to.equal(task.created_at);
        });

        it('refuses wrong types and bad enums, naming each field (and on /v1 unknown fields)', async () => {
          const userId = newUser();
          const response = await transport.create(userId, { title: 7, status: 'done', priority: 'whenever', colour: 'red' });
          expectError(response, transport.invalidStatus, 'validation_failed');
          const paths = response.error?.details?.map((detail) => detail.path);
          for (const field of ['title', 'status', 'priority']) expect(paths).to.include(transport.pointer('create', field));
          // /execute ignores unknown fields, as the earlier service did.
          expect(paths?.includes(transport.pointer('create', 'colour'))).to.equal(transport.name === 'v1');
          expect(await rowCount(userId)).to.equal(0);
        });
      });

      describe('get', () => {
        it('returns the task as created', async () => {
          const userId = newUser();
          const task = await create(userId, { title: 'get me', priority: 'low' });
          const response = await transport.get(userId, task.id as string);
          expectOk(response);
          expect(response.data).to.deep.equal(task);
        });

        it("answers another user's task exactly like a missing one: 404", async () => {
          const owner = newUser();
          const task = await create(owner, { title: 'mine' });
          const stranger = await transport.get(newUser(), task.id as string);
          const missing = await transport.get(owner, randomUUID());
          expectError(stranger, 404, 'not_found');
          expectError(missing, 404, 'not_found');
          expect(stranger.error?.message).to.equal(missing.error?.message);
        });

        it('compares user_id exactly: no trimming, no case folding', async () => {
          const owner = `Cat-${randomUUID()}`;
          const task = await create(owner, { title: 'case matters' });
          for (const other of [owner.toLowerCase(), ` ${owner}`, `${owner} `]) {
            expectError(await transport.get(other, task.id as string), 404, 'not_found');
          }
          expectOk(await transport.get(owner, task.id as string));
        });

        it('refuses a task_id that is not a uuid (400 on /execute, 422 on /v1, never 500)', async () => {
          for (const id of ['42', 'not-a-uuid', 'urn:uuid:0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d', '0b7e8f5c3d6a4d1e9b8a2f4c6e8a0b1d', "'; drop table tasks; --"]) {
            const response = await transport.get(newUser(), id);
            expectError(response, transport.invalidStatus, 'validation_failed');
            expect(response.error?.details?.[0]?.path).to.equal(transport.pointer('get', 'task_id'));
          }
        });
      });

      describe('update', () => {
        it('changes the fields sent and updated_at, leaving the others', async () => {
          const userId = newUser();
          const task = await create(userId, { title: 'before', description: 'keep me', priority: 'low' });
          const response = await transport.update(userId, task.id as string, { title: '  after  ' });
          expectOk(response);
          expect(response.data).to.include({ title: 'after', description: 'keep me', priority: 'low', status: 'pending' });
          expect(response.data.created_at).to.equal(task.created_at);
          expect(Date.parse(response.data.updated_at as string)).to.be.at.least(Date.parse(task.updated_at as string));
        });

        it('null clears description, priority and due_date; title and status cannot be null', async () => {
          const userId = newUser();
          const task = await create(userId, { title: 't', description: 'd', priority: 'high', due_date: '2030-01-01T00:00:00Z' });
          const cleared = await transport.update(userId, task.id as string, { description: null, priority: null, due_date: null });
          expectOk(cleared);
          expect(cleared.data).to.include({ description: null, priority: null, due_date: null });
          // On /execute a null that cannot be a value counts as absent, leaving nothing to change.
          for (const changes of [{ title: null }, { status: null }]) {
            expectError(await transport.update(userId, task.id as string, changes), transport.invalidStatus, 'validation_failed');
          }
        });

        it('completed_at: set when the status becomes completed, kept if it already was, cleared otherwise, untouched without a status', async () => {
          const userId = newUser();
          const id = (await create(userId, { title: 'chores' })).id as string;
          const completed = await transport.update(userId, id, { status: 'completed' });
          expectOk(completed);
          expect(completed.data.completed_at).to.match(ISO_MS);
          expect(completed.data.completed_at).to.equal(completed.data.updated_at);

          const again = await transport.update(userId, id, { status: 'completed', title: 'chores!' });
          expect(again.data.completed_at).to.equal(completed.data.completed_at);

          const renamed = await transport.update(userId, id, { title: 'renamed' });
          expect(renamed.data.completed_at).to.equal(completed.data.completed_at);

          const reopened = await transport.update(userId, id, { status: 'in_progress' });
          expect(reopened.data).to.include({ status: 'in_progress', completed_at: null });

          const pending = await transport.update(userId, id, { priority: 'high' });
          expect(pending.data.completed_at).to.equal(null);
        });

        it('needs at least one field it knows (an unknown one is refused on /v1, ignored on /execute)', async () => {
          const userId = newUser();
          const id = (await create(userId, { title: 't' })).id as string;
          const empty = await transport.update(userId, id, {});
          expectError(empty, transport.invalidStatus, 'validation_failed');
          expect(empty.error?.message).to.match(/at least one of/);
          const unknown = await transport.update(userId, id, { colour: 'red' });
          expectError(unknown, transport.invalidStatus, 'validation_failed');
          if (transport.name === 'v1') {
            expect(unknown.error?.details?.map((detail) => detail.path)).to.include(transport.pointer('update', 'colour'));
          } else {
            expect(unknown.error?.message).to.match(/at least one of/);
          }
        });

        it("leaves another user's task unchanged and answers 404", async () => {
          const owner = newUser();
          const task = await create(owner, { title: 'mine' });
          expectError(await transport.update(newUser(), task.id as string, { title: 'stolen', status: 'completed' }), 404, 'not_found');
          const [row] = await db.sql`select title, status, completed_at from tasks where id = ${task.id as string}`;
          expect(row).to.deep.equal({ title: 'mine', status: 'pending', completed_at: null });
        });
      });

      describe('delete', () => {
        it('deletes: { success, deleted_id }, then 404', async () => {
          const userId = newUser();
          const id = (await create(userId, { title: 'bye' })).id as string;
          const response = await transport.remove(userId, id);
          expectOk(response);
          expect(response.data).to.deep.equal({ success: true, deleted_id: id });
          expect(await rowCount(userId)).to.equal(0);
          expectError(await transport.remove(userId, id), 404, 'not_found');
        });

        it('answers the id as stored, whatever case the request wrote it in', async () => {
          const userId = newUser();
          const id = (await create(userId, { title: 'shouting' })).id as string;
          const response = await transport.remove(userId, id.toUpperCase());
          expectOk(response);
          expect(response.data).to.deep.equal({ success: true, deleted_id: id });
        });

        it("leaves another user's task in place and answers 404", async () => {
          const owner = newUser();
          const id = (await create(owner, { title: 'mine' })).id as string;
          expectError(await transport.remove(newUser(), id), 404, 'not_found');
          expect(await rowCount(owner)).to.equal(1);
        });
      });

      describe('stats', () => {
        it('counts by status, rounds the completion rate to 2 decimals, counts overdue open tasks', async () => {
          const userId = newUser();
          const past = '2020-01-01T00:00:00Z';
          const future = '2999-01-01T00:00:00Z';
          await create(userId, { title: 'a', due_date: past });
          await create(userId, { title: 'b', status: 'in_progress', due_date: past });
          await create(userId, { title: 'c', status: 'completed', due_date: past });
          await create(userId, { title: 'd', due_date: future });
          await create(userId, { title: 'e' });
          await create(userId, { title: 'f', status: 'completed' });
          // Another user's tasks never count.
          await create(newUser(), { title: 'x', status: 'completed' });
          const response = await transport.stats(userId);
          expectOk(response);
          expect(response.data).to.deep.equal({
            total_tasks: 6,
            pending_tasks: 3,
            in_progress_tasks: 1,
            completed_tasks: 2,
            completion_rate: 33.33,
            overdue_tasks: 2,
          });
        });

        it('is all zeros, as numbers, for a user without tasks', async () => {
          const response = await transport.stats(newUser());
          expectOk(response);
          expect(response.data).to.deep.equal({
            total_tasks: 0,
            pending_tasks: 0,
            in_progress_tasks: 0,
            completed_tasks: 0,
            completion_rate: 0,
            overdue_tasks: 0,
          });
        });

        it('rounds half up: 2 of 3 is 66.67, 1 of 8 is 12.5, 1 of 32 is 3.13', async () => {
          for (const [completed, total, rate] of [
            [2, 3, 66.67],
            [1, 8, 12.5],
            [1, 32, 3.13],
          ] as const) {
            const userId = newUser();
            await db.sql`
              insert into tasks (user_id, title, status, completed_at)
              select ${userId}, 't' || n, case when n <= ${completed} then 'completed' else 'pending' end,
                     case when n <= ${completed} then now() end
              from generate_series(1, ${total}) as n`;
            expect((await transport.stats(userId)).data.completion_rate).to.equal(rate);
          }
        });
      });
    });
  }

  it('both transports answer with the same data for the same task', async () => {
    const execute = executeTransport(client);
    const v1 = v1Transport(client);
    const userId = `shared ${randomUUID()} / ü`;
    const created = await execute.create(userId, { title: 'shared', priority: 'medium' });
    const id = created.data.id as string;
    expect((await v1.get(userId, id)).data).to.deep.equal(created.data);
    expect((await execute.get(userId, id)).data).to.deep.equal(created.data);
    const viaV1 = await v1.create(userId, { title: 'other way' });
    expect(viaV1.headers.location).to.equal(`/v1/users/${encodeURIComponent(userId)}/tasks/${viaV1.data.id as string}`);
    expect((await client.get(viaV1.headers.location as string)).data).to.deep.equal(viaV1.data);
    expect((await execute.get(userId, viaV1.data.id as string)).data).to.deep.equal(viaV1.data);
    expect((await v1.stats(userId)).data).to.deep.equal((await execute.stats(userId)).data);
  });

  it('/execute: payload may be omitted for list-tasks and get-stats; the others then miss their fields (400)', async () => {
    const userId = newUser();
    expectOk(await client.execute('list-tasks', userId));
    expectOk(await client.execute('get-stats', userId));
    for (const [action, field] of [
      ['create-task', 'title'],
      ['get-task', 'task_id'],
      ['update-task', 'task_id'],
      ['delete-task', 'task_id'],
    ] as const) {
      const response = await client.execute(action, userId);
      expectError(response, 400, 'validation_failed');
      expect(response.error?.details?.map((detail) => detail.path)).to.include(`/payload/${field}`);
    }
  });

  it('PATCH /v1: a task_id in the body is an unknown field (422)', async () => {
    const userId = newUser();
    const id = (await executeTransport(client).create(userId, { title: 't' })).data.id as string;
    const response = await client.patch(`/v1/users/${userId}/tasks/${id}`, { task_id: id, title: 'x' });
    expectError(response, 422, 'validation_failed');
    expect(response.error?.details?.[0]?.path).to.equal('/task_id');
  });
});
