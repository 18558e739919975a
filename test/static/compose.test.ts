/**
 * docker-compose.dev.yml, checked without Docker: valid against the Compose Specification's
 * JSON Schema, and wired the way the README promises (PostgreSQL 17 with a healthcheck and
 * a named volume, migrations applied before the API starts, the API's dev target with hot
 * reload on 8888).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { expect } from 'chai';
import { parse } from 'yaml';
import { EXIT } from '../../api/src/cli/exit-codes.js';
import { loadConfig } from '../../api/src/config.js';
import { REPO_ROOT, execForm, instructions, lineage, loadDockerfile, properties } from './lib/dockerfile.js';

interface Service {
  image?: string;
  build?: { context?: string; target?: string };
  command?: string[];
  init?: boolean;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[] };
}

interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.dev.yml');
const SCHEMA_FILE = path.join(REPO_ROOT, 'test', 'static', 'schemas', 'compose-spec.json');

/** `127.0.0.1:8888:8000` → { host: '127.0.0.1', published: 8888, target: 8000 }. */
function port(mapping: string): { host: string | undefined; published: number; target: number } {
  const parts = mapping.split(':');
  const target = Number(parts.at(-1));
  const published = Number(parts.at(-2));
  return { host: parts.length === 3 ? parts[0] : undefined, published, target };
}

/**
 * The repository paths a command names: every word (of every argument, so a `sh -c` script
 * counts too) that is a relative path with a directory, e.g. `api/src/cli/migrate.ts`.
 */
function pathsIn(command: string[]): string[] {
  return command.flatMap((argument) => argument.split(/\s+/)).filter((word) => /^[\w.-]+(\/[\w.-]+)+$/.test(word));
}

/** Addresses that accept connections on every interface, so a published port reaches them. */
const EVERY_INTERFACE = ['0.0.0.0', '::'];

