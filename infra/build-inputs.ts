/**
 * Content hashes of what a deploy ships, computed when the program runs:
 * - the image's build inputs: every file of the Docker build context (the repository root) that
 *   git knows and `.dockerignore` lets through. The image is tagged with this hash, so a deploy
 *   whose build inputs did not change finds its image already in ECR and neither rolls the
 *   service nor reruns the migrations (a plain rebuild would: its layers carry new timestamps).
 * - the migrations: every file in `migrations/`, one of the migration run's triggers.
 *
 * Git lists the files (tracked plus untracked-not-ignored, as in a CI checkout) so that
 * `node_modules/` and build output are never walked; `.dockerignore` is applied with Docker's
 * own matching rules (@balena/dockerignore).
 */
import dockerignore from '@balena/dockerignore';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Files git sees under `dir` (relative, `/`-separated, sorted): tracked and untracked-but-not-ignored. */
export function listRepositoryFiles(dir: string): string[] {
  const output = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', '.'], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const files = output.split('\0').filter((file) => file !== '');
  // A file deleted in the working tree is still "cached": only hash what exists.
  return [...new Set(files)].filter((file) => existsSync(path.join(dir, file))).sort();
}

/**
 * SHA-256 over the (path, content hash) of each file, in sorted order: renaming, adding,
 * removing or editing any file changes it; timestamps and file order do not.
 */
export function hashFiles(dir: string, files: readonly string[]): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort()) {
    const content = createHash('sha256').update(readFileSync(path.join(dir, file))).digest('hex');
    hash.update(`${file}\0${content}\n`);
  }
  return hash.digest('hex');
}

/**
 * Which context-relative paths a `.dockerignore` lets into the build context, with Docker's
 * own rules (@balena/dockerignore): the last matching pattern decides, `!` re-includes, and a
 * pattern matching a parent directory covers what is inside it. The one matcher of the
 * repository: the image tag's hash below and the static checks of `.dockerignore`
 * (test/static/dockerfile.test.ts) both use it, so they cannot disagree.
 */
export function loadDockerignore(file: string): (relativePath: string) => boolean {
  // The package is CommonJS with a `default` alias of its factory (its own TypeScript fix).
  return dockerignore.default({ ignorecase: false }).add(readFileSync(file, 'utf8')).createFilter();
}

/** The files of a Docker build context at `contextDir` that its `.dockerignore` lets through. */
export function buildContextFiles(contextDir: string): string[] {
  const files = listRepositoryFiles(contextDir);
  const ignoreFile = path.join(contextDir, '.dockerignore');
  if (!existsSync(ignoreFile)) return files;
  const inContext = loadDockerignore(ignoreFile);
  // Docker always sends the Dockerfile and .dockerignore, whatever the ignore file says.
  return files.filter((file) => file === 'Dockerfile' || file === '.dockerignore' || inContext(file));
}

/** Content hash of the image's build inputs: the key its tag is derived from. */
export function buildInputsHash(contextDir: string): string {
  return hashFiles(contextDir, buildContextFiles(contextDir));
}

/** Content hash of the migration files: a change reruns the migration task. */
export function migrationsHash(migrationsDir: string): string {
  return hashFiles(migrationsDir, listRepositoryFiles(migrationsDir));
}
