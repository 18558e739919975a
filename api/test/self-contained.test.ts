/**
 * The API package keeps its own test helpers (issue 12): nothing under `api/test` imports a
 * file outside `api/`, so the package's tests run from the package alone, and the root's
 * harness (`test/`, `scripts/`) depends on the API, never the other way round.
 *
 * The files and their imports are read from the tree (TypeScript's own import scanner, which
 * sees static imports, re-exports and `import()`), never listed here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import ts from 'typescript';

const API_DIR = path.resolve(import.meta.dirname, '..');
const API_TEST_DIR = path.join(API_DIR, 'test');
const SOURCE_FILE = /\.(c|m)?[jt]s$/;

/** Every source file under `dir`, recursively. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => SOURCE_FILE.test(name))
    .map((name) => path.join(dir, name));
}

/** The relative imports of `text` (a file at `file`) that resolve outside the API package. */
function importsOutsideApi(file: string, text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.') || path.isAbsolute(specifier))
    .filter((specifier) => {
      const relative = path.relative(API_DIR, path.resolve(path.dirname(file), specifier));
      return relative.startsWith('..') || path.isAbsolute(relative);
    });
}

describe('api/test is self-contained', () => {
  const files = sourceFiles(API_TEST_DIR);

  it('scans the test files and their helpers', () => {
    const relative = files.map((file) => path.relative(API_TEST_DIR, file));
    expect(relative).to.include(path.basename(import.meta.filename));
    expect(relative.some((file) => file.startsWith(`helpers${path.sep}`)), 'a helper under api/test/helpers').to.equal(true);
  });

  it('flags an import that leaves the package, in any form, and passes one that stays', () => {
    const file = path.join(API_TEST_DIR, 'example.test.ts');
    const text = [
      "import { waitFor } from '../../scripts/lib/wait.js';",
      "export { useTestDatabase } from '../../test/support/databases.js';",
      "const later = await import('../../test/static/lib/dockerfile.js');",
      "import { loadConfig } from '../src/config.js';",
      "import { createSql } from '../../api/src/db.js';",
      "import { expect } from 'chai';",
    ].join('\n');
    expect(importsOutsideApi(file, text)).to.deep.equal([
      '../../scripts/lib/wait.js',
      '../../test/support/databases.js',
      '../../test/static/lib/dockerfile.js',
    ]);
  });

  it('imports nothing from outside api/ (test/, scripts/ or anywhere else in the repository)', () => {
    const outside = files.flatMap((file) =>
      importsOutsideApi(file, readFileSync(file, 'utf8')).map((specifier) => `${path.relative(API_DIR, file)} → ${specifier}`),
    );
    expect(outside).to.deep.equal([]);
  });
});