describe('docker-compose.dev.yml', () => {
  let compose: ComposeFile;
  let raw: unknown;
  before(() => {
    raw = parse(readFileSync(COMPOSE_FILE, 'utf8')) as unknown;
    compose = raw as ComposeFile;
  });

  const service = (name: string): Service => {
    const found = compose.services[name];
    if (found === undefined) throw new Error(`no service "${name}"`);
    return found;
  };

  it('is valid against the Compose Specification schema', () => {
    // The schema names draft-07 by an https URI that ajv does not know: skip meta-validation.
    const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
    const valid = validate(raw);
    expect(valid, JSON.stringify(validate.errors, null, 2)).to.equal(true);
  });

  it('the schema check itself rejects a malformed service', () => {
    const ajv = new Ajv({ strict: false, validateSchema: false });
    const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
    expect(validate({ services: { api: { ports: 'not-a-list', depends_on: { db: { condition: 'sometime' } } } } })).to.equal(false);
  });

  it('runs PostgreSQL 17 pinned by tag on 5435, with a pg_isready healthcheck and a named volume', () => {
    const postgres = service('postgres');
    expect(postgres.image).to.match(/^postgres:17\.\d+$/);
    expect(postgres.ports?.map(port)).to.deep.equal([{ host: '127.0.0.1', published: 5435, target: 5432 }]);
    // Over TCP: the image's first boot answers on the socket before TCP.
    expect(postgres.healthcheck?.test?.slice(0, 4)).to.deep.equal(['CMD', 'pg_isready', '-h', '127.0.0.1']);
    const [volume, mountPoint] = (postgres.volumes?.[0] ?? '').split(':');
    expect(mountPoint).to.equal('/var/lib/postgresql/data');
    expect(compose.volumes ?? {}).to.have.property(volume as string);
  });

  it('applies the migrations once PostgreSQL is healthy, with the migrate command', () => {
    const migrate = service('migrate');
    // The same entry point as `npm run migrate`, told to apply: `up`.
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const [entryPoint] = pathsIn([pkg.scripts.migrate ?? '']);
    expect(entryPoint).to.be.a('string');
    const words = (migrate.command ?? []).flatMap((argument) => argument.split(/\s+/));
    expect(words).to.include(entryPoint).and.to.include('up');
    expect(migrate.depends_on).to.deep.equal({ postgres: { condition: 'service_healthy' } });
    expect(migrate.init).to.equal(true);
  });

  it('every path a command names exists in the repository (the image is a copy of it under WORKDIR)', () => {
    const dockerfile = loadDockerfile();
    let checked = 0;
    for (const [name, entry] of Object.entries(compose.services)) {
      // A service without a command runs its build target's CMD (its own, or the nearest base's).
      const target = entry.build?.target;
      const cmd = target === undefined ? undefined : lineage(dockerfile, target).map((stage) => instructions(stage, 'CMD').at(-1)).find(Boolean);
      const command = entry.command ?? (cmd === undefined ? [] : (execForm(cmd) ?? []));
      for (const file of pathsIn(command)) {
        expect(existsSync(path.join(REPO_ROOT, file)), `${name}: ${file}`).to.equal(true);
        checked += 1;
      }
    }
    expect(checked, 'paths checked').to.be.at.least(2);
  });

  it('the API listens on every interface of its container, on the port Compose publishes', () => {
    const api = service('api');
    // What the API would read: the dev image's ENV, overridden by Compose's environment.
    const imageEnv = Object.fromEntries(
      lineage(loadDockerfile(), api.build?.target ?? '')
        .reverse()
        .flatMap((stage) => properties(stage, 'ENV'))
        .map(({ name, value }) => [name, value ?? '']),
    );
    const config = loadConfig({ ...imageEnv, ...api.environment });
    // Bound to 127.0.0.1 the API would be reachable only from inside its own container.
    expect(EVERY_INTERFACE, `HOST ${config.host}`).to.include(config.host);
    expect(api.ports?.map(port).map((mapping) => mapping.target)).to.deep.equal([config.port]);
  });

  it('retries the migrations while the database does not answer (exit code unavailable), and only then', async () => {
    // The script as Compose hands it to sh ($$ is Compose's escape for $), run on a stand-in
    // command: unavailable once, then the given result.
    const script = (service('migrate').command?.[2] ?? '').replaceAll('$$', '$');
    const dir = await mkdtemp(path.join(tmpdir(), 'chapi-compose-'));
    try {
      const attempt = (then: number): { status: number | null; stdout: string } =>
        spawnSync('sh', ['-c', script, 'migrate', 'sh', '-c', `[ -e ${dir}/tried ] && exit ${then}; touch ${dir}/tried; exit ${EXIT.unavailable}`], { encoding: 'utf8' });
      const recovered = attempt(0);
      expect(recovered.status).to.equal(0);
      expect(recovered.stdout).to.include('retry 1');
      await rm(path.join(dir, 'tried'));
      expect(attempt(EXIT.failure).status, 'a failed migration is final').to.equal(EXIT.failure);
      expect(spawnSync('sh', ['-c', script, 'migrate', 'sh', '-c', `exit ${EXIT.config}`]).status, 'not retried').to.equal(EXIT.config);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('starts the API from the dev target on 8888 with hot reload, after the migrations succeeded', () => {
    const api = service('api');
    expect(api.build).to.deep.equal({ context: '.', target: 'dev' });
    expect(loadDockerfile().stages.map((stage) => stage.name)).to.include('dev');
    expect(api.ports?.map(port)).to.deep.equal([{ host: '127.0.0.1', published: 8888, target: 8000 }]);
    expect(api.init).to.equal(true);
    expect(api.depends_on).to.deep.equal({
      postgres: { condition: 'service_healthy' },
      migrate: { condition: 'service_completed_successfully' },
    });
    // The source is mounted (read-only) where the dev image keeps it: tsx watch sees edits.
    expect(api.volumes).to.include('./api/src:/app/api/src:ro');
    expect(api.environment?.NODE_ENV).to.equal('development');
    expect(api.environment?.PORT).to.equal('8000');
  });

  it('points the API and the migrations at the postgres service with its own credentials', () => {
    const env = service('postgres').environment ?? {};
    for (const name of ['api', 'migrate']) {
      const url = new URL(service(name).environment?.DATABASE_URL ?? '');
      expect(url.hostname, name).to.equal('postgres');
      expect(url.port, name).to.equal('5432');
      expect(decodeURIComponent(url.username), name).to.equal(env.POSTGRES_USER);
      expect(decodeURIComponent(url.password), name).to.equal(env.POSTGRES_PASSWORD);
      expect(url.pathname, name).to.equal(`/${env.POSTGRES_DB}`);
    }
  });
});
