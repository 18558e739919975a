/**
 * scripts/check-image.ts against a stand-in docker CLI (test/fixtures/fake-docker) that
 * "runs the image" as this checkout's sources: the migration command and the API are real,
 * against the suite's PostgreSQL, and `npm run smoke` runs against them. It proves the
 * script's own logic — what it expects (the image config here is built from the Dockerfile,
 * as a build of it reports), how it runs containers, and that each deviation fails it. A real
 * image under the same checks: `.ci/image` (podman, in `.ci/run`) and ci.yml's image job.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { MIGRATION_COMMAND } from '../../infra/migration.js';
import { CONTAINER_USER } from '../../infra/task.js';
import { execForm, instructions, lineage, loadDockerfile, properties } from '../../scripts/lib/dockerfile.js';
import { useTestDatabase } from '../../api/test/helpers/databases.js';

const FAKE_DOCKER_DIR = fileURLToPath(new URL('../fixtures/fake-docker', import.meta.url));
const VERSION = 'abc123';

interface ImageConfig {
  User: string;
  ExposedPorts: Record<string, object>;
  Cmd: string[];
  Entrypoint: string[] | null;
  Env: string[];
  Volumes: Record<string, object> | null;
}

/** The config `docker image inspect` reports for an image built from the Dockerfile with APP_VERSION. */
function configFromDockerfile(version: string): ImageConfig {
  const model = loadDockerfile();
  const runtime = model.stage('runtime');
  const env = new Map<string, string>([['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']]);
  for (const stage of lineage(model, 'runtime').reverse()) {
    for (const { name, value } of properties(stage, 'ENV')) env.set(name, (value ?? '').replace(/^\$\{?APP_VERSION\}?$/, version));
  }
  const entrypoint = instructions(runtime, 'ENTRYPOINT').map(execForm).at(-1) ?? [];
  return {
    User: instructions(runtime, 'USER').at(-1)?.getArgumentsContent() ?? '',
    ExposedPorts: Object.fromEntries(instructions(runtime, 'EXPOSE').map((expose) => [`${expose.getArgumentsContent()}/tcp`, {}])),
    Cmd: instructions(runtime, 'CMD').map(execForm).at(-1) ?? [],
    // Docker reports `ENTRYPOINT []` as null.
    Entrypoint: entrypoint.length === 0 ? null : entrypoint,
    Env: [...env].map(([name, value]) => `${name}=${value}`),
    Volumes: Object.fromEntries(instructions(runtime, 'VOLUME').map((volume) => [volume.getArgumentsContent() ?? '', {}])),
  };
}

