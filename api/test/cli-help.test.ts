/**
 * The CLIs' help as typed: `npm run keys -- help` / `--help`, `npm run migrate -- help`.
 * Each lists the exit codes that CLI can return, derived from its source: every `EXIT.<name>`
 * the CLI (and the shared code it runs) uses is in its table, and none that it cannot return.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { EXIT } from '../src/cli/exit-codes.js';
import { npmRun } from './helpers/run-cli.js';

/** Code shared by both CLIs: what it can exit with applies to each. */
const SHARED = ['api/src/cli/run.ts', 'api/src/cli/database-url.ts', 'api/src/cli/postgres-probe.ts'];
const read = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

/** The exit codes a CLI's sources name, outside its help text. */
function codesUsedBy(cli: 'keys' | 'migrate'): Set<number> {
  const own = read(`api/src/cli/${cli}.ts`).replace(/exitCodesHelp\(\[[\s\S]*?\]\)/, '');
  const names = [own, ...SHARED.map(read)].flatMap((source) => [...source.matchAll(/EXIT\.(\w+)/g)].map((match) => match[1] as keyof typeof EXIT));
  // `usageError(…)` is exit-codes.ts's way of saying `EXIT.usage`.
  const usage = own.includes('usageError(') ? [EXIT.usage] : [];
  return new Set([EXIT.ok, ...usage, ...names.map((name) => EXIT[name])]);
}

/** The codes listed under "Exit codes:" in a help text. */
function codesListed(help: string): Set<number> {
  const table = help.slice(help.indexOf('Exit codes:'));
  return new Set([...table.matchAll(/^ {2}(\d+) {2}/gm)].map((match) => Number(match[1])));
}

describe('CLI help (npm run keys|migrate -- help)', function () {
  this.timeout(120_000);

  for (const cli of ['keys', 'migrate'] as const) {
    it(`npm run ${cli} -- help prints the same help as --help, exit 0`, async () => {
      const [word, flag] = await Promise.all([npmRun(cli, ['help'], {}), npmRun(cli, ['--help'], {})]);
      expect(word.code, word.stderr).to.equal(0);
      expect(flag.code, flag.stderr).to.equal(0);
      expect(word.stdout).to.include(`Usage: npm run ${cli} -- <command>`);
      expect(word.stdout).to.equal(flag.stdout);
    });

    it(`npm run ${cli} -- --help lists exactly the exit codes ${cli} can return`, async () => {
      const { stdout } = await npmRun(cli, ['--help'], {});
      expect([...codesListed(stdout)].sort()).to.deep.equal([...codesUsedBy(cli)].sort());
    });
  }

  it('keys lists no migration failure; migrate lists no key refusals', async () => {
    const [keys, migrate] = await Promise.all([npmRun('keys', ['--help'], {}), npmRun('migrate', ['--help'], {})]);
    const keysTable = keys.stdout.slice(keys.stdout.indexOf('Exit codes:'));
    const migrateTable = migrate.stdout.slice(migrate.stdout.indexOf('Exit codes:'));
    expect(keysTable).not.to.match(/migration/i);
    expect(migrateTable).to.match(/a migration failed/);
    for (const code of [EXIT.badEnvironment, EXIT.notFound, EXIT.nameTaken, EXIT.managedKey]) {
      expect(codesListed(migrateTable).has(code), `migrate lists ${code}`).to.equal(false);
    }
  });
});
