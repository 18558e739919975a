/**
 * `list-tasks` keyset pagination (docs/api.md): newest first, ties by id; the cursor
 * carries created_at at full stored precision; stable while rows are inserted between pages;
 * no next_cursor after the last page, also when it is exactly full; a cursor only continues
 * the listing (filters) it came from.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { RunningServer } from '../src/server.js';
import { apiClient, type ApiClient, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { bothTransports, executeTransport, v1Transport, type TransportClient } from './helpers/transports.js';

interface PageData {
  tasks: { id: string; created_at: string; status: string; priority: string | null }[];
  count: number;
  next_cursor: string | null;
}

function page(response: ApiResponse): PageData {
  expect(response.status, response.text).to.equal(200);
  return response.data as unknown as PageData;
}

describe('list-tasks pagination', () => {
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

  /** Inserts tasks with explicit created_at values (µs precision); returns their ids in insert order. */
  async function insertAt(userId: string, createdAt: string[], fields: { status?: string; priority?: string | null } = {}): Promise<string[]> {
    const ids: string[] = [];
    for (const at of createdAt) {
      const status = fields.status ?? 'pending';
      const [row] = await db.sql<{ id: string }[]>`
        insert into tasks (user_id, title, status, priority, created_at, updated_at, completed_at)
        values (${userId}, ${`task at ${at}`}, ${status}, ${fields.priority ?? null}, ${at}::timestamptz, ${at}::timestamptz,
                case when ${status}::text = 'completed' then ${at}::timestamptz end)
        returning id`;
      ids.push((row as { id: string }).id);
    }
    return ids;
  }

  /** The ids the database orders newest first, ties by id descending: what pages must follow. */
  async function expectedOrder(userId: string, where: { status?: string; priority?: string } = {}): Promise<string[]> {
    const rows = await db.sql<{ id: string }[]>`
      select id from tasks where user_id = ${userId}
        ${where.status === undefined ? db.sql`` : db.sql`and status = ${where.status}`}
        ${where.priority === undefined ? db.sql`` : db.sql`and priority = ${where.priority}`}
      order by created_at desc, id desc`;
    return rows.map((row) => row.id);
  }

  /** Follows next_cursor to the end; returns every page. */
  async function walk(transport: TransportClient, userId: string, payload: Record<string, unknown>): Promise<PageData[]> {
    const pages: PageData[] = [];
    let cursor: string | null | undefined;
    do {
      const current = page(await transport.list(userId, cursor === undefined || cursor === null ? payload : { ...payload, cursor }));
      expect(current.count).to.equal(current.tasks.length);
      pages.push(current);
      cursor = current.next_cursor;
      expect(pages.length, 'pagination must end').to.be.below(100);
    } while (cursor !== null);
    return pages;
  }

  for (const transport of bothTransports(() => client)) {
    describe(`over ${transport.name}`, () => {
      it('walks every task exactly once, newest first, and the last page has no cursor', async () => {
        const userId = `pager-${randomUUID()}`;
        await insertAt(userId, Array.from({ length: 10 }, (_, index) => `2026-01-01T10:00:${String(index).padStart(2, '0')}.000001Z`));
        const pages = await walk(transport, userId, { limit: 3 });
        expect(pages.map((current) => current.count)).to.deep.equal([3, 3, 3, 1]);
        expect(pages.flatMap((current) => current.tasks.map((task) => task.id))).to.deep.equal(await expectedOrder(userId));
      });

      it('an exactly full last page has next_cursor null', async () => {
        const userId = `full-${randomUUID()}`;
        await insertAt(userId, Array.from({ length: 6 }, (_, index) => `2026-02-01T00:00:0${index}Z`));
        const pages = await walk(transport, userId, { limit: 3 });
        expect(pages.map((current) => current.count)).to.deep.equal([3, 3]);
        expect(pages[1]?.next_cursor).to.equal(null);
        const single = page(await transport.list(userId, { limit: 6 }));
        expect(single).to.include({ count: 6, next_cursor: null });
      });

      it('keeps full precision: tasks a microsecond apart, or created at the same instant, are neither skipped nor repeated', async () => {
        const userId = `micro-${randomUUID()}`;
        const instants = [
          '2026-03-01T12:00:00.123456Z',
          '2026-03-01T12:00:00.123457Z',
          '2026-03-01T12:00:00.123999Z',
          '2026-03-01T12:00:00.123000Z',
          '2026-03-01T12:00:00.123456Z',
          '2026-03-01T12:00:00.123456Z',
          '2026-03-01T12:00:00.124000Z',
        ];
        await insertAt(userId, instants);
        const pages = await walk(transport, userId, { limit: 1 });
        expect(pages.flatMap((current) => current.tasks.map((task) => task.id))).to.deep.equal(await expectedOrder(userId));
        // Shown with milliseconds only: six of the seven print the same created_at.
        expect(new Set(pages.map((current) => current.tasks[0]?.created_at))).to.deep.equal(
          new Set(['2026-03-01T12:00:00.124Z', '2026-03-01T12:00:00.123Z']),
        );
      });

      it('stays stable while tasks are inserted between pages', async () => {
        const userId = `busy-${randomUUID()}`;
        for (let index = 0; index < 8; index += 1) expect((await transport.create(userId, { title: `old ${index}` })).status).to.equal(transport.createdStatus);
        const original = await expectedOrder(userId);
        const seen: string[] = [];
        let cursor: string | null = null;
        let round = 0;
        do {
          const current = page(await transport.list(userId, cursor === null ? { limit: 3 } : { limit: 3, cursor }));
          seen.push(...current.tasks.map((task) => task.id));
          cursor = current.next_cursor;
          // Newer tasks arrive while the client pages: they sort before the cursor.
          await Promise.all([transport.create(userId, { title: `new ${round}a` }), transport.create(userId, { title: `new ${round}b` })]);
          round += 1;
        } while (cursor !== null);
        expect(seen).to.deep.equal(original);
      });

      it('filters by status and priority, and a cursor continues only the same filters', async () => {
        const userId = `filter-${randomUUID()}`;
        await insertAt(userId, ['2026-04-01T00:00:01Z', '2026-04-01T00:00:02Z', '2026-04-01T00:00:03Z'], { status: 'completed', priority: 'high' });
        await insertAt(userId, ['2026-04-01T00:00:04Z', '2026-04-01T00:00:05Z'], { status: 'completed', priority: 'low' });
        await insertAt(userId, ['2026-04-01T00:00:06Z', '2026-04-01T00:00:07Z'], { status: 'pending', priority: 'high' });

        const completed = await walk(transport, userId, { status: 'completed', limit: 2 });
        expect(completed.flatMap((current) => current.tasks.map((task) => task.id))).to.deep.equal(await expectedOrder(userId, { status: 'completed' }));
        const high = await walk(transport, userId, { priority: 'high', limit: 2 });
        expect(high.flatMap((current) => current.tasks.map((task) => task.id))).to.deep.equal(await expectedOrder(userId, { priority: 'high' }));
        const both = await walk(transport, userId, { status: 'completed', priority: 'high', limit: 2 });
        expect(both.flatMap((current) => current.tasks.map((task) => task.id))).to.deep.equal(
          await expectedOrder(userId, { status: 'completed', priority: 'high' }),
        );

        const cursor = completed[0]?.next_cursor as string;
        for (const other of [{}, { status: 'pending' }, { status: 'completed', priority: 'high' }]) {
          const response = await transport.list(userId, { ...other, cursor });
          expect(response.status).to.equal(transport.invalidStatus);
          expect(response.error?.details?.[0]?.path).to.equal(transport.pointer('list', 'cursor'));
          expect(response.error?.details?.[0]?.message).to.match(/other filters/);
        }
      });

      it('refuses a malformed or forged cursor (400 on /execute, 422 on /v1)', async () => {
        const forge = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
        for (const cursor of [
          'not a cursor!',
          'abc',
          forge({ created: 1 }),
          forge([2, '1', randomUUID(), null, null]),
          forge([1, '99999999999999999999', randomUUID(), null, null]),
          forge([1, '1', 'not-a-uuid', null, null]),
          forge([1, '1', randomUUID(), 'done', null]),
          'x'.repeat(513),
        ]) {
          const response = await transport.list('u', { cursor });
          expect(response.status, cursor).to.equal(transport.invalidStatus);
          expect(response.error?.details?.[0]?.path).to.equal(transport.pointer('list', 'cursor'));
        }
      });

      it('large tasks: batches cut by their bytes still give every task once, whole and in order', async () => {
        // Each task's JSON is ~63 KB (chr(1) is written as the six-byte \u0001), so a batch
        // holds only a few of them (LIST_BATCH_BYTES): a page is read and written in several.
        const userId = `large-${randomUUID()}`;
        await db.sql`
          insert into tasks (user_id, title, description, created_at)
          select ${userId}, 'large ' || n || repeat(chr(1), 400), repeat(chr(1), 9990) || n,
                 timestamptz '2026-07-01T00:00:00Z' + n * interval '1 second'
          from generate_series(1, 13) as n`;
        const expected = await expectedOrder(userId);
        const described = (tasks: PageData['tasks']) =>
          tasks.map((task) => (task as unknown as { description: string }).description.slice(9_990));
        const whole = page(await transport.list(userId, { limit: 13 }));
        expect(whole).to.include({ count: 13, next_cursor: null });
        expect(whole.tasks.map((task) => task.id)).to.deep.equal(expected);
        expect(described(whole.tasks)).to.deep.equal(Array.from({ length: 13 }, (_, index) => String(13 - index)));
        const pages = await walk(transport, userId, { limit: 6 });
        expect(pages.map((current) => current.count)).to.deep.equal([6, 6, 1]);
        expect(pages.flatMap((current) => current.tasks.map((task) => task.id))).to.deep.equal(expected);
      });

      it('pages by 100 by default on /v1 (all of them on /execute), up to 1000', async () => {
        const userId = `many-${randomUUID()}`;
        await db.sql`
          insert into tasks (user_id, title, created_at)
          select ${userId}, 't' || n, timestamptz '2026-05-01T00:00:00Z' + n * interval '1 second'
          from generate_series(1, 101) as n`;
        const first = page(await transport.list(userId));
        if (transport.name === 'v1') {
          expect(first.count).to.equal(100);
          expect(first.next_cursor).to.be.a('string');
        } else {
          expect(first).to.include({ count: 101, next_cursor: null });
        }
        const all = page(await transport.list(userId, { limit: 1000 }));
        expect(all).to.include({ count: 101, next_cursor: null });
      });
    });
  }

  it('a cursor from /execute continues on /v1 and back: it is the same listing', async () => {
    const userId = `mixed-${randomUUID()}`;
    await insertAt(userId, ['2026-06-01T00:00:01Z', '2026-06-01T00:00:02Z', '2026-06-01T00:00:03Z']);
    const execute = executeTransport(client);
    const v1 = v1Transport(client);
    const first = page(await execute.list(userId, { limit: 1 }));
    const second = page(await v1.list(userId, { limit: 1, cursor: first.next_cursor as string }));
    const third = page(await execute.list(userId, { limit: 1, cursor: second.next_cursor as string }));
    expect([first, second, third].map((current) => current.tasks[0]?.id)).to.deep.equal(await expectedOrder(userId));
    expect(third.next_cursor).to.equal(null);
  });
});
