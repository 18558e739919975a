/**
 * The image runs the CLIs compiled, without tsx: `node api/dist/cli/migrate.js up` (the
 * one-off migration task), `node api/dist/cli/keys.js …` and `node api/dist/cli/import.js …`, from `WORKDIR /app` holding
 * `api/dist`, `api/package.json`, `migrations/` and `node_modules`. This builds the API with
 * its build config into a temporary directory laid out the same way and runs them there.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { EXIT } from '../src/cli/exit-codes.js';
import { generateServiceKey } from '../src/keys/format.js';
import { createEmptyDatabase, type EmptyDatabase } from './helpers/empty-database.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = path.join(path.dirname(fileURLToPath(import.meta.resolve('typescript/package.json'))), 'bin', 'tsc');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('the compiled CLIs, laid out as in the image', function () {
  // A TypeScript build of the API: several seconds on a busy machine.
  this.timeout(180_000);
  let app: string;
  let db: EmptyDatabase;

  before(async () => {
    app = await mkdtemp(path.join(tmpdir(), 'chapi-image-'));
    await run(process.execPath, [TSC, '-p', path.join(ROOT, 'api', 'tsconfig.build.json'), '--outDir', path.join(app, 'api', 'dist')]);
    await cp(path.join(ROOT, 'api', 'package.json'), path.join(app, 'api', 'package.json'));
    await mkdir(path.join(app, 'migrations'));
    await cp(path.join(ROOT, 'migrations'), path.join(app, 'migrations'), { recursive: true });
    await symlink(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
    db = await createEmptyDatabase();
  });

  after(async () => {
    await db?.drop();
    if (app !== undefined) await rm(app, { recursive: true, force: true });
  });

  /** `node api/dist/cli/<cli>.js args` in the image's working directory, with only `env` for the CLI. */
  async function node(cli: string, args: string[], env: Record<string, string>): Promise<Result> {
    try {
      const { stdout, stderr } = await run(process.execPath, [`api/dist/cli/${cli}.js`, ...args], {
        cwd: app,
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  it('migrate.js up applies the image\'s migrations and syncs SERVICE_API_KEYS', async () => {
    const secret = JSON.stringify({ 'cat-house-prod': generateServiceKey('prod') });
    const result = await node('migrate', ['up'], { MIGRATION_DATABASE_URL: db.url, SERVICE_API_KEYS: secret });
    expect(result.code, result.stderr).to.equal(EXIT.ok);
    expect(result.stdout).to.include('Applied').and.to.include('1 added');
    const status = await node('migrate', ['status'], { DATABASE_URL: db.url });
    expect(status.stdout).to.include(`files in ${path.join(app, 'migrations')}`).and.to.include('0 pending.');
  });

  it('keys.js issues and lists keys', async () => {
    const created = await node('keys', ['create', 'image-check', '--env', 'prod'], { DATABASE_URL: db.url });
    expect(created.code, created.stderr).to.equal(EXIT.ok);
    expect(created.stdout).to.match(/sk_prod_[0-9a-f]{64}/);
    const listed = await node('keys', ['list'], { DATABASE_URL: db.url });
    expect(listed.stdout).to.match(/image-check\s+prod/);
  });

  it('import.js runs from the image: its help, and a refused command line', async () => {
    const help = await node('import', ['--help'], {});
    expect(help.code, help.stderr).to.equal(EXIT.ok);
    expect(help.stdout).to.include('--from <url>');
    expect((await node('import', [], { DATABASE_URL: db.url })).code).to.equal(EXIT.usage);
  });
});
