/**
 * Runs the SQL migrations in `migrations/` with node-pg-migrate: the library behind
 * `npm run migrate`, the one-off migration task, `npm start` and the test harness.
 *
 * - A second runner waits for the first (advisory lock in `wait` mode) instead of failing, so
 *   two deploys or two test workers cannot apply the same migration twice.
 * - Each migration runs in its own transaction: a failure leaves the previous schema intact.
 * - The advisory lock is a session lock: it needs a direct connection, not a PgBouncer
 *   transaction-mode pooler, which is why migrations prefer `MIGRATION_DATABASE_URL`.
 */
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

/** The repository's `migrations/` folder, from `api/src` (tsx) or `api/dist` (the image). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
export const MIGRATIONS_TABLE = 'pgmigrations';

export interface MigrateOptions {
  databaseUrl: string;
  direction: 'up' | 'down';
  /** How many migrations to apply or undo. @default all for up, 1 for down */
  count?: number;
  /** Where progress lines go. @default nowhere */
  log?: (message: string) => void;
  /** @default MIGRATIONS_DIR */
  dir?: string;
}

/** Applies (`up`) or undoes (`down`) migrations; returns the names of those it ran. */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const log = options.log ?? (() => undefined);
  const ran = await runner({
    databaseUrl: options.databaseUrl,
    dir: options.dir ?? MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction: options.direction,
    count: options.count ?? (options.direction === 'up' ? Infinity : 1),
    singleTransaction: false,
    checkOrder: true,
    advisoryLockMode: 'wait',
    log,
    logger: { debug: () => undefined, info: log, warn: log, error: log },
  });
  return ran.map((migration) => migration.name);
}
