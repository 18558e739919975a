/**
 * The Dockerfile and .dockerignore, checked without a Docker engine: parsed with
 * dockerfile-ast and held to the image layout in COMMON decisions (stages, non-root, port,
 * pinned LTS base, version build arg, no secrets, production dependencies only).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { loadDockerignore } from '../../infra/build-inputs.js';
import { isCi } from '../../scripts/lib/node-version.js';
import { RUNTIME_ENV, RUNTIME_NODE_FLAGS, TASK_MEMORY_MIB } from '../../scripts/lib/runtime.js';
import {
  REPO_ROOT,
  copySteps,
  execForm,
  instructions,
  lineage,
  loadDockerfile,
  parseImageRef,
  properties,
  runCommands,
  type DockerfileModel,
} from '../../scripts/lib/dockerfile.js';

/** Node majors with long-term support that are not past end of life (22: to April 2027). */
const SUPPORTED_LTS_MAJORS = [22, 24];
/** Names that must never be baked into an image layer. */
const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE|API_KEY|DATABASE_URL|SERVICE_API_KEYS/i;
/** Values that look like a chapi key or a connection string with a password. */
const SECRET_VALUE = /sk_(dev|test|prod)_|:\/\/[^/\s:@]+:[^/\s@]+@/;

const read = (file: string): string => readFileSync(path.join(REPO_ROOT, file), 'utf8');

