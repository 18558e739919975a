import { readFileSync } from 'node:fs';

/**
 * The API package's own version, the fallback for `APP_VERSION` when running outside an
 * image. Read relative to this module so it works from `src/` (tsx) and `dist/` (compiled).
 */
export function readPackageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}
