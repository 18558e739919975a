import path from 'node:path';

/**
 * A path as a message should show it: relative to the working directory when it lies inside
 * it (`.data/pg`), absolute otherwise (`/tmp/x`, never `../../tmp/x`), so it can be pasted.
 */
export function displayPath(target: string, cwd = process.cwd()): string {
  const absolute = path.resolve(cwd, target);
  const relative = path.relative(cwd, absolute);
  if (relative === '') return '.';
  return relative.startsWith('..') || path.isAbsolute(relative) ? absolute : relative;
}
