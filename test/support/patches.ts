/**
 * The dependency patches in `patches/` (patch-package's format: one unified diff per
 * package, named `<package>+<version>.patch`), read so that a test can check that a copy of
 * `node_modules` carries them: the checkout's (the root postinstall), the image's (its
 * Dockerfile steps).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../static/lib/dockerfile.js';

export const PATCHES_DIR = path.join(REPO_ROOT, 'patches');

/** Each patched file (relative to the project root) with the lines the patch adds to it. */
export function patchedLines(): Map<string, string[]> {
  const files = new Map<string, string[]>();
  for (const patch of readdirSync(PATCHES_DIR).filter((name) => name.endsWith('.patch'))) {
    let current: string[] | undefined;
    for (const line of readFileSync(path.join(PATCHES_DIR, patch), 'utf8').split('\n')) {
      const target = /^\+\+\+ b\/(.+)$/.exec(line);
      if (target !== null) {
        current = [];
        files.set(target[1] as string, current);
      } else if (current !== undefined && line.startsWith('+') && line.slice(1).trim() !== '') {
        current.push(line.slice(1));
      }
    }
  }
  return files;
}

/** Fails unless every file the patches touch, under `root`, holds every line they add. */
export function expectPatched(root: string): void {
  const files = patchedLines();
  expect(files.size, 'patched files').to.be.greaterThan(0);
  for (const [file, lines] of files) {
    const text = readFileSync(path.join(root, file), 'utf8');
    for (const line of lines) expect(text.includes(line), `${file} in ${root} lacks the patch line: ${line.trim()}`).to.equal(true);
  }
}
