/**
 * Bringing the earlier Python service's data over to chapi (`npm run import`): its tasks (same
 * ids, times as stored) and its active keys (stored here only as their SHA-256), read from its
 * database as its README lays it out (`service_api_keys` with plain-text keys, `tasks`).
 *
 * Idempotent and resumable: a task or key already here is skipped (by id, by hash), so a run
 * that stopped halfway is simply run again. A row chapi cannot hold as it stands is refused
 * and reported (its id, or its key's name, and why), never altered: a description over
 * 10 000 characters is not truncated, a completed task without `completed_at` is not given a
 * made-up time. Keys are never printed or logged: a refused key is named by its `key_name`.
 */
import type postgres from 'postgres';
import { importedDisplayPrefix, isLookupableKey, hashServiceKey, prefixEnvironment, type KeyEnvironment } from '../keys/format.js';
import { KEY_NAME_PATTERN } from '../keys/service.js';
import { DESCRIPTION_MAX, TASK_PRIORITIES, TASK_STATUSES, TITLE_MAX } from '../schemas/tasks.js';

/** A row the import did not bring over, and why. */
export interface Refusal {
  /** `task <id>` or `key "<key_name>"` (never the key itself). */
  what: string;
  why: string;
}

/** What one run did. */
export interface ImportReport {
  keys: { read: number; imported: number; alreadyHere: number; refused: Refusal[] };
  tasks: { read: number; imported: number; alreadyHere: number; refused: Refusal[] };
  /** Per user: tasks on the earlier service and here; only the users whose counts differ. */
  countsDiffer: { userId: string; earlier: number; chapi: number }[];
  usersCompared: number;
}

/** How a run is set up. */
export interface ImportOptions {
  /** The environment of keys without an `sk_<env>_` prefix; such keys are refused without it. */
  environment?: KeyEnvironment | undefined;
  /** Tasks read and written per statement. */
  batchSize: number;
  /** Called after each key and each batch of tasks (the CLI restarts its deadline). */
  onProgress?: () => void;
}

/** A key row of the earlier service. */
interface EarlierKey {
  id: string;
  key_name: string;
  api_key: string;
  created_at: Date;
  expires_at: Date | null;
}

/**
 * A task row of the earlier service, its times as text at full precision (microseconds): a
 * JavaScript Date would keep milliseconds only, and the times must come over as stored.
 */
export interface EarlierTask {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  status: string;
  priority: string | null;
  created_at: string;
  completed_at: string | null;
  due_date: string | null;
}

/** A time column as UTC ISO 8601 text with microseconds. */
function fullPrecision(sql: postgres.Sql, column: string) {
  return sql.unsafe(`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ${column}`);
}

/** Code points, as the contract counts lengths. */
function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Why chapi cannot hold this task as it stands; undefined when it can. */
export function taskRefusal(task: EarlierTask): string | undefined {
  const userLength = codePoints(task.user_id);
  if (userLength < 1 || userLength > 255) return `user_id is ${userLength} characters (1..255)`;
  const titleLength = codePoints(task.title);
  if (titleLength < 1 || titleLength > TITLE_MAX) return `title is ${titleLength} characters (1..${TITLE_MAX})`;
  if (task.description !== null && codePoints(task.description) > DESCRIPTION_MAX) {
    return `description is ${codePoints(task.description)} characters (chapi holds at most ${DESCRIPTION_MAX}; shorten it there, then run again)`;
  }
  if (!(TASK_STATUSES as readonly string[]).includes(task.status)) return `status "${task.status}" is not one of ${TASK_STATUSES.join(', ')}`;
  if (task.priority !== null && !(TASK_PRIORITIES as readonly string[]).includes(task.priority)) {
    return `priority "${task.priority}" is not one of ${TASK_PRIORITIES.join(', ')}`;
  }
  if ((task.status === 'completed') !== (task.completed_at !== null)) {
    return task.status === 'completed'
      ? 'completed without completed_at (chapi will not invent when: set it there, then run again)'
      : `${task.status} with a completed_at (clear it there, or complete the task, then run again)`;
  }
  return undefined;
}

