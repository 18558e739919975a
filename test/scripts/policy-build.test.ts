/**
 * `npm run policy:build` as typed: it compiles the policy pack and says where the output went,
 * and that place is the one Pulumi loads (policy/package.json's `main`, under the tsconfig's
 * `outDir`: both read from the files, not copied here).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const readJson = <T>(file: string): T => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as T;

describe('npm run policy:build', function () {
  this.timeout(180_000);

  it('compiles the pack and names where it wrote it: the outDir Pulumi loads from', async () => {
    const child = spawn('npm', ['run', '--silent', 'policy:build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, output).to.equal(0);

    const said = /wrote (\d+) files to (\S+); Pulumi loads (\S+):/.exec(output);
    expect(said, output).not.to.equal(null);
    const [, count, outDir, main] = said as unknown as [string, string, string, string];
    const tsconfig = readJson<{ compilerOptions: { outDir: string } }>('policy/tsconfig.build.json');
    expect(path.resolve(ROOT, outDir)).to.equal(path.resolve(ROOT, 'policy', tsconfig.compilerOptions.outDir));
    expect(path.resolve(ROOT, main)).to.equal(path.resolve(ROOT, 'policy', readJson<{ main: string }>('policy/package.json').main));
    expect(Number(count)).to.be.greaterThan(0);
    expect(existsSync(path.resolve(ROOT, main)), main).to.equal(true);
  });
});
