import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { copySteps, loadDockerfile, REPO_ROOT } from '../../test/static/lib/dockerfile.js';
import { buildContextFiles, buildInputsHash, hashFiles, listRepositoryFiles, migrationsHash } from '../build-inputs.js';

/** A throwaway git repository shaped like this one. */
function makeRepository(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'chapi-build-inputs-'));
  const write = (file: string, content: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  };
  write('.gitignore', 'node_modules/\n.env\n');
  write('.dockerignore', 'infra\nREADME.md\n**/*.test.ts\n');
  write('Dockerfile', 'FROM node:22-slim\n');
  write('package.json', '{}\n');
  write('api/src/main.ts', 'export {};\n');
  write('api/src/main.test.ts', 'it();\n');
  write('migrations/1_init.sql', 'create table t ();\n');
  write('infra/index.ts', 'export {};\n');
  write('README.md', '# repo\n');
  write('node_modules/x/index.js', 'module.exports = 1;\n');
  write('.env', 'SECRET=1\n');
  execFileSync('git', ['init', '-q'], { cwd: dir });
  execFileSync('git', ['add', '.gitignore', '.dockerignore', 'Dockerfile', 'package.json', 'api', 'migrations', 'infra'], { cwd: dir });
  // README.md stays untracked: git still lists it (untracked but not ignored).
  return dir;
}

describe('build inputs hash', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeRepository();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists what git sees: tracked and untracked files, never ignored ones', () => {
    const files = listRepositoryFiles(dir);
    expect(files).to.include.members(['Dockerfile', 'api/src/main.ts', 'README.md']);
    expect(files).not.to.include.members(['node_modules/x/index.js', '.env']);
  });

  it('keeps what .dockerignore lets into the build context, with Docker always sending the Dockerfile', () => {
    writeFileSync(path.join(dir, '.dockerignore'), 'infra\nREADME.md\n**/*.test.ts\nDockerfile\n');
    expect(buildContextFiles(dir)).to.deep.equal(['.dockerignore', '.gitignore', 'Dockerfile', 'api/src/main.ts', 'migrations/1_init.sql', 'package.json']);
  });

  it('changes when a build input changes, is added, or is renamed', () => {
    const before = buildInputsHash(dir);
    writeFileSync(path.join(dir, 'api/src/main.ts'), 'export const x = 1;\n');
    const edited = buildInputsHash(dir);
    expect(edited).not.to.equal(before);
    writeFileSync(path.join(dir, 'api/src/extra.ts'), 'export {};\n');
    const added = buildInputsHash(dir);
    expect(added).not.to.equal(edited);
    execFileSync('git', ['mv', 'migrations/1_init.sql', 'migrations/1_first.sql'], { cwd: dir });
    expect(buildInputsHash(dir)).not.to.equal(added);
  });

  it('does not change for files outside the build context, or for timestamps', () => {
    const before = buildInputsHash(dir);
    writeFileSync(path.join(dir, 'infra/index.ts'), 'export const changed = true;\n');
    writeFileSync(path.join(dir, 'README.md'), '# new docs\n');
    writeFileSync(path.join(dir, 'api/src/main.test.ts'), 'it("x");\n');
    writeFileSync(path.join(dir, 'node_modules/x/index.js'), 'module.exports = 2;\n');
    utimesSync(path.join(dir, 'api/src/main.ts'), new Date(0), new Date(0));
    expect(buildInputsHash(dir)).to.equal(before);
  });

  it('hashes the migrations on their own', () => {
    const before = migrationsHash(path.join(dir, 'migrations'));
    writeFileSync(path.join(dir, 'api/src/main.ts'), 'export const x = 2;\n');
    expect(migrationsHash(path.join(dir, 'migrations'))).to.equal(before);
    writeFileSync(path.join(dir, 'migrations/2_next.sql'), 'alter table t add column c int;\n');
    expect(migrationsHash(path.join(dir, 'migrations'))).not.to.equal(before);
  });

  it('does not depend on the order files are listed in', () => {
    expect(hashFiles(dir, ['Dockerfile', 'package.json'])).to.equal(hashFiles(dir, ['package.json', 'Dockerfile']));
    expect(hashFiles(dir, ['Dockerfile'])).to.match(/^[0-9a-f]{64}$/);
  });
});

describe("this repository's build context (the real Dockerfile and .dockerignore)", () => {
  let context: string[];
  let repository: string[];
  /** What the Dockerfile copies from the context (not from another stage). */
  let sources: string[];
  before(() => {
    context = buildContextFiles(REPO_ROOT);
    repository = listRepositoryFiles(REPO_ROOT);
    const copies = loadDockerfile()
      .stages.flatMap((stage) => copySteps(stage))
      .filter((copy) => copy.from === undefined);
    sources = [...new Set(copies.flatMap((copy) => copy.sources.map((source) => path.posix.normalize(source).replace(/\/+$/, ''))))];
  });
  const under = (source: string) => repository.filter((file) => file === source || file.startsWith(`${source}/`));

  it('holds every file under each COPY source, so the image tag changes whenever the image would', () => {
    expect(sources).to.include.members(['package.json', 'api/src', 'migrations']);
    for (const source of sources) {
      const files = under(source);
      expect(files, `files under ${source}`).to.have.length.above(0);
      for (const file of files) expect(context, `${file} (COPY ${source})`).to.include(file);
    }
  });

  it('holds nothing else but the Dockerfile and .dockerignore, so unrelated changes keep the tag', () => {
    const copied = new Set(sources.flatMap(under));
    expect(context.filter((file) => !copied.has(file))).to.have.members(['Dockerfile', '.dockerignore']);
  });
});
