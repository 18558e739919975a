import { spawn } from 'node:child_process';
import { expect } from 'chai';

/** Runs `scripts/test.ts` (what `npm test` runs) over fixture suites; returns exit code and output. */
async function runRunner(suites: Record<string, { config: string; spec: string[] }>): Promise<{ code: number | null; lines: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/test.ts'], {
    env: { ...process.env, CHAPI_TEST_SUITES: JSON.stringify(suites) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, lines: output.trim().split('\n') };
}

const fixture = (name: string): { config: string; spec: string[] } => ({
  config: 'test/fixtures/runner/.mocharc.json',
  spec: [`test/fixtures/runner/${name}.fixture.ts`],
});

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
});
