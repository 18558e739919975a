/**
 * `npm test`: every test in the repository, as separate mocha processes, then one line
 * `N passed, N failed` over all of them (what CI reads) and a non-zero exit on any failure.
 *
 * Separate processes because the Pulumi suite needs `pulumi.runtime.setMocks`, which is
 * process-global and must run before the program's modules load.
 *
 * Usage: `npm test` (all suites) or `npm test -- app` / `npm test -- infra` / `npm test -- bootstrap`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sweepStaleRuns } from '../test/support/stale-runs.js';
import { isCi, nodeVersionMismatch } from './lib/node-version.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MOCHA = path.join(path.dirname(fileURLToPath(import.meta.resolve('mocha/package.json'))), 'bin', 'mocha.js');
const REPORTER = path.join(ROOT, 'test', 'support', 'summary-reporter.cjs');

/**
 * Each suite is one mocha process: a config (how to run) and the files it runs. The files are
 * listed here, not in the config, so that `npx mocha --config <config> <file>` runs one file.
 */
interface Suite {
  config: string;
  spec: string[];
}

const DEFAULT_SUITES: Record<string, Suite> = {
  app: { config: '.mocharc.json', spec: ['api/test/**/*.test.ts', 'test/**/*.test.ts'] },
  // The Pulumi program under mocks, its helper scripts, and the CrossGuard policy pack.
  infra: { config: 'infra/.mocharc.json', spec: ['infra/test/**/*.test.ts', 'policy/test/**/*.test.ts'] },
  // The bootstrap project under its own mocks (another project: its own process), and the
  // deploy role's permissions against the prod plan.
  bootstrap: { config: 'infra/bootstrap/.mocharc.json', spec: ['infra/bootstrap/test/**/*.test.ts'] },
};
/** `CHAPI_TEST_SUITES` (JSON, name → suite) replaces the list: the runner's own tests use it. */
const SUITES: Record<string, Suite> =
  process.env.CHAPI_TEST_SUITES === undefined
    ? DEFAULT_SUITES
    : (JSON.parse(process.env.CHAPI_TEST_SUITES) as Record<string, Suite>);

interface Totals {
  passes: number;
  failures: number;
  pending: number;
}

async function runSuite(name: string, suite: Suite, summaryFile: string): Promise<number> {
  const child = spawn(process.execPath, [MOCHA, '--config', suite.config, '--reporter', REPORTER, ...suite.spec], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, CHAPI_TEST_SUMMARY_FILE: summaryFile, CHAPI_TEST_SUITE: name },
  });
  // Ctrl-C reaches the child through the terminal; forward a plain kill too.
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGTERM', forward);
  try {
    return await new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  } finally {
    process.off('SIGTERM', forward);
  }
}

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const wrongNode = nodeVersionMismatch();
  if (wrongNode !== undefined) {
    if (isCi()) {
      // CI must run what the image runs: a wrong Node there is a broken pipeline, not a warning.
      console.error(`npm test: ${wrongNode}`);
      console.log('0 passed, 1 failed');
      process.exit(1);
    }
    console.error(`npm test: warning: ${wrongNode} Some results may differ from CI's.`);
  }
  const unknown = requested.filter((name) => !(name in SUITES));
  if (unknown.length > 0) {
    console.error(`unknown suite: ${unknown.join(', ')} (suites: ${Object.keys(SUITES).join(', ')})`);
    process.exit(2);
  }
  const names = requested.length > 0 ? requested : Object.keys(SUITES);
  const workDir = await mkdtemp(path.join(tmpdir(), 'chapi-summary-'));
  const totals: Totals = { passes: 0, failures: 0, pending: 0 };
  let crashed = false;
  try {
    for (const name of names) {
      const summaryFile = path.join(workDir, `${name}.jsonl`);
      const code = await runSuite(name, SUITES[name] as Suite, summaryFile);
      // A suite that crashed could not stop its PostgreSQL: do it now.
      await sweepStaleRuns();
      const lines = existsSync(summaryFile) ? (await readFile(summaryFile, 'utf8')).trim().split('\n') : [];
      const summary = lines.length > 0 ? (JSON.parse(lines.at(-1) as string) as Totals) : undefined;
      if (summary === undefined) {
        // The process died before mocha reported: count it as a failure, never as a pass.
        console.error(`suite ${name} exited with code ${code} before reporting any result`);
        crashed = true;
        totals.failures += 1;
        continue;
      }
      totals.passes += summary.passes;
      totals.failures += summary.failures;
      totals.pending += summary.pending;
      if (code !== 0 && summary.failures === 0) crashed = true;
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  const skipped = totals.pending > 0 ? `, ${totals.pending} skipped` : '';
  console.log(`${totals.passes} passed, ${totals.failures} failed${skipped}`);
  process.exitCode = totals.failures > 0 || crashed ? 1 : 0;
}

await main();
