import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { TEST_ENV } from '../../api/test/helpers/test-env.js';

/** Runs `scripts/test.ts` (what `npm test` runs) over fixture suites; returns exit code and output. */
async function runRunner(suites: Record<string, { config: string; spec: string[] }>): Promise<{ code: number | null; lines: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/test.ts'], {
    // The app config's global setup reuses this run's PostgreSQL rather than starting another.
    env: { ...process.env, CHAPI_TEST_SUITES: JSON.stringify(suites), TEST_DATABASE_URL: process.env[TEST_ENV.adminUrl] },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, lines: output.trim().split('\n') };
}

const fixture = (name: string, config = 'test/fixtures/runner/.mocharc.json'): { config: string; spec: string[] } => ({
  config,
  spec: [`test/fixtures/runner/${name}.fixture.ts`],
});

/** The configs `npm test` runs its suites with (scripts/test.ts): the app's and the infra's. */
const REAL_CONFIGS = ['.mocharc.json', 'infra/.mocharc.json'];

describe('the test runner (npm test)', () => {
  it('adds up several suites into one summary line and exits 0 when all pass', async () => {
    const { code, lines } = await runRunner({ one: fixture('passing'), two: fixture('passing') });
    expect(lines.at(-1)).to.equal('2 passed, 0 failed');
    expect(code).to.equal(0);
  });

  it('exits non-zero when a test fails, and says so on the last line', async () => {
    const { code, lines } = await runRunner({ ok: fixture('passing'), bad: fixture('failing') });
    expect(lines.at(-1)).to.equal('1 passed, 1 failed');
    expect(code).to.equal(1);
  });

  it('counts a suite that dies before reporting as a failure, never as a pass', async () => {
    const { code, lines } = await runRunner({ ok: fixture('passing'), dead: fixture('crashing') });
    expect(lines.at(-1)).to.equal('1 passed, 1 failed');
    expect(code).to.equal(1);
  });

  for (const config of REAL_CONFIGS) {
    describe(`under ${config}`, () => {
      it('fails the run when a committed it.only hides a failing test', async () => {
        const { code, lines } = await runRunner({ only: fixture('only', config) });
        expect(lines.join('\n')).to.include('`.only` forbidden');
        expect(lines.at(-1)).to.equal('0 passed, 1 failed');
        expect(code).to.equal(1);
      });

      it('fails the run on a skipped test, one that skips itself, and one without a body', async () => {
        const { code, lines } = await runRunner({ pending: fixture('pending', config) });
        expect(lines.at(-1)).to.equal('1 passed, 3 failed');
        expect(code).to.equal(1);
      });
    });
  }
});
