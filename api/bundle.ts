/**
 * Bundles the server (`src/main.ts` and everything it imports) into one file, `dist/main.js`,
 * after `tsc` has compiled `src/` to `dist/` (the CLIs run from there). Run by `npm run build`.
 *
 * Why: Node spent a third of its start-up resolving, reading and compiling some 300 small
 * modules; one file starts in less time and holds less memory (docs/performance.md).
 * Identifiers are kept (stack traces in the logs stay readable) and a source map is written
 * beside it: `NODE_OPTIONS=--enable-source-maps` maps traces back to `src/` when debugging.
 *
 * iconv-lite (raw-body's charset decoder) stays outside: bundled, its 500 KB of code tables
 * would be parsed at every start, where `require` loads only the UTF-8 codec the API uses.
 */
import { realpathSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

/**
 * How a server is bundled: the API here, and the benchmark's reference servers
 * (`scripts/bench/run.ts`), so that the bench compares servers built the same way.
 */
export const SERVER_BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minifyWhitespace: true,
  minifySyntax: true,
  // The API's own compiler settings (esbuild would otherwise look for a tsconfig.json, which
  // the image's build stage does not have).
  tsconfig: new URL('tsconfig.build.json', import.meta.url).pathname,
  sourcemap: 'linked',
  // Names and lines only: the TypeScript sources stay out of the image.
  sourcesContent: false,
  external: ['iconv-lite'],
  // The CommonJS packages in the bundle (koa, ajv, pino…) call require() for Node's modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
};

/**
 * Whether this file is the script being run (`tsx bundle.ts`), not a module imported for its
 * options. Real paths on both sides: a symlink on the way must not make the build a silent
 * no-op that leaves an old `dist/` in place.
 */
function runAsScript(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (runAsScript()) {
  await build({
    ...SERVER_BUNDLE_OPTIONS,
    entryPoints: [new URL('src/main.ts', import.meta.url).pathname],
    outfile: new URL('dist/main.js', import.meta.url).pathname,
  });

  // ReDoc's browser bundle beside the server, which serves it at /redoc (`src/docs.ts`): `redoc`
  // is a build-time package, so its React tree stays out of the image's node_modules.
  await copyFile(
    createRequire(import.meta.url).resolve('redoc/bundles/redoc.standalone.js'),
    new URL('dist/redoc.standalone.js', import.meta.url).pathname,
  );
}
