/**
 * A task is answered as the JSON text PostgreSQL writes (`tasks/sql.ts`), never parsed and
 * serialised again. That text must be byte for byte what `JSON.stringify` writes for the same
 * task (the contract's field order, the same escapes), or clients that compare or sign bodies
 * would see a change. Checked on the statements the API runs, against generated text of every
 * kind the API stores (control characters, quotes, backslashes, non-BMP characters, U+2028).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { SAFE_TEXT_PATTERN } from '../src/schemas/common.js';
import { TASK_FIELDS, type Task } from '../src/schemas/tasks.js';
import { insertTaskStatement, selectTaskStatement, taskBatchStatement, updateTaskStatement } from '../src/tasks/sql.js';
import { useTestDatabase } from './helpers/databases.js';

/** The columns of a task, read as plain values, formatted as the API's JSON has them. */
async function taskAsObject(db: ReturnType<typeof useTestDatabase>, id: string): Promise<Task> {
  const [row] = await db.sql<Record<string, unknown>[]>`
    select id, user_id, title, description, status, priority,
           to_char(due_date at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as due_date,
           to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
           to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as updated_at,
           to_char(completed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as completed_at
    from tasks where id = ${id}`;
  if (row === undefined) throw new Error(`no task ${id}`);
  // The contract's order, from the schema (the object above has the same keys).
  return Object.fromEntries(TASK_FIELDS.map((field) => [field, row[field]])) as Task;
}

const SAFE_TEXT = new RegExp(SAFE_TEXT_PATTERN, 'u');
/** Text the API would store: any code points its schema lets through. */
const storable = (min: number, max: number) =>
  fc.string({ unit: 'binary', minLength: min, maxLength: max }).filter((text) => SAFE_TEXT.test(text));
/** Text heavy in what JSON escapes or could escape differently. */
const tricky = fc
  .array(fc.constantFrom('"', '\\', '/', '\n', '\r', '\t', '\b', '\f', '\u0001', '\u001f', '\u007f', '\u2028', '\u2029', 'é', '😀', 'a', ' '), {
    minLength: 1,
    maxLength: 40,
  })
  .map((parts) => parts.join(''))
  .filter((text) => SAFE_TEXT.test(text));

describe('tasks as JSON text written by PostgreSQL', () => {
  const db = useTestDatabase();

  it('insert, select, update and a page write exactly what JSON.stringify writes for the task', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(storable(1, 60), tricky),
        fc.option(fc.oneof(storable(0, 200), tricky), { nil: null }),
        storable(1, 40),
        fc.constantFrom('pending', 'in_progress', 'completed'),
        fc.option(fc.constantFrom('low', 'medium', 'high'), { nil: null }),
        fc.option(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true }), { nil: null }),
        async (title, description, userId, status, priority, dueDate) => {
          const [created] = await insertTaskStatement(db.sql, { user_id: userId, title, description, status, priority, due_date: dueDate });
          if (created === undefined) throw new Error('no row inserted');
          expect(created.json).to.equal(JSON.stringify(await taskAsObject(db, created.id)));

          const [selected] = await selectTaskStatement(db.sql, userId, created.id);
          expect(selected?.json).to.equal(created.json);

          const [updated] = await updateTaskStatement(db.sql, userId, created.id, { title: `${title}!`, status: 'completed' });
          expect(updated?.json).to.equal(JSON.stringify(await taskAsObject(db, created.id)));

          // A listing batch joins the same texts as JSON.stringify joins an array's items.
          const [batch] = await taskBatchStatement(db.sql, userId, {}, undefined, 5, 1_000_000);
          const listed = `[${batch?.tasks ?? ''}]`;
          expect(listed).to.equal(JSON.stringify(JSON.parse(listed)));
          expect(listed).to.include(updated?.json);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("the fields come in the contract's order, and an update answers the task as stored", async () => {
    const [created] = await insertTaskStatement(db.sql, { user_id: 'u-json', title: 'Feed the cats', description: null, status: 'pending', priority: 'high', due_date: null });
    if (created === undefined) throw new Error('no row inserted');
    const [again] = await updateTaskStatement(db.sql, 'u-json', created.id, { priority: 'high' });
    if (again === undefined) throw new Error('no row updated');
    const before = JSON.parse(created.json) as Task;
    const after = JSON.parse(again.json) as Task;
    expect(Object.keys(after)).to.deep.equal(TASK_FIELDS);
    expect({ ...after, updated_at: before.updated_at }).to.deep.equal(before);
  });
});
