/**
 * Polls a condition until it holds or a deadline passes: how scripts and tests wait for the
 * system (a server to answer, a process to exit) without sleeping for a guessed period.
 * It lives with the API's test helpers so that `api/test` needs nothing outside `api/`; the
 * root's scripts (`npm start`, `check:image`, the bench) and tests import this one copy.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between attempts. @default 50 */
  intervalMs?: number;
  /** Named in the timeout error: "timed out waiting for <what>". */
  what: string;
}

/** Resolves once `check` returns true; a throwing check counts as "not yet". */
export async function waitFor(check: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${cause}`);
    }
    await sleep(options.intervalMs ?? 50);
  }
}
