/**
 * The project's one Node version is `.nvmrc` (CI, the image and `.ci/run` use it; nvm, fnm,
 * volta and asdf read it). On another major most things still work, but not everything
 * (`@pulumi/pulumi` wants 22, the image's checks compare against it): outside CI a
 * different major is a clear warning from `npm start` and `npm test`; in CI it is an error.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const NVMRC = fileURLToPath(new URL('../../.nvmrc', import.meta.url));

/** The release `.nvmrc` names, e.g. `22.23.3`. */
export function projectNodeVersion(): string {
  return readFileSync(NVMRC, 'utf8').trim().replace(/^v/, '');
}

/** True where CI runs (GitHub Actions and `.ci/run` set `CI=true`). */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
}

/** One line when the running Node's major is not `.nvmrc`'s; undefined when it is. */
export function nodeVersionMismatch(running: string = process.versions.node): string | undefined {
  const wanted = projectNodeVersion();
  const [wantedMajor] = wanted.split('.');
  const [runningMajor] = running.split('.');
  if (wantedMajor === runningMajor) return undefined;
  return (
    `Node ${running} is running, but chapi is built and tested on Node ${wantedMajor} (.nvmrc: ${wanted}). ` +
    `Switch with "nvm use" (fnm, volta and asdf read .nvmrc too).`
  );
}
