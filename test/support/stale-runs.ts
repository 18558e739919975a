/**
 * Test runs keep their embedded PostgreSQL in `<tmp>/chapi-testpg-*`, with the owning
 * process's pid in `owner.pid`. A run that was killed (SIGKILL, a crash) cannot clean up
 * after itself; the next run, and `npm test` after each suite, remove what it left.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const RUN_DIR_PREFIX = 'chapi-testpg-';
export const OWNER_FILE = 'owner.pid';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stops the postgres of every run whose owner is gone, and deletes its directory. */
export async function sweepStaleRuns(): Promise<void> {
  const base = tmpdir();
  for (const entry of await readdir(base)) {
    if (!entry.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = path.join(base, entry);
    const owner = Number(await readFile(path.join(dir, OWNER_FILE), 'utf8').catch(() => ''));
    // No owner file (yet): not ours to judge.
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    const postmaster = await readFile(path.join(dir, 'pgdata', 'postmaster.pid'), 'utf8').catch(() => '');
    const postgresPid = Number(postmaster.split('\n')[0]);
    // SIGQUIT: PostgreSQL's immediate shutdown; the data is about to be deleted anyway.
    if (Number.isInteger(postgresPid) && postgresPid > 0 && isAlive(postgresPid)) process.kill(postgresPid, 'SIGQUIT');
    await rm(dir, { recursive: true, force: true });
  }
}
