/**
 * The benchmark's scenarios: what one request of each looks like, drawn at random from the
 * seeded data. Everything goes through `POST /execute`, the Cat House client's contract.
 */

/** What seeding produced: users and the ids of their tasks. */
export interface SeedData {
  apiKey: string;
  users: { id: string; taskIds: string[] }[];
}

export interface BenchRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

export const SCENARIOS = ['health', 'get-task', 'list-tasks', 'create-task', 'update-task', 'get-stats', 'mixed'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The mix: 60 % get, 20 % list, 10 % create, 10 % stats. */
const MIXED_WEIGHTS: readonly [Exclude<ScenarioName, 'health' | 'mixed' | 'update-task'>, number][] = [
  ['get-task', 0.6],
  ['list-tasks', 0.2],
  ['create-task', 0.1],
  ['get-stats', 0.1],
];

/** The page size of the list scenario: the "a 50-task page". */
export const LIST_PAGE_SIZE = 50;

const STATUSES = ['pending', 'in_progress', 'completed'] as const;
const PRIORITIES = ['low', 'medium', 'high', 'urgent', null] as const;

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

function execute(action: string, userId: string, payload?: Record<string, unknown>): BenchRequest {
  return {
    method: 'POST',
    path: '/execute',
    body: JSON.stringify(payload === undefined ? { action, user_id: userId } : { action, user_id: userId, payload }),
  };
}

/** A realistic new task; `overdue` puts its due date in the past. */
export function newTaskPayload(index: number, options: { overdue?: boolean } = {}): Record<string, unknown> {
  const day = 24 * 60 * 60 * 1000;
  const dueOffset = options.overdue ? -(1 + (index % 30)) * day : (1 + (index % 60)) * day;
  return {
    title: `Task ${index}: ${pick(['feed the cats', 'clean the litter', 'order food', 'vet visit', 'brush Mochi'])}`,
    description: index % 3 === 0 ? null : `Seeded task number ${index}, with a description of moderate length.`,
    status: pick(STATUSES),
    priority: pick(PRIORITIES),
    due_date: index % 2 === 0 ? new Date(Date.now() + dueOffset).toISOString() : null,
  };
}

let created = 0;

/** One request of `scenario`, drawn at random from the seeded users and tasks. */
export function nextRequest(scenario: ScenarioName, seed: SeedData): BenchRequest {
  const user = pick(seed.users);
  switch (scenario) {
    case 'health':
      return { method: 'GET', path: '/health' };
    case 'get-task':
      return execute('get-task', user.id, { task_id: pick(user.taskIds) });
    case 'list-tasks':
      return execute('list-tasks', user.id, { limit: LIST_PAGE_SIZE });
    case 'create-task':
      created += 1;
      return execute('create-task', user.id, newTaskPayload(created));
    case 'update-task':
      return execute('update-task', user.id, { task_id: pick(user.taskIds), status: pick(STATUSES) });
    case 'get-stats':
      return execute('get-stats', user.id);
    case 'mixed': {
      let roll = Math.random();
      for (const [name, weight] of MIXED_WEIGHTS) {
        roll -= weight;
        if (roll < 0) return nextRequest(name, seed);
      }
      return nextRequest('get-task', seed);
    }
  }
}