describe('Dockerfile', () => {
  let model: DockerfileModel;
  before(() => {
    model = loadDockerfile();
  });

  it('has the stages deps → build, prod-deps, dev and runtime, with runtime last (the default target)', () => {
    const names = model.stages.map((stage) => stage.name);
    expect(names).to.include.members(['deps', 'build', 'prod-deps', 'dev', 'runtime']);
    expect(names.at(-1)).to.equal('runtime');
    expect(lineage(model, 'build').map((stage) => stage.name)).to.include('deps');
    expect(lineage(model, 'dev').map((stage) => stage.name)).to.include('deps');
    // The runtime must not inherit the full dependency tree of deps/build.
    expect(lineage(model, 'runtime').map((stage) => stage.name)).not.to.include.members(['deps', 'build', 'dev']);
  });

  it('builds on the tests\' Node LTS, pinned by a full release tag, the same everywhere', () => {
    const nvmrc = read('.nvmrc').trim();
    expect(nvmrc).to.match(/^\d+\.\d+\.\d+$/);
    const ciRun = /^NODE_VERSION=(\S+)$/m.exec(read('.ci/run'))?.[1];
    expect(ciRun, '.ci/run NODE_VERSION').to.equal(nvmrc);
    const nvmrcMajor = Number(nvmrc.split('.')[0]);
    expect(SUPPORTED_LTS_MAJORS).to.include(nvmrcMajor);
    // In CI the tests must run on the image's Node; elsewhere `npm test` warns instead (scripts/lib/node-version.ts).
    if (isCi()) expect(Number(process.versions.node.split('.')[0]), 'the Node running these tests in CI').to.equal(nvmrcMajor);

    const images = model.stages.filter((stage) => !stage.baseIsStage);
    expect(images).to.have.length.greaterThan(0);
    for (const stage of images) {
      const base = parseImageRef(stage.base);
      expect(base.name, `stage ${stage.name}`).to.equal('node');
      const tag = base.tag ?? '';
      // e.g. 22.23.3-trixie-slim: the exact release, never `latest`, `lts` or a bare major.
      const match = /^(\d+\.\d+\.\d+)-[a-z]+(-slim)?$/.exec(tag);
      expect(match, `stage ${stage.name} tag "${tag}"`).to.not.equal(null);
      expect(match?.[1], `stage ${stage.name}: the image's Node is .nvmrc's`).to.equal(nvmrc);
    }
  });

  it('pins the base image by digest in the NODE_IMAGE build argument, the one Dependabot updates', () => {
    // A build argument, so .ci/image can substitute a local stand-in (it reads this line).
    const nodeImage = model.globalArgs.find((arg) => arg.name === 'NODE_IMAGE')?.value ?? '';
    expect(read('Dockerfile').split('\n')).to.include(`ARG NODE_IMAGE=${nodeImage}`);
    expect(parseImageRef(nodeImage).digest, nodeImage).to.match(/^sha256:[0-9a-f]{64}$/);
    for (const stage of model.stages.filter((each) => !each.baseIsStage)) expect(stage.from.getImage(), stage.name).to.equal('${NODE_IMAGE}');
    // Dependabot cannot read an ARG in FROM (dependabot/dependabot-core#2057): it updates this
    // copy, and this test fails its pull request until the Dockerfile (and .nvmrc) follow.
    const mirror = loadDockerfile(path.join(REPO_ROOT, '.github', 'base-image', 'Dockerfile'));
    expect(mirror.stages.map((stage) => stage.base), '.github/base-image/Dockerfile').to.deep.equal([nodeImage]);
  });

  it('runs the runtime and dev stages as the non-root user node', () => {
    for (const name of ['runtime', 'dev']) {
      const users = instructions(model.stage(name), 'USER').map((user) => user.getArgumentsContent());
      expect(users.at(-1), `stage ${name}`).to.equal('node');
      // USER must come before the command it is meant to cover.
      const keywords = model.stage(name).instructions.map((instruction) => instruction.getKeyword());
      expect(keywords.lastIndexOf('USER'), `stage ${name}`).to.be.lessThan(keywords.lastIndexOf('CMD'));
    }
  });

  it('exposes port 8000 and starts node api/dist/main.js in exec form (signals reach node), as the benchmark runs it', () => {
    const runtime = model.stage('runtime');
    expect(instructions(runtime, 'EXPOSE').map((expose) => expose.getArgumentsContent())).to.deep.equal(['8000']);
    // The node image's docker-entrypoint.sh is reset, so the CMD itself is the process.
    expect(instructions(runtime, 'ENTRYPOINT').map(execForm)).to.deep.equal([[]]);
    const cmds = instructions(runtime, 'CMD');
    expect(cmds).to.have.length(1);
    // The flags and environment the benchmark measured (scripts/lib/runtime.ts).
    expect(cmds.map(execForm)).to.deep.equal([['node', ...RUNTIME_NODE_FLAGS, 'api/dist/main.js']]);
    expect(properties(runtime, 'ENV')).to.deep.include({ name: 'NODE_ENV', value: 'production' });
    for (const [name, value] of Object.entries(RUNTIME_ENV)) expect(properties(runtime, 'ENV')).to.deep.include({ name, value });
  });

  it('declares /tmp, world-writable, as a VOLUME: Fargate then mounts a copy of it, not a root-only 0755 folder', () => {
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html
    const runtime = model.stage('runtime');
    const keywords = runtime.instructions.map((instruction) => instruction.getKeyword());
    expect(instructions(runtime, 'VOLUME').map((volume) => volume.getArgumentsContent())).to.deep.equal(['/tmp']);
    const chmodAt = runtime.instructions.findIndex((instruction) => instruction.getKeyword() === 'RUN' && /\bchmod 1777 \/tmp\b/.test(instruction.getRawArgumentsContent() ?? ''));
    expect(chmodAt, 'RUN … chmod 1777 /tmp').to.be.greaterThan(-1);
    // Changes to a declared volume's path after the VOLUME line are discarded by the build.
    expect(keywords.indexOf('VOLUME')).to.be.greaterThan(chmodAt);
  });

  it("caps V8's old generation well inside the task's memory, the prod stack's chapi:memory", () => {
    const stack = parseYaml(read('Pulumi.prod.yaml')) as { config: Record<string, string> };
    const memory = /^(\d+(?:\.\d+)?)\s*(MB|GB)$/i.exec(stack.config['chapi:memory'] ?? '512 MB');
    expect(memory, 'chapi:memory in MB or GB').to.not.equal(null);
    const taskMib = Number(memory?.[1]) * (memory?.[2]?.toUpperCase() === 'GB' ? 1024 : 1);
    expect(TASK_MEMORY_MIB, 'runtime.ts is sized for the stack').to.equal(taskMib);
    const flag = RUNTIME_NODE_FLAGS.find((value) => value.startsWith('--max-old-space-size='));
    expect(flag, '--max-old-space-size is set').to.be.a('string');
    const oldSpaceMib = Number(flag?.split('=')[1]);
    expect(oldSpaceMib).to.be.above(0).and.at.most(taskMib / 2);
    // And the image runs with it (the CMD test above holds the whole list to the Dockerfile).
    expect(execForm(instructions(model.stage('runtime'), 'CMD')[0] as never)).to.include(flag);
  });

  it('bakes the APP_VERSION build argument into the environment, where /health reads it', () => {
    const runtime = model.stage('runtime');
    expect(properties(runtime, 'ARG')).to.deep.include({ name: 'APP_VERSION', value: null });
    const env = properties(runtime, 'ENV').find((property) => property.name === 'APP_VERSION');
    expect(env?.value).to.match(/^\$\{?APP_VERSION\}?$/);
  });

  it('holds only the compiled API, its manifest, the migrations and production dependencies', () => {
    const copies = copySteps(model.stage('runtime'));
    const layout = copies.map((copy) => `${copy.from ?? 'context'}:${copy.sources.join(',')}→${copy.destination}`);
    expect(layout).to.have.members([
      'prod-deps:/app/node_modules→node_modules',
      // api/package.json and any nested api/node_modules: production dependencies too.
      'prod-deps:/app/api→api',
      'build:/app/api/dist→api/dist',
      'context:migrations→migrations',
    ]);
  });

  it('installs from the lockfile with npm ci, install scripts off, and only production deps for the runtime', () => {
    const installs = model.stages.flatMap(runCommands).filter((command) => /\bnpm (ci|install|i)\b/.test(command));
    expect(installs).to.have.length.greaterThan(0);
    for (const command of installs) {
      expect(command).to.match(/^npm ci\b/);
      expect(command).to.include('--ignore-scripts');
    }
    const prod = runCommands(model.stage('prod-deps'));
    expect(prod).to.have.length(1);
    expect(prod[0]).to.include('--omit=dev').and.to.match(/--workspace[= ]api\b/).and.to.include('--include-workspace-root=false');
    expect(runCommands(model.stage('build'))).to.include('npm run build -w api');
  });

  it('gives the dev target a hot-reloading API on port 8000', () => {
    const dev = model.stage('dev');
    expect(instructions(dev, 'EXPOSE').map((expose) => expose.getArgumentsContent())).to.deep.equal(['8000']);
    expect(instructions(dev, 'CMD').map(execForm)).to.deep.equal([
      ['node_modules/.bin/tsx', 'watch', '--clear-screen=false', 'api/src/main.ts'],
    ]);
  });

  it('puts no secret into an ENV or ARG and fetches nothing with ADD', () => {
    for (const stage of model.stages) {
      for (const keyword of ['ENV', 'ARG'] as const) {
        for (const { name, value } of properties(stage, keyword)) {
          expect(name, `${keyword} in stage ${stage.name}`).not.to.match(SECRET_NAME);
          expect(value ?? '', `${keyword} ${name} in stage ${stage.name}`).not.to.match(SECRET_VALUE);
        }
      }
      expect(instructions(stage, 'ADD'), `stage ${stage.name}`).to.have.length(0);
    }
  });
});

