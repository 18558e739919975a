/**
 * `npm run check:image -- <image> --expect-version <sha> [--engine docker|podman]
 *  [--database-url <url>]`: runs a built image the way ECS on Fargate does and checks it —
 * what CI does right after the build (ci.yml, job `image`; `.ci/image` with podman).
 *
 * What it expects comes from the files that decide it, never from a copy: the Dockerfile's
 * runtime stage (user, port, command, entrypoint, environment, volumes), the node flags of
 * scripts/lib/runtime.ts, and the task definition's container contract in infra/task.ts and infra/migration.ts
 * (the user ECS runs it as, the migration task's command, the stop timeout).
 *
 * 1. Its configuration, and no package manager left in it.
 * 2. Fargate's /tmp: a read-only root file system whose one writable path is the task's
 *    volume, which Fargate creates owned by root with mode 0755 unless the image declares the
 *    path as a VOLUME (then it is a copy of the image's /tmp). uid 1000 must be able to write it.
 * 3. Against a PostgreSQL (`--database-url`, else an embedded one started here), with host
 *    networking (Fargate's awsvpc gives the task the network interface, as host mode does):
 *    the migration task's command with a deployment-managed `smoke` key, then the API, then
 *    `npm run smoke` (the deploy's last step) against it.
 * 4. Stop (SIGTERM): the API drains and exits 0 inside ECS's stop timeout.
 *
 * Each check prints one line; the first failure prints the container's logs and exits 1.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { generateServiceKey } from '../api/src/keys/format.js';
import { SMOKE_CLIENT } from '../infra/config.js';
import { MIGRATION_COMMAND } from '../infra/migration.js';
import { CONTAINER_USER, STOP_TIMEOUT_S } from '../infra/task.js';
import { execForm, instructions, lineage, loadDockerfile, properties, REPO_ROOT } from './lib/dockerfile.js';
import { freePort, startEmbeddedPostgres, type RunningPostgres } from './lib/embedded-postgres.js';
import { RUNTIME_ENV, RUNTIME_NODE_FLAGS } from './lib/runtime.js';
import { waitFor } from '../api/test/helpers/wait.js';

const exec = promisify(execFile);

/** Time for the container to answer /health: node starts in well under a second. */
const START_TIMEOUT_MS = 60_000;
/** The path the task definition mounts its one writable volume on (infra/task.ts). */
const TMP = '/tmp';

class CheckFailed extends Error {
  override name = 'CheckFailed';
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new CheckFailed(message);
  console.log(`ok    ${message}`);
}

const { values, positionals } = parseArgs({
  options: {
    'expect-version': { type: 'string' },
    engine: { type: 'string', default: 'docker' },
    'database-url': { type: 'string' },
  },
  allowPositionals: true,
  strict: true,
});
const image = positionals[0];
const expectVersion = values['expect-version'];
const engine = values.engine;
if (image === undefined || positionals.length !== 1 || expectVersion === undefined || expectVersion === '') {
  console.error(
    'usage: npm run check:image -- <image> --expect-version <the APP_VERSION it was built with> [--engine docker|podman] [--database-url <url>]',
  );
  process.exit(2);
}

