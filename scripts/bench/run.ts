/**
 * `npm run bench`: how fast chapi is on one core, compared in the same run with a bare Koa
 * server (the ceiling), plus start-up time and a soak. See docs/performance.md.
 *
 * 1. Builds the API (`api/dist`, what the image runs) and starts PostgreSQL: embedded (17,
 *    with pg_stat_statements) unless `DATABASE_URL` is set.
 * 2. Starts chapi, the bare Koa server and the same server reading each request's JSON body
 *    and running the API's own statement for it (the floor of a task request), each pinned
 *    to core 0 (`taskset`), and seeds users × tasks through the API (mixed statuses and
 *    priorities, some overdue).
 * 3. For each round and scenario: the bare server (a fixed GET), the floor (not for health;
 *    sent the scenario's own requests, as chapi is), then chapi, each with a warm-up and a
 *    measured run of autocannon from a separate process pinned to core 1.
 * 4. Memory (`memory.ts`): the API's peak RSS under 20 concurrent pages of 1000 largest-possible
 *    tasks, and under one `list-tasks` of every task of a user with 100 000 tasks.
 * 5. Reports req/s, p50/p99, non-2xx, the API's peak RSS, SQL statements per request
 *    (pg_stat_statements), the CPU the API and PostgreSQL spend per request, and the API's
 *    CPU per request as a multiple of the bare server's in the same round (issue 14's
 *    measure: it survives the machine's noise better than req/s), and the floor's.
 *
 * Options: --duration S (10) --warmup S (3) --connections N (32) --rounds N (2)
 *          --scenarios a,b (all) --users N (200) --tasks N (50) --soak S (60, 0 = none)
 *          --starts N (5: start-up time samples) --out DIR (.bench)
 *          --memory-tasks N (100000: the unlimited listing's user; 0 = no memory scenarios)
 *          --page-clients N (20: concurrent largest pages)
 *          --node-flags="…" (default: the image's, scripts/lib/runtime.ts)
 *          --cpu-prof (the API process writes a V8 CPU profile to <out>/profiles when it stops)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build as bundle } from 'esbuild';
import postgres from 'postgres';
import { SERVER_BUNDLE_OPTIONS } from '../../api/bundle.js';
import { migrate } from '../../api/src/migrate.js';
import { createKey } from '../../api/src/keys/service.js';
import { systemClock } from '../../api/src/clock.js';
import { displayPath } from '../lib/display-path.js';
import { freePort, startEmbeddedPostgres, takeOverTerminationSignals, type RunningPostgres } from '../lib/embedded-postgres.js';
import { RUNTIME_ENV, RUNTIME_NODE_FLAGS } from '../lib/runtime.js';
import { waitFor } from '../../api/test/helpers/wait.js';
import type { LoadResult, LoadSpec } from './load.js';
import { measureMemory, seedMemoryScenarios } from './memory.js';
import { cpuSeconds, rssMb, sampleRss, treeCpuSeconds } from './proc.js';
import { formatReport, type ScenarioRun, type BenchReport } from './report.js';
import { newTaskPayload, SCENARIOS, type ScenarioName, type SeedData } from './scenarios.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/**
 * The reference servers (`bare-koa.ts`), bundled as the API is (`SERVER_BUNDLE_OPTIONS`) and
 * run by plain node with its flags: their CPU and RSS then compare with the API's, not with a
 * TypeScript loader's. Under the git-ignored `.bench/`, where Node finds the externals.
 */
const REFERENCE_BUNDLE = path.join(ROOT, '.bench', 'build', 'bare-koa.js');
const BENCH_DATABASE = 'chapi_bench';
/** Cores: the API (and the bare server) on the first, the load generator on the second. */
const SERVER_CORE = '0';
const LOAD_CORE = '1';

const { values: options } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    users: { type: 'string', default: '200' },
    tasks: { type: 'string', default: '50' },
    soak: { type: 'string', default: '60' },
    starts: { type: 'string', default: '5' },
    out: { type: 'string', default: '.bench' },
    'memory-tasks': { type: 'string', default: '100000' },
    'page-clients': { type: 'string', default: '20' },
    'node-flags': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});

function number(name: keyof typeof options): number {
  const value = Number(options[name]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number`);
  return value;
}

const settings = {
  durationS: number('duration'),
  warmupS: number('warmup'),
  connections: number('connections'),
  rounds: number('rounds'),
  users: number('users'),
  tasksPerUser: number('tasks'),
  soakS: number('soak'),
  starts: Math.max(1, number('starts')),
  memoryTasks: number('memory-tasks'),
  pageClients: Math.max(1, number('page-clients')),
  nodeFlags: (options['node-flags'] ?? RUNTIME_NODE_FLAGS.join(' ')).split(' ').filter(Boolean),
  /** A profiled API spends more CPU per request: the report says so with this. */
  cpuProfile: options['cpu-prof'] === true,
  scenarios: (options.scenarios ?? '').split(',').map((name) => {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario ${name} (${SCENARIOS.join(', ')})`);
    return name as ScenarioName;
  }),
};

