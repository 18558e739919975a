/**
 * `npm run check:image -- <image> --expect-version <sha>`: runs a built image the way ECS
 * does and checks it — what CI does right after `docker build` (ci.yml, job `image`).
 *
 * 1. Its configuration: user `node`, port 8000, `node api/dist/main.js`, the version baked in,
 *    and no package manager left in it.
 * 2. A container on a read-only root file system (only /tmp writable), with an init process,
 *    no capabilities and no privilege escalation: `GET /health` answers 200 with the version.
 *    (No database is needed: liveness never touches it.)
 * 3. `docker stop` (SIGTERM): the API drains and exits 0 well inside the 30 s ECS allows.
 *
 * Each check prints one line; the first failure prints the container's logs and exits 1.
 */
import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { waitFor } from './lib/wait.js';

const exec = promisify(execFile);

/** ECS's stop timeout: SIGKILL follows SIGTERM after this long. */
const STOP_TIMEOUT_S = 30;
/** Time for the container to answer /health: node starts in well under a second. */
const START_TIMEOUT_MS = 60_000;
/** A URL that parses but leads nowhere: the API starts without connecting. */
const UNREACHABLE_DATABASE_URL = 'postgres://chapi:unused@127.0.0.1:9/chapi';

class CheckFailed extends Error {
  override name = 'CheckFailed';
}

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await exec('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new CheckFailed(message);
  console.log(`ok    ${message}`);
}

const { values, positionals } = parseArgs({
  options: { 'expect-version': { type: 'string' } },
  allowPositionals: true,
  strict: true,
});
const image = positionals[0];
const expectVersion = values['expect-version'];
if (image === undefined || positionals.length !== 1 || expectVersion === undefined || expectVersion === '') {
  console.error('usage: npm run check:image -- <image> --expect-version <the APP_VERSION it was built with>');
  process.exit(2);
}

let container: string | undefined;
try {
  const config = JSON.parse(await docker('image', 'inspect', '--format', '{{json .Config}}', image)) as {
    User?: string;
    ExposedPorts?: Record<string, unknown>;
    Cmd?: string[];
    Entrypoint?: string[] | null;
    Env?: string[];
  };
  check(config.User === 'node', `runs as user node (got "${config.User ?? ''}")`);
  check(Object.keys(config.ExposedPorts ?? {}).join(',') === '8000/tcp', 'exposes 8000/tcp only');
  check(JSON.stringify(config.Cmd) === '["node","api/dist/main.js"]', `command is node api/dist/main.js (got ${JSON.stringify(config.Cmd)})`);
  check((config.Entrypoint ?? []).length === 0, `no entrypoint wraps the command (got ${JSON.stringify(config.Entrypoint)})`);
  const version = config.Env?.find((entry) => entry.startsWith('APP_VERSION='))?.slice('APP_VERSION='.length) ?? '';
  check(version === expectVersion, `APP_VERSION is ${expectVersion} (got "${version}")`);

  // Prints the path of each one still there; always exits 0.
  const packageManagers = (
    await docker('run', '--rm', '--entrypoint', 'sh', image, '-c', 'for c in npm npx corepack yarn; do command -v "$c"; done; true')
  ).replace(/\s+/g, ' ');
  check(packageManagers === '', `no package manager in the image${packageManagers === '' ? '' : ` (found ${packageManagers})`}`);

  container = await docker(
    'run', '--detach', '--init', '--read-only', '--tmpfs', '/tmp',
    '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--publish', '127.0.0.1::8000',
    '--env', `DATABASE_URL=${UNREACHABLE_DATABASE_URL}`,
    image,
  );
  const hostPort = (await docker('port', container, '8000/tcp')).split('\n')[0] ?? '';
  const baseUrl = `http://${hostPort}`;
  let health: { status?: string; version?: string } = {};
  await waitFor(
    async () => {
      const running = await docker('inspect', '--format', '{{.State.Running}}', container as string);
      if (running !== 'true') throw new CheckFailed('the container exited during start-up');
      const response = await fetch(`${baseUrl}/health`);
      if (!response.ok) return false;
      health = (await response.json()) as typeof health;
      return true;
    },
    { timeoutMs: START_TIMEOUT_MS, what: `GET ${baseUrl}/health from the container` },
  );
  check(health.status === 'ok', 'starts on a read-only root file system and answers GET /health');
  check(health.version === version, `/health reports the baked-in version ${version}`);

  const started = Date.now();
  await docker('stop', '--time', String(STOP_TIMEOUT_S), container);
  const exitCode = await docker('inspect', '--format', '{{.State.ExitCode}}', container);
  check(exitCode === '0', `stops on SIGTERM with exit code 0 in ${((Date.now() - started) / 1000).toFixed(1)} s (got ${exitCode})`);
  console.log(`image ${image} passed`);
} catch (error) {
  console.error(`FAIL  ${error instanceof Error ? error.message : String(error)}`);
  if (container !== undefined) {
    const logs = await exec('docker', ['logs', container]).then(
      ({ stdout, stderr }) => `${stdout}${stderr}`,
      () => '(no logs)',
    );
    console.error(`--- container logs ---\n${logs}`);
  }
  process.exitCode = 1;
} finally {
  if (container !== undefined) await exec('docker', ['rm', '--force', container]).catch(() => undefined);
}
