/**
 * Starts the API as a process (`api/src/main.ts`, as production starts `dist/main.js`) on
 * 127.0.0.1 with an ephemeral port, for the tests that need the real process: signals, exit
 * codes, a crash the test runner would otherwise share.
 *
 * ```ts
 * const api = await startApiProcess({ DATABASE_URL: db.url });
 * api.child.kill('SIGTERM');
 * expect(await api.exit).to.equal(0);
 * await api.kill(); // in an after hook: SIGKILL if it is still running
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** A running API process. */
export interface ApiProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:port`, as the process logged it. */
  url: string;
  /** Everything it wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the exit code (null when a signal ended it). */
  exit: Promise<number | null>;
  /** SIGKILL unless it has exited already; resolves once it has. Safe to call twice. */
  kill(): Promise<void>;
}

/** Starts the API process with `env` on top of the test's own; resolves once it listens. */
export async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'api/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
  };
  let url: string | undefined;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  try {
    await waitFor(
      () => {
        url = /"url":"(http:\/\/[^"]+)"/.exec(output)?.[1];
        return url !== undefined || exited();
      },
      { timeoutMs: 30_000, what: 'the API process to listen' },
    );
  } catch (error) {
    await kill();
    throw error;
  }
  if (url === undefined) throw new Error(`the API process exited (${child.exitCode ?? child.signalCode}) before listening: ${output}`);
  return { child, url: url as string, output: () => output, exit, kill };
}