/** taskset pins a process to a core, where there are two or more and taskset exists. */
const canPin = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

function pinned(core: string, command: string, args: string[]): [string, string[]] {
  return canPin ? ['taskset', ['-c', core, command, ...args]] : [command, args];
}

function log(message: string): void {
  console.error(`[bench] ${message}`);
}

/** Starts a server process and waits until `url` + /health (or /) answers 200. */
async function startServer(
  args: string[],
  env: NodeJS.ProcessEnv,
  probe: string,
): Promise<{ child: ChildProcess; pid: number; startMs: number }> {
  const [command, commandArgs] = pinned(SERVER_CORE, process.execPath, args);
  const started = process.hrtime.bigint();
  const child = spawn(command, commandArgs, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(async () => (await fetch(probe)).ok, { timeoutMs: 30_000, intervalMs: 5, what: probe });
  const startMs = Number(process.hrtime.bigint() - started) / 1e6;
  // With taskset, the node process replaced taskset (exec): the pid is node's.
  return { child, pid: child.pid as number, startMs };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** One autocannon run in its own process, pinned to the load core. */
async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const [command, args] = pinned(LOAD_CORE, process.execPath, ['--import', 'tsx', 'scripts/bench/load.ts', JSON.stringify(spec)]);
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return JSON.parse(output.trim().split('\n').at(-1) as string) as LoadResult;
}

/** Creates users × tasks through the API (so the data is what the API writes). */
async function seed(apiUrl: string, apiKey: string): Promise<SeedData> {
  const users = Array.from({ length: settings.users }, (_, index) => ({ id: `bench-user-${index}`, taskIds: [] as string[] }));
  const jobs = users.flatMap((user) => Array.from({ length: settings.tasksPerUser }, (_, index) => ({ user, index })));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const { user, index } = jobs[next++] as (typeof jobs)[number];
      // One task in five is overdue.
      const payload = newTaskPayload(index, { overdue: index % 5 === 0 });
      const response = await fetch(`${apiUrl}/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify({ action: 'create-task', user_id: user.id, payload }),
      });
      const body = (await response.json()) as { data?: { id?: string } };
      if (response.status !== 200 || typeof body.data?.id !== 'string') {
        throw new Error(`seeding failed: HTTP ${response.status} ${JSON.stringify(body)}`);
      }
      user.taskIds.push(body.data.id);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { apiKey, users };
}

/**
 * Statement counters, where pg_stat_statements is available. The statements on
 * `service_api_keys` (the key cache's lookup, at most once per 30 s per key, and the
 * `last_used_at` write, at most once a minute) are counted apart: they are not per request.
 */
function statementCounter(sql: postgres.Sql | undefined): {
  reset(): Promise<void>;
  count(): Promise<{ calls: number; keyCalls: number } | null>;
} {
  return {
    reset: async () => {
      if (sql) await sql`select pg_stat_statements_reset()`;
    },
    count: async () => {
      if (!sql) return null;
      const [row] = await sql<{ calls: string | null; key_calls: string | null }[]>`
        select sum(calls)::text as calls,
               sum(calls) filter (where query ilike '%service_api_keys%')::text as key_calls
        from pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database())
          and query not ilike '%pg_stat_statements%'`;
      return { calls: Number(row?.calls ?? 0), keyCalls: Number(row?.key_calls ?? 0) };
    },
  };
}

async function main(): Promise<void> {
  takeOverTerminationSignals();
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    log('building the API (npm run build -w api)');
    const build = spawnSync('npm', ['run', 'build', '-w', 'api'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (build.status !== 0) throw new Error('the API build failed');
    await bundle({ ...SERVER_BUNDLE_OPTIONS, entryPoints: [path.join(ROOT, 'scripts/bench/bare-koa.ts')], outfile: REFERENCE_BUNDLE });

    let databaseUrl = process.env.DATABASE_URL;
    let pg: RunningPostgres | undefined;
    if (databaseUrl === undefined || databaseUrl === '') {
      const dir = await mkdtemp(path.join(tmpdir(), 'chapi-bench-'));
      await chmod(dir, 0o755);
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      log('starting PostgreSQL 17 (embedded, with pg_stat_statements)');
      pg = await startEmbeddedPostgres({
        dataDir: path.join(dir, 'pgdata'),
        password: 'bench',
        ephemeral: true,
        settings: { shared_preload_libraries: 'pg_stat_statements', max_connections: 100 },
      });
      const running = pg;
      cleanups.push(() => running.stop());
      const admin = postgres(pg.url(), { max: 1, onnotice: () => undefined });
      await admin`create database ${admin(BENCH_DATABASE)}`;
      await admin.end();
      databaseUrl = pg.url(BENCH_DATABASE);
    } else {
      log('using DATABASE_URL (its data is added to, never deleted)');
    }
    await migrate({ databaseUrl, direction: 'up' });
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
    cleanups.push(() => sql.end());
    const hasStatements = await sql`create extension if not exists pg_stat_statements`.then(
      () => true,
      () => false,
    );
    const statements = statementCounter(hasStatements ? sql : undefined);
    const { plaintext: apiKey } = await createKey(
      { sql, clock: systemClock, audit: () => undefined, actor: 'bench' },
      { keyName: `bench-${Date.now().toString(36)}`, environment: 'prod' },
    );

    const apiPort = await freePort();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    // Production settings: production logging included (to /dev/null here, to stdout on ECS).
    const apiEnv = { ...process.env, ...RUNTIME_ENV, DATABASE_URL: databaseUrl, PORT: String(apiPort), HOST: '127.0.0.1', NODE_ENV: 'production', LOG_LEVEL: 'info' };
    const startTimes: number[] = [];
    // --cpu-prof: only the API is profiled (the bare server and the load generator are not),
    // in a start of its own that serves the load (V8 writes the profile when it exits).
    const profileDir = path.resolve(ROOT, options.out ?? '.bench', 'profiles');
    const apiArgs = [...settings.nodeFlags, 'api/dist/main.js'];
    const profiledArgs = options['cpu-prof'] === true ? [...settings.nodeFlags, '--cpu-prof', `--cpu-prof-dir=${profileDir}`, 'api/dist/main.js'] : apiArgs;
    let api = await startServer(apiArgs, apiEnv, `${apiUrl}/health`);
    startTimes.push(api.startMs);
    for (let index = 1; index < settings.starts; index++) {
      await stopServer(api.child);
      api = await startServer(apiArgs, apiEnv, `${apiUrl}/health`);
      startTimes.push(api.startMs);
    }
    if (options['cpu-prof'] === true) {
      // One more start, not timed (profiling slows it), to serve the load.
      await stopServer(api.child);
      api = await startServer(profiledArgs, apiEnv, `${apiUrl}/health`);
    }
    const apiProcess = api;
    cleanups.push(() => stopServer(apiProcess.child));
    // The reference servers (bare-koa.ts), with the same node flags and environment as the API:
    // the CPU multiple then compares our code with Koa's, not one garbage-collector setting
    // with another.
    const startReference = async (env: Record<string, string>): Promise<{ url: string; pid: number }> => {
      const url = `http://127.0.0.1:${await freePort()}`;
      const server = await startServer(
        [...settings.nodeFlags, REFERENCE_BUNDLE],
        { ...process.env, ...RUNTIME_ENV, PORT: new URL(url).port, ...env },
        url,
      );
      cleanups.push(() => stopServer(server.child));
      return { url, pid: server.pid };
    };
    const bare = await startReference({});
    // The floor of a task request: the same server, reading the body and running the API's statement.
    const floor = await startReference({ BARE_DATABASE_URL: databaseUrl });

    log(`seeding ${settings.users} users × ${settings.tasksPerUser} tasks through the API`);
    const seedData = await seed(apiUrl, apiKey);
    const seedDir = await mkdtemp(path.join(tmpdir(), 'chapi-bench-seed-'));
    cleanups.push(() => rm(seedDir, { recursive: true, force: true }));
    const seedFile = path.join(seedDir, 'seed.json');
    await writeFile(seedFile, JSON.stringify(seedData));
    const pgRoot = pg ? postmasterPid(pg.dataDir) : undefined;

    const runs: ScenarioRun[] = [];
    const load = (url: string, scenario: ScenarioName, durationS: number, withSeed: boolean): Promise<LoadResult> =>
      runLoad({ url, scenario, connections: settings.connections, durationS, ...(withSeed ? { seedFile } : {}) });
    /**
     * One measured run of a scenario against a server (the API or a reference): the answers,
     * and the server's CPU per request and peak RSS meanwhile.
     */
    const measuredRun = async (server: { url: string; pid: number }, scenario: ScenarioName, withSeed: boolean) => {
      const cpuBefore = cpuSeconds(server.pid);
      const rss = sampleRss(server.pid);
      const result = await load(server.url, scenario, settings.durationS, withSeed);
      const peakRssMb = rss.stop();
      const cpu = cpuSeconds(server.pid) - cpuBefore;
      return { result, peakRssMb, cpuMsPerRequest: result.requests === 0 ? null : (cpu * 1000) / result.requests };
    };
    /**
     * A reference server's run of a scenario, after its warm-up. With `requests`: sent the
     * scenario's own requests (the floor), else a fixed GET (bare Koa).
     */
    const measureReference = async (server: { url: string; pid: number }, scenario: ScenarioName, requests: boolean) => {
      if (settings.warmupS > 0) await load(server.url, scenario, settings.warmupS, requests);
      const run = await measuredRun(server, scenario, requests);
      // A reference that failed requests did less than their work: its CPU would understate it.
      const { result } = run;
      if (result.non2xx + result.errors + result.timeouts > 0) {
        throw new Error(`reference server at ${server.url} failed ${scenario} requests: ${JSON.stringify(result)}`);
      }
      return run;
    };
    for (let round = 1; round <= settings.rounds; round++) {
      for (const scenario of settings.scenarios) {
        log(`round ${round}: ${scenario}`);
        const ceiling = await measureReference(bare, scenario, false);
        // Health needs no database: it has no floor.
        const floorRun = scenario === 'health' ? undefined : await measureReference(floor, scenario, true);
        if (settings.warmupS > 0) await load(apiUrl, scenario, settings.warmupS, true);
        await statements.reset();
        const pgCpuBefore = pgRoot === undefined ? 0 : treeCpuSeconds(pgRoot);
        const { result, peakRssMb, cpuMsPerRequest: apiCpuMsPerRequest } = await measuredRun({ url: apiUrl, pid: apiProcess.pid }, scenario, true);
        const pgCpu = pgRoot === undefined ? 0 : treeCpuSeconds(pgRoot) - pgCpuBefore;
        const calls = await statements.count();
        runs.push({
          round,
          scenario,
          result,
          ceilingRps: ceiling.result.rps,
          bareCpuMsPerRequest: ceiling.cpuMsPerRequest,
          floorCpuMsPerRequest: floorRun?.cpuMsPerRequest ?? null,
          floorPeakRssMb: floorRun?.peakRssMb ?? null,
          peakRssMb,
          statementsPerRequest: calls === null || result.requests === 0 ? null : (calls.calls - calls.keyCalls) / result.requests,
          keyStatements: calls === null ? null : calls.keyCalls,
          apiCpuMsPerRequest,
          pgCpuMsPerRequest: pgRoot === undefined || result.requests === 0 ? null : (pgCpu * 1000) / result.requests,
        });
      }
    }

    let memory: BenchReport['memory'] = null;
    if (settings.memoryTasks > 0) {
      log(`memory: ${settings.pageClients} concurrent largest pages; every task of a user with ${settings.memoryTasks}`);
      await seedMemoryScenarios(sql, settings.memoryTasks);
      memory = await measureMemory(apiUrl, apiKey, apiProcess.pid, { clients: settings.pageClients, rounds: 3, manyTasks: settings.memoryTasks });
    }

    let soak: BenchReport['soak'] = null;
    if (settings.soakS > 0) {
      log(`soak: ${settings.soakS} s of mixed load`);
      const warm = await load(apiUrl, 'mixed', Math.min(10, settings.soakS), true);
      const rssAfterWarmup = rssMb(apiProcess.pid);
      const result = await load(apiUrl, 'mixed', settings.soakS, true);
      const rssAtEnd = rssMb(apiProcess.pid);
      soak = {
        durationS: settings.soakS,
        requests: result.requests,
        errors: result.errors + result.timeouts + result.non2xx + warm.errors + warm.timeouts + warm.non2xx,
        rssAfterWarmupMb: rssAfterWarmup,
        rssAtEndMb: rssAtEnd,
      };
    }

    const report: BenchReport = {
      when: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version, pinned: canPin },
      settings: { ...settings },
      startMs: startTimes,
      statementsMeasured: hasStatements,
      runs,
      memory,
      soak,
    };
    const outDir = path.resolve(ROOT, options.out ?? '.bench');
    await mkdir(outDir, { recursive: true });
    const stamp = report.when.replace(/[:.]/g, '-');
    await writeFile(path.join(outDir, `bench-${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
    const text = formatReport(report);
    await writeFile(path.join(outDir, `bench-${stamp}.md`), text);
    console.log(text);
    log(`report written to ${displayPath(path.join(outDir, `bench-${stamp}.md`))} and ${displayPath(path.join(outDir, `bench-${stamp}.json`))}`);
    if (options['cpu-prof'] === true) {
      // The profile is written as the API exits: stop it first, then say where it is.
      await stopServer(apiProcess.child);
      log(`CPU profile of the API in ${displayPath(profileDir)} (open in Chrome DevTools; api/dist/main.js.map maps it to the sources)`);
    }
  } finally {
    await cleanup();
  }
}

/** The postmaster's pid, from the first line of postmaster.pid. */
function postmasterPid(dataDir: string): number | undefined {
  const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

await main();