/** Brings the active keys over; returns what happened to each. */
async function importKeys(from: postgres.Sql, to: postgres.Sql, options: ImportOptions): Promise<ImportReport['keys']> {
  // Active and not expired: an inactive row must never become a usable key.
  const rows = await from<EarlierKey[]>`
    select id, key_name, api_key, created_at, expires_at from service_api_keys
    where active and (expires_at is null or expires_at > now())
    order by key_name, id`;
  const report: ImportReport['keys'] = { read: rows.length, imported: 0, alreadyHere: 0, refused: [] };
  for (const row of rows) {
    options.onProgress?.();
    const what = `key "${row.key_name}"`;
    if (!KEY_NAME_PATTERN.test(row.key_name)) {
      report.refused.push({ what, why: 'its name is not 1..100 characters of a-z, 0-9 and - (rename it there, then run again)' });
      continue;
    }
    if (!isLookupableKey(row.api_key)) {
      report.refused.push({ what, why: 'the key is not printable ASCII of 16..256 characters, which chapi cannot look up' });
      continue;
    }
    const environment = prefixEnvironment(row.api_key) ?? options.environment;
    if (environment === undefined) {
      report.refused.push({ what, why: 'the key has no sk_<env>_ prefix: give its environment with --environment' });
      continue;
    }
    try {
      const inserted = await to`
        insert into service_api_keys (key_name, environment, key_hash, display_prefix, origin, created_at, expires_at)
        values (${row.key_name}, ${environment}, ${hashServiceKey(row.api_key)}, ${importedDisplayPrefix(row.api_key)},
                'imported', ${row.created_at}, ${row.expires_at})
        on conflict (key_hash) do nothing
        returning id`;
      if (inserted.length === 1) report.imported += 1;
      else report.alreadyHere += 1;
    } catch (error) {
      // Another current key of the same name exists here (one per name).
      if ((error as { code?: unknown }).code !== '23505') throw error;
      report.refused.push({ what, why: 'chapi already has another active key of this name (revoke one of them first)' });
    }
  }
  return report;
}

/** Brings the tasks over in keyset batches (by id), skipping those already here. */
async function importTasks(from: postgres.Sql, to: postgres.Sql, options: ImportOptions): Promise<ImportReport['tasks']> {
  const report: ImportReport['tasks'] = { read: 0, imported: 0, alreadyHere: 0, refused: [] };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await from<EarlierTask[]>`
      select id, user_id, title, description, status, priority,
             ${fullPrecision(from, 'created_at')}, ${fullPrecision(from, 'completed_at')}, ${fullPrecision(from, 'due_date')}
      from tasks where id > ${after}::uuid order by id limit ${options.batchSize}`;
    options.onProgress?.();
    const last = rows.at(-1);
    if (last === undefined) return report;
    after = last.id;
    report.read += rows.length;
    const accepted: EarlierTask[] = [];
    for (const row of rows) {
      const why = taskRefusal(row);
      if (why === undefined) accepted.push(row);
      else report.refused.push({ what: `task ${row.id}`, why });
    }
    if (accepted.length === 0) continue;
    // The batch travels as one JSON document, its types declared here, so the times keep their
    // microseconds. It had no updated_at: the last thing known to have happened to the task.
    const inserted = await to`
      insert into tasks (id, user_id, title, description, status, priority, due_date, created_at, updated_at, completed_at)
      select id, user_id, title, description, status, priority, due_date, created_at,
             greatest(created_at, completed_at), completed_at
      from jsonb_to_recordset(${to.json(accepted as unknown as postgres.JSONValue)})
        as task(id uuid, user_id text, title text, description text, status text, priority text,
                due_date timestamptz, created_at timestamptz, completed_at timestamptz)
      on conflict (id) do nothing
      returning id`;
    report.imported += inserted.length;
    report.alreadyHere += accepted.length - inserted.length;
  }
}

/** Tasks per user on both sides, for the users of the earlier service; the differences. */
async function compareCounts(from: postgres.Sql, to: postgres.Sql): Promise<Pick<ImportReport, 'countsDiffer' | 'usersCompared'>> {
  const earlier = await from<{ user_id: string; n: number }[]>`select user_id, count(*)::int as n from tasks group by user_id`;
  const users = earlier.map((row) => row.user_id);
  // As JSON: the pool runs without the array types postgres.js would need (db.ts, fetch_types).
  const here = await to<{ user_id: string; n: number }[]>`
    select user_id, count(*)::int as n from tasks
    where user_id in (select jsonb_array_elements_text(${to.json(users)}))
    group by user_id`;
  const hereByUser = new Map(here.map((row) => [row.user_id, row.n]));
  const countsDiffer = earlier
    .map((row) => ({ userId: row.user_id, earlier: row.n, chapi: hereByUser.get(row.user_id) ?? 0 }))
    .filter((row) => row.earlier !== row.chapi);
  return { countsDiffer, usersCompared: earlier.length };
}

/** One run: keys, then tasks, then the per-user counts compared on both sides. */
export async function importEarlierService(from: postgres.Sql, to: postgres.Sql, options: ImportOptions): Promise<ImportReport> {
  const keys = await importKeys(from, to, options);
  const tasks = await importTasks(from, to, options);
  return { keys, tasks, ...(await compareCounts(from, to)) };
}
