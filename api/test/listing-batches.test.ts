/**
 * A listing is read in batches, each one row that PostgreSQL aggregates (`taskBatchStatement`
 * in api/src/tasks/sql.ts): up to `wanted` tasks, each taken only while the batch's JSON text
 * before it is under `bytes`. Checked against generated listings (tasks of random sizes, some at the same
 * instant) on a real PostgreSQL: a batch is exactly the longest prefix of the listing within
 * both bounds, it says whether more follows, and where it ended.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { selectTaskStatement, taskBatchStatement } from '../src/tasks/sql.js';
import { useTestDatabase } from './helpers/databases.js';

interface Listed {
  id: string;
  micros: string;
  json: string;
}

describe('listing batches (one aggregated row per batch)', () => {
  const db = useTestDatabase();

  /** The user's tasks in listing order (newest first, ties by id), each with its JSON text. */
  async function listing(userId: string): Promise<Listed[]> {
    const rows = await db.sql<{ id: string; micros: string }[]>`
      select id, (extract(epoch from created_at) * 1000000)::int8::text as micros
      from tasks where user_id = ${userId} order by created_at desc, id desc`;
    return Promise.all(
      rows.map(async (row) => {
        const [task] = await selectTaskStatement(db.sql, userId, row.id);
        return { ...row, json: (task as { json: string }).json };
      }),
    );
  }

  /** The longest prefix within `wanted` tasks where each task starts before `bytes` of text. */
  function expectedBatch(tasks: Listed[], wanted: number, bytes: number): Listed[] {
    const taken: Listed[] = [];
    let before = 0;
    for (const task of tasks) {
      if (taken.length === wanted || before >= bytes) break;
      taken.push(task);
      before += Buffer.byteLength(task.json, 'utf8');
    }
    return taken;
  }

  let user = 0;

  it('takes the longest prefix within the count and the bytes, and says whether more follows and where it ended', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Description lengths (null: none); a few instants, so ties are broken by id.
        fc.array(fc.record({ description: fc.option(fc.nat(3000), { nil: null }), second: fc.nat(3) }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 14 }),
        fc.integer({ min: 1, max: 12_000 }),
        fc.nat(12),
        async (specs, wanted, bytes, skip) => {
          user += 1;
          const userId = `batches-${user}`;
          for (const spec of specs) {
            await db.sql`
              insert into tasks (user_id, title, description, created_at)
              values (${userId}, 'task', ${spec.description === null ? null : 'é'.repeat(spec.description)},
                      timestamptz '2026-01-01T00:00:00Z' + ${spec.second} * interval '1 second')`;
          }
          const all = await listing(userId);
          // From the start, or after a task in the middle (the keyset cursor's position).
          const from = skip < all.length ? all[skip] : undefined;
          const rest = from === undefined ? all : all.slice(skip + 1);
          const after = from === undefined ? undefined : { createdMicros: from.micros, id: from.id };

          const [batch] = await taskBatchStatement(db.sql, userId, {}, after, wanted, bytes);
          if (batch === undefined) throw new Error('the batch statement returned no row');
          const taken = expectedBatch(rest, wanted, bytes);
          expect(batch.count).to.equal(taken.length);
          expect(batch.tasks).to.equal(taken.length === 0 ? null : taken.map((task) => task.json).join(','));
          expect(batch.more).to.equal(rest.length > taken.length);
          const last = taken.at(-1);
          expect({ micros: batch.last_micros, id: batch.last_id }).to.deep.equal({ micros: last?.micros ?? null, id: last?.id ?? null });
        },
      ),
      { numRuns: 60 },
    );
  });
});