async function container(...args: string[]): Promise<string> {
  try {
    const { stdout } = await exec(engine, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim();
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new CheckFailed(`${engine} ${args.join(' ')} failed: ${(stderr || stdout || String(error)).trim()}`);
  }
}

/** What the Dockerfile says the runtime image is. */
function expectedImage(): { user: string; ports: string[]; cmd: string[]; entrypoint: string[]; env: Record<string, string>; volumes: string[] } {
  const model = loadDockerfile();
  const runtime = model.stage('runtime');
  const env: Record<string, string> = {};
  // ENV values that name a build argument are checked against the build below, not here.
  for (const stage of lineage(model, 'runtime').reverse()) {
    for (const { name, value } of properties(stage, 'ENV')) if (!(value ?? '').includes('$')) env[name] = value ?? '';
  }
  const cmd = instructions(runtime, 'CMD').map(execForm).at(-1);
  const entrypoint = instructions(runtime, 'ENTRYPOINT').map(execForm).at(-1);
  if (cmd === undefined || entrypoint === undefined) throw new CheckFailed('the Dockerfile\'s runtime stage has no exec-form CMD and ENTRYPOINT');
  return {
    user: instructions(runtime, 'USER').at(-1)?.getArgumentsContent() ?? '',
    ports: instructions(runtime, 'EXPOSE').map((expose) => `${expose.getArgumentsContent() ?? ''}/tcp`),
    cmd,
    entrypoint,
    env,
    volumes: instructions(runtime, 'VOLUME').flatMap((volume) => execForm(volume) ?? (volume.getArgumentsContent() ?? '').split(/\s+/)),
  };
}

/** Host folders standing for Fargate's bind mounts, removed at the end. */
const mountDirs: string[] = [];

/**
 * How ECS runs every container of the task (infra/task.ts): hardened, as its user, with
 * Fargate's /tmp. A declared VOLUME gets an anonymous volume holding a copy of the image's
 * path, as Fargate copies it; otherwise a fresh directory with mode 0755 owned by root (by
 * whoever runs this when that is not root: either way not by the task's user) is bind-mounted.
 */
async function fargateFlags(declaredVolumes: string[]): Promise<string[]> {
  let tmp: string[] = [];
  if (!declaredVolumes.includes(TMP)) {
    const dir = await mkdtemp(path.join(tmpdir(), 'chapi-fargate-tmp-'));
    mountDirs.push(dir);
    await chmod(dir, 0o755);
    tmp = ['--volume', `${dir}:${TMP}`];
  }
  return [
    '--init', '--read-only', ...tmp,
    // podman would add its own writable tmpfs on /tmp, /var/tmp and /run; Fargate does not.
    ...(path.basename(engine) === 'podman' ? ['--read-only-tmpfs=false'] : []),
    '--user', CONTAINER_USER,
    '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--network', 'host',
  ];
}

/** Runs a command in the repository, output passed through; resolves with its exit code. */
async function runHere(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  return await new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

let apiContainer: string | undefined;
let postgres: RunningPostgres | undefined;
let dataDir: string | undefined;
try {
  const expected = expectedImage();
  const config = JSON.parse(await container('image', 'inspect', '--format', '{{json .Config}}', image)) as {
    User?: string;
    ExposedPorts?: Record<string, unknown> | null;
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    Env?: string[] | null;
    Volumes?: Record<string, unknown> | null;
  };
  const imageEnv = Object.fromEntries((config.Env ?? []).map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  check(config.User === expected.user, `runs as user ${expected.user} (got "${config.User ?? ''}")`);
  const ports = Object.keys(config.ExposedPorts ?? {}).sort();
  check(JSON.stringify(ports) === JSON.stringify([...expected.ports].sort()), `exposes ${expected.ports.join(', ')} only (got ${ports.join(', ')})`);
  check(JSON.stringify(config.Cmd) === JSON.stringify(expected.cmd), `command is ${expected.cmd.join(' ')} (got ${JSON.stringify(config.Cmd)})`);
  const flags = (config.Cmd ?? []).slice(1, 1 + RUNTIME_NODE_FLAGS.length);
  check(JSON.stringify(flags) === JSON.stringify(RUNTIME_NODE_FLAGS), `node runs with the flags of scripts/lib/runtime.ts (got ${JSON.stringify(flags)})`);
  check(
    JSON.stringify(config.Entrypoint ?? []) === JSON.stringify(expected.entrypoint),
    `entrypoint is ${JSON.stringify(expected.entrypoint)} (got ${JSON.stringify(config.Entrypoint)})`,
  );
  const wrongEnv = Object.entries({ ...expected.env, ...RUNTIME_ENV }).filter(([name, value]) => imageEnv[name] !== value);
  check(wrongEnv.length === 0, `environment as the Dockerfile and runtime.ts set it${wrongEnv.length === 0 ? '' : ` (differs: ${wrongEnv.map(([name]) => `${name}=${imageEnv[name] ?? '(unset)'}`).join(', ')})`}`);
  const version = imageEnv.APP_VERSION ?? '';
  check(version === expectVersion, `APP_VERSION is ${expectVersion} (got "${version}")`);
  const volumes = Object.keys(config.Volumes ?? {}).sort();
  check(JSON.stringify(volumes) === JSON.stringify([...expected.volumes].sort()), `declares the volumes ${expected.volumes.join(', ') || '(none)'} (got ${volumes.join(', ') || 'none'})`);

  // Prints the path of each one still there; always exits 0.
  const packageManagers = (
    await container('run', '--rm', '--entrypoint', 'sh', image, '-c', 'for c in npm npx corepack yarn; do command -v "$c"; done; true')
  ).replace(/\s+/g, ' ');
  check(packageManagers === '', `no package manager in the image${packageManagers === '' ? '' : ` (found ${packageManagers})`}`);

  if (process.getuid?.() === Number(CONTAINER_USER.split(':')[0])) {
    throw new CheckFailed(`run this as another user than the task's (${CONTAINER_USER}): a mount it owns would be writable anyway`);
  }
  const fargate = await fargateFlags(volumes);
  // Owner, mode, and whether a file can be created there, as the task's user.
  const tmpProbe = (
    await container('run', '--rm', ...fargate, '--entrypoint', 'sh', image, '-c', `stat -c '%u %a' ${TMP}; touch ${TMP}/probe && echo writable || true`)
  ).split('\n');
  check(tmpProbe.at(-1) === 'writable', `uid ${CONTAINER_USER.split(':')[0]} can write ${TMP} on a read-only root as Fargate mounts it (owner, mode: ${tmpProbe[0]})`);

  // The database: the given one, or an embedded PostgreSQL for this run only.
  let databaseUrl = values['database-url'];
  if (databaseUrl === undefined) {
    dataDir = await mkdtemp(path.join(tmpdir(), 'chapi-check-image-pg-'));
    postgres = await startEmbeddedPostgres({ dataDir, password: randomBytes(16).toString('hex'), ephemeral: true, fast: true });
    databaseUrl = postgres.url();
  }
  const smokeKey = generateServiceKey('prod');
  const migrate = spawn(engine, [
    'run', '--rm', ...fargate,
    '--env', `MIGRATION_DATABASE_URL=${databaseUrl}`,
    '--env', `SERVICE_API_KEYS=${JSON.stringify({ [SMOKE_CLIENT]: smokeKey })}`,
    image, ...MIGRATION_COMMAND,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let migrateOutput = '';
  migrate.stdout.on('data', (chunk: Buffer) => (migrateOutput += chunk.toString()));
  migrate.stderr.on('data', (chunk: Buffer) => (migrateOutput += chunk.toString()));
  const migrateCode = await new Promise<number | null>((resolve) => migrate.once('exit', resolve));
  if (migrateCode !== 0) console.error(migrateOutput);
  check(migrateCode === 0, `the migration task's command (${MIGRATION_COMMAND.join(' ')}) migrates and installs the managed smoke key (exit ${migrateCode})`);

  const port = await freePort();
  apiContainer = await container(
    'run', '--detach', ...fargate,
    '--env', `DATABASE_URL=${databaseUrl}`,
    '--env', 'HOST=127.0.0.1',
    '--env', `PORT=${port}`,
    image,
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  let health: { status?: string; version?: string } = {};
  await waitFor(
    async () => {
      const running = await container('inspect', '--format', '{{.State.Running}}', apiContainer as string);
      if (running !== 'true') throw new CheckFailed('the container exited during start-up');
      const response = await fetch(`${baseUrl}/health`).catch(() => undefined);
      if (response === undefined || !response.ok) return false;
      health = (await response.json()) as typeof health;
      return true;
    },
    { timeoutMs: START_TIMEOUT_MS, what: `GET ${baseUrl}/health from the container` },
  );
  check(health.status === 'ok', 'starts read-only and unprivileged, and answers GET /health');
  check(health.version === version, `/health reports the baked-in version ${version}`);

  // The deploy's last step, as the deploy runs it (the key only in the environment).
  const smokeCode = await runHere('npm', ['run', '--silent', 'smoke', '--', '--base-url', baseUrl, '--expect-version', version, '--wait-seconds', '0'], {
    ...process.env,
    SMOKE_API_KEY: smokeKey,
  });
  check(smokeCode === 0, `npm run smoke passes against the container (exit ${smokeCode})`);

  const started = Date.now();
  await container('stop', '--time', String(STOP_TIMEOUT_S), apiContainer);
  const exitCode = await container('inspect', '--format', '{{.State.ExitCode}}', apiContainer);
  check(exitCode === '0', `stops on SIGTERM with exit code 0 in ${((Date.now() - started) / 1000).toFixed(1)} s (got ${exitCode})`);
  console.log(`image ${image} passed`);
} catch (error) {
  console.error(`FAIL  ${error instanceof Error ? error.message : String(error)}`);
  if (apiContainer !== undefined) {
    const logs = await exec(engine, ['logs', apiContainer]).then(
      ({ stdout, stderr }) => `${stdout}${stderr}`,
      () => '(no logs)',
    );
    console.error(`--- container logs ---\n${logs}`);
  }
  process.exitCode = 1;
} finally {
  if (apiContainer !== undefined) await exec(engine, ['rm', '--force', '--volumes', apiContainer]).catch(() => undefined);
  await postgres?.stop().catch(() => undefined);
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  for (const dir of mountDirs) await rm(dir, { recursive: true, force: true });
}
// Explicitly: embedded-postgres's exit hook (registered when it loads) exits with 0 otherwise.
process.exit(process.exitCode ?? 0);
