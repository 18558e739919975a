/**
 * `npm run policy:build`: compiles the CrossGuard policy pack (`policy/`) with its own
 * tsconfig, then says where the result went and how Pulumi uses it. Pulumi runs the compiled
 * pack (`policy/package.json`'s `main`), not the TypeScript (see policy/PulumiPolicy.yaml).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { displayPath } from './lib/display-path.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const POLICY_DIR = path.join(ROOT, 'policy');
const TSC = fileURLToPath(import.meta.resolve('typescript/bin/tsc'));

// --listEmittedFiles: tsc names each file it wrote ("TSFILE: <path>"), so the message below
// reports what happened rather than what the tsconfig meant to happen.
const build = spawnSync(process.execPath, [TSC, '-p', path.join(POLICY_DIR, 'tsconfig.build.json'), '--listEmittedFiles'], {
  encoding: 'utf8',
});
const written = build.stdout
  .split('\n')
  .filter((line) => line.startsWith('TSFILE: '))
  .map((line) => line.slice('TSFILE: '.length).trim());
process.stdout.write(build.stdout.split('\n').filter((line) => line !== '' && !line.startsWith('TSFILE: ')).map((line) => `${line}\n`).join(''));
process.stderr.write(build.stderr);
if (build.status !== 0) {
  console.error('policy:build: the policy pack did not compile (errors above)');
  process.exit(build.status ?? 1);
}
const main = path.join(POLICY_DIR, (JSON.parse(readFileSync(path.join(POLICY_DIR, 'package.json'), 'utf8')) as { main: string }).main);
const outDirs = [...new Set(written.map((file) => path.dirname(file)))].map((dir) => displayPath(dir));
console.log(`policy:build: wrote ${written.length} files to ${outDirs.join(', ')}; Pulumi loads ${displayPath(main)}:`);
console.log('  pulumi preview --stack prod --policy-pack policy');