describe('npm run check:image (scripts/check-image.ts)', function () {
  this.timeout(180_000);
  const db = useTestDatabase();
  let state: string;
  let good: ImageConfig;

  before(() => {
    good = configFromDockerfile(VERSION);
  });
  beforeEach(async () => {
    state = await mkdtemp(path.join(tmpdir(), 'chapi-fake-docker-'));
  });
  afterEach(async () => {
    await rm(state, { recursive: true, force: true });
  });

  async function checkImage(config: object, env: Record<string, string> = {}, version = VERSION): Promise<{ code: number | null; output: string }> {
    await writeFile(path.join(state, 'config.json'), JSON.stringify(config));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'scripts/check-image.ts', 'chapi:ci', '--expect-version', version, '--database-url', db.url],
      {
        env: { ...process.env, PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH ?? ''}`, FAKE_DOCKER_STATE: state, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, output };
  }

  const runLines = async (): Promise<string[]> =>
    (await readFile(path.join(state, 'calls.log'), 'utf8')).split('\n').filter((line) => line.startsWith('run '));

  it('passes the image the Dockerfile describes: runs it as Fargate does, migrates, smoke-tests it, stops it', async () => {
    const run = await checkImage(good);
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.include(`ok    command is ${good.Cmd.join(' ')}`);
    expect(run.output).to.match(/ok +uid 1000 can write \/tmp .*\(owner, mode: 0 1777\)/);
    expect(run.output).to.include('smoke test passed').and.to.include('ok    npm run smoke passes against the container');
    expect(run.output).to.match(/ok +stops on SIGTERM with exit code 0/);
    const runs = await runLines();
    // Everything but the package-manager probe runs as the task definition runs its containers.
    const fargate = runs.filter((line) => !line.includes('command -v'));
    expect(fargate).to.have.length(3);
    for (const line of fargate) {
      for (const flag of ['--init', '--read-only', `--user ${CONTAINER_USER}`, '--cap-drop ALL', '--security-opt no-new-privileges', '--network host']) {
        expect(line).to.include(flag);
      }
      // The image declares /tmp: nothing is mounted over it (Fargate copies the image's /tmp).
      expect(line).not.to.match(/--volume|--tmpfs/);
    }
    expect(fargate.find((line) => line.includes('SERVICE_API_KEYS'))?.endsWith(`chapi:ci ${MIGRATION_COMMAND.join(' ')}`)).to.equal(true);
    const calls = await readFile(path.join(state, 'calls.log'), 'utf8');
    expect(calls).to.match(/^stop --time 30 c0ffee$/m);
    expect(calls.trim().split('\n').at(-1)).to.equal('rm --force --volumes c0ffee');
  });

  it('fails an image whose command is not the Dockerfile\'s (the node flags of runtime.ts left out)', async () => {
    const run = await checkImage({ ...good, Cmd: ['node', 'api/dist/main.js'] });
    expect(run.code).to.equal(1);
    expect(run.output).to.include(`FAIL  command is ${good.Cmd.join(' ')} (got ["node","api/dist/main.js"])`);
  });

  it('fails an image that runs as root', async () => {
    const run = await checkImage({ ...good, User: '' });
    expect(run.code).to.equal(1);
    expect(run.output).to.include('FAIL  runs as user node (got "")');
  });

  it('fails when the image was built with another version', async () => {
    const run = await checkImage(good, {}, 'def456');
    expect(run.code).to.equal(1);
    expect(run.output).to.include(`FAIL  APP_VERSION is def456 (got "${VERSION}")`);
  });

  it('fails an image without the runtime environment (MALLOC_ARENA_MAX of runtime.ts)', async () => {
    const run = await checkImage({ ...good, Env: good.Env.filter((entry) => !entry.startsWith('MALLOC_ARENA_MAX=')) });
    expect(run.code).to.equal(1);
    expect(run.output).to.include('FAIL  environment as the Dockerfile and runtime.ts set it (differs: MALLOC_ARENA_MAX=(unset))');
  });

  it('fails an image that does not declare /tmp as a volume', async () => {
    const run = await checkImage({ ...good, Volumes: null });
    expect(run.code).to.equal(1);
    expect(run.output).to.include('FAIL  declares the volumes /tmp (got none)');
  });

  it('fails when uid 1000 cannot write the /tmp that Fargate mounts', async () => {
    const run = await checkImage(good, { FAKE_DOCKER_IMAGE_TMP_MODE: '755' });
    expect(run.code).to.equal(1);
    expect(run.output).to.match(/FAIL +uid 1000 can write \/tmp .*\(owner, mode: 0 755\)/);
  });

  it('fails when a package manager is left in the image', async () => {
    const run = await checkImage(good, { FAKE_DOCKER_PACKAGE_MANAGERS: '/usr/local/bin/npm\n' });
    expect(run.code).to.equal(1);
    expect(run.output).to.include('FAIL  no package manager in the image (found /usr/local/bin/npm)');
  });

  it('fails when the container does not stop cleanly on SIGTERM, and shows its logs', async () => {
    const run = await checkImage(good, { FAKE_DOCKER_STOP_CODE: '137' });
    expect(run.code).to.equal(1);
    expect(run.output).to.match(/FAIL +stops on SIGTERM with exit code 0 .*\(got 137\)/);
    expect(run.output).to.include('--- container logs ---').and.to.include('"msg"');
  });

  it('refuses to run without the expected version', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/check-image.ts', 'chapi:ci'], { stdio: 'ignore' });
    expect(await new Promise((resolve) => child.once('exit', resolve))).to.equal(2);
  });
});
