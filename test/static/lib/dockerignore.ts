/**
 * Which paths `.dockerignore` lets into the build context, with Docker's rules: patterns are
 * tried in order and the last one that matches the path or one of its parent directories
 * decides; `!` re-includes (even inside an excluded directory, unlike .gitignore).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { minimatch } from 'minimatch';

interface Pattern {
  glob: string;
  include: boolean;
}

function parse(text: string): Pattern[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      // Docker cleans each pattern like a path: no leading "/", "./" or trailing "/".
      const glob = path.posix.normalize(include ? line.slice(1).trim() : line).replace(/^\/+|\/+$/g, '').replace(/^\.\//, '');
      return { glob, include };
    });
}

/** `relativePath` and every directory above it, e.g. a/b/c → a, a/b, a/b/c. */
function selfAndParents(relativePath: string): string[] {
  const parts = relativePath.split('/');
  return parts.map((_, index) => parts.slice(0, index + 1).join('/'));
}

/** A predicate: is this repository-relative path in the build context? */
export function loadDockerignore(file: string): (relativePath: string) => boolean {
  const patterns = parse(readFileSync(file, 'utf8'));
  return (relativePath) => {
    let included = true;
    const candidates = selfAndParents(path.posix.normalize(relativePath));
    for (const pattern of patterns) {
      if (candidates.some((candidate) => minimatch(candidate, pattern.glob, { dot: true }))) included = pattern.include;
    }
    return included;
  };
}
