/**
 * scripts/check-image.ts needs a Docker engine, which CI has and this machine does not: here
 * it runs against a stand-in docker CLI (test/fixtures/fake-docker) to prove its own logic —
 * what it checks, in which order, and that each deviation fails it. What a real image does
 * under those checks is proven in CI (ci.yml, job image) and by test/image/build-steps.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const FAKE_DOCKER_DIR = fileURLToPath(new URL('../fixtures/fake-docker', import.meta.url));
const GOOD_CONFIG = {
  User: 'node',
  ExposedPorts: { '8000/tcp': {} },
  Cmd: ['node', 'api/dist/main.js'],
  Entrypoint: null,
  Env: ['PATH=/usr/local/bin', 'NODE_ENV=production', 'APP_VERSION=abc123'],
};

describe('npm run check:image (scripts/check-image.ts)', function () {
  this.timeout(60_000);
  let state: string;

  beforeEach(async () => {
    state = await mkdtemp(path.join(tmpdir(), 'chapi-fake-docker-'));
  });
  afterEach(async () => {
    await rm(state, { recursive: true, force: true });
  });

  async function checkImage(config: object, env: Record<string, string> = {}, version = 'abc123'): Promise<{ code: number | null; output: string }> {
    await writeFile(path.join(state, 'config.json'), JSON.stringify(config));
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/check-image.ts', 'chapi:ci', '--expect-version', version], {
      env: { ...process.env, PATH: `${FAKE_DOCKER_DIR}:${process.env.PATH ?? ''}`, FAKE_DOCKER_STATE: state, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, output };
  }

  it('passes an image that meets every check, runs it hardened and removes the container', async () => {
    const run = await checkImage(GOOD_CONFIG);
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.include('ok    runs as user node').and.to.include('/health reports the baked-in version abc123');
    expect(run.output).to.match(/ok +stops on SIGTERM with exit code 0/);
    const calls = await readFile(path.join(state, 'calls.log'), 'utf8');
    const runLine = calls.split('\n').find((line) => line.startsWith('run --detach')) ?? '';
    for (const flag of ['--init', '--read-only', '--tmpfs /tmp', '--cap-drop ALL', '--security-opt no-new-privileges', '--publish 127.0.0.1::8000']) {
      expect(runLine).to.include(flag);
    }
    expect(calls).to.match(/^stop --time 30 c0ffee$/m);
    expect(calls.trim().split('\n').at(-1)).to.equal('rm --force c0ffee');
  });

  it('fails an image that runs as root', async () => {
    const run = await checkImage({ ...GOOD_CONFIG, User: '' });
    expect(run.code).to.equal(1);
    expect(run.output).to.include('FAIL  runs as user node (got "")');
  });

  it('fails when the image was built with another version', async () => {
    const run = await checkImage(GOOD_CONFIG, {}, 'def456');
    expect(run.code).to.equal(1);
    expect(run.output).to.include('FAIL  APP_VERSION is def456 (got "abc123")');
  });

  it('fails when a package manager is left in the image', async () => {
    const run = await checkImage(GOOD_CONFIG, { FAKE_DOCKER_PACKAGE_MANAGERS: '/usr/local/bin/npm\n' });
    expect(run.code).to.equal(1);
    expect(run.output).to.include('FAIL  no package manager in the image (found /usr/local/bin/npm)');
  });

  it('fails when the container does not stop cleanly on SIGTERM, and shows its logs', async () => {
    const run = await checkImage(GOOD_CONFIG, { FAKE_DOCKER_STOP_CODE: '137' });
    expect(run.code).to.equal(1);
    expect(run.output).to.match(/FAIL +stops on SIGTERM with exit code 0 .*\(got 137\)/);
    expect(run.output).to.include('--- container logs ---');
  });

  it('refuses to run without the expected version', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/check-image.ts', 'chapi:ci'], { stdio: 'ignore' });
    expect(await new Promise((resolve) => child.once('exit', resolve))).to.equal(2);
  });
});
