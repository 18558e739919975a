/**
 * The memory scenarios of `npm run bench` (issue 13, "Memory: bounded by design"): the API's
 * peak RSS while it answers
 * - 20 concurrent `limit=1000` pages of largest-possible tasks (every title 500 and every
 *   description 10 000 code points, each written as a six-byte JSON escape: ~60 MB a page), and
 * - one `/execute` `list-tasks` without `limit` for a user with 100 000 tasks (every task).
 * The target: under 256 MB for both. The clients read each answer to its end, chunk by chunk,
 * keeping nothing, so what is measured is the API, not the client.
 */
import type postgres from 'postgres';
import { sampleRss } from './proc.js';

/** The user whose tasks are as large as the contract allows. */
export const LARGEST_USER = 'bench-largest';
/** The user with (by default) 100 000 tasks. */
export const MANY_USER = 'bench-many';
/** The contract's largest page. */
export const LARGEST_PAGE = 1000;

/** What the memory scenarios found. */
export interface MemoryReport {
  /** `clients` concurrent pages of `LARGEST_PAGE` largest-possible tasks. */
  largestPages: { clients: number; rounds: number; bytesPerPage: number; peakRssMb: number; failures: number };
  /** One unlimited `list-tasks` of `MANY_USER`. */
  everyTask: { tasks: number; count: number; bytes: number; seconds: number; peakRssMb: number };
}

/**
 * Seeds both users straight in SQL (as fast as the database can write; the API is not what
 * is measured while seeding). A control character is stored as one byte and written out as a
 * six-byte `\u0001` escape: the largest JSON a valid task can produce.
 */
export async function seedMemoryScenarios(sql: postgres.Sql, manyTasks: number): Promise<void> {
  await sql`
    insert into tasks (user_id, title, description, status, priority, due_date, created_at, updated_at)
    select ${LARGEST_USER}, repeat(chr(1), 500), repeat(chr(1), 10000), 'pending', 'urgent',
           now() + n * interval '1 hour', now() - n * interval '1 second', now() - n * interval '1 second'
    from generate_series(1, ${LARGEST_PAGE + 1}) as n`;
  await sql`
    insert into tasks (user_id, title, description, status, priority, created_at, updated_at)
    select ${MANY_USER}, 'Task ' || n || ': feed the cats', 'Seeded task number ' || n || ', with a description of moderate length.',
           (array['pending', 'in_progress'])[1 + n % 2], (array['low', 'medium', 'high', 'urgent'])[1 + n % 4],
           now() - n * interval '1 second', now() - n * interval '1 second'
    from generate_series(1, ${manyTasks}) as n`;
}

/** Sends one `/execute` request and reads its answer to the end, keeping only its length and tail. */
async function readThrough(apiUrl: string, apiKey: string, body: unknown): Promise<{ status: number; bytes: number; tail: string }> {
  const response = await fetch(`${apiUrl}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify(body),
  });
  let bytes = 0;
  let tail = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body ?? []) {
    bytes += chunk.byteLength;
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-200);
  }
  return { status: response.status, bytes, tail };
}

/** The `count` in the tail of a listing's answer. */
function countIn(tail: string): number {
  const match = /"count":(\d+)/.exec(tail);
  return match === null ? -1 : Number(match[1]);
}

/** Runs both scenarios against the API process `pid`. */
export async function measureMemory(
  apiUrl: string,
  apiKey: string,
  pid: number,
  options: { clients: number; rounds: number; manyTasks: number },
): Promise<MemoryReport> {
  const pages = sampleRss(pid);
  let failures = 0;
  let bytesPerPage = 0;
  for (let round = 0; round < options.rounds; round++) {
    const answers = await Promise.all(
      Array.from({ length: options.clients }, () =>
        readThrough(apiUrl, apiKey, { action: 'list-tasks', user_id: LARGEST_USER, payload: { limit: LARGEST_PAGE } }),
      ),
    );
    for (const answer of answers) {
      if (answer.status !== 200 || countIn(answer.tail) !== LARGEST_PAGE) failures += 1;
      bytesPerPage = Math.max(bytesPerPage, answer.bytes);
    }
  }
  const pagesPeak = pages.stop();

  const every = sampleRss(pid);
  const started = process.hrtime.bigint();
  const answer = await readThrough(apiUrl, apiKey, { action: 'list-tasks', user_id: MANY_USER });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const everyPeak = every.stop();
  return {
    largestPages: { clients: options.clients, rounds: options.rounds, bytesPerPage, peakRssMb: pagesPeak, failures },
    everyTask: { tasks: options.manyTasks, count: answer.status === 200 ? countIn(answer.tail) : -1, bytes: answer.bytes, seconds, peakRssMb: everyPeak },
  };
}