describe('.dockerignore', () => {
  let inContext: (relativePath: string) => boolean;
  before(() => {
    inContext = loadDockerignore(path.join(REPO_ROOT, '.dockerignore'));
  });

  it('lets in every file the Dockerfile copies from the context', () => {
    const model = loadDockerfile();
    const sources = model.stages.flatMap((stage) =>
      copySteps(stage)
        .filter((copy) => copy.from === undefined)
        .flatMap((copy) => copy.sources),
    );
    expect(sources).to.include.members(['package.json', 'package-lock.json', 'api/src', 'migrations']);
    for (const source of sources) expect(inContext(source), source).to.equal(true);
    // Files inside the copied folders come along too.
    expect(inContext('api/src/main.ts')).to.equal(true);
    expect(inContext('migrations/1764000000000_service-api-keys.sql')).to.equal(true);
  });

  it('keeps node_modules, data folders, tests, .git, secrets and the rest of the repo out', () => {
    for (const excluded of [
      'node_modules/koa/package.json',
      'api/node_modules/x',
      'api/dist/main.js',
      '.data/pg/PG_VERSION',
      '.bench/result.json',
      'api/test/helpers/api.ts',
      'api/test/health.test.ts',
      '.git/HEAD',
      '.env',
      '.env.production',
      'infra/index.ts',
      '.github/workflows/ci.yml',
      'README.md',
      'Dockerfile',
      'docker-compose.dev.yml',
    ]) {
      expect(inContext(excluded), excluded).to.equal(false);
    }
  });
});
