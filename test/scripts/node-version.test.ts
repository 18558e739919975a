/**
 * One Node version, `.nvmrc`'s. Typed with another Node major (faked here: a preload sets
 * `process.versions.node`, since the machine may have no second Node), `npm test` and
 * `npm start` say so in one clear line and carry on; in CI (`CI=true`) `npm test` stops.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { projectNodeVersion } from '../../scripts/lib/node-version.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OTHER_NODE = '20.19.0';

async function npm(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const child = spawn('npm', args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, output };
}

describe('a Node other than .nvmrc\'s (npm test, npm start)', function () {
  this.timeout(120_000);
  let dir: string;
  let otherNode: NodeJS.ProcessEnv;
  const wanted = projectNodeVersion();
  const message = `Node ${OTHER_NODE} is running, but chapi is built and tested on Node ${wanted.split('.')[0]} (.nvmrc: ${wanted})`;

  before(async () => {
    expect(OTHER_NODE.split('.')[0]).not.to.equal(wanted.split('.')[0]);
    dir = await mkdtemp(path.join(tmpdir(), 'chapi-node-version-'));
    const preload = path.join(dir, 'other-node.mjs');
    await writeFile(preload, `Object.defineProperty(process.versions, 'node', { value: ${JSON.stringify(OTHER_NODE)} });\n`);
    otherNode = { NODE_OPTIONS: `--import=${preload}`, CI: '' };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('npm test warns in one line and goes on (here to its own usage error)', async () => {
    const run = await npm(['test', '--', 'no-such-suite'], otherNode);
    expect(run.output).to.include(`npm test: warning: ${message}`);
    expect(run.output).to.include('unknown suite: no-such-suite');
    expect(run.code).to.equal(2);
  });

  it('npm test in CI (CI=true) stops with the same line and a failed summary', async () => {
    const run = await npm(['test', '--', 'no-such-suite'], { ...otherNode, CI: 'true' });
    expect(run.code).to.equal(1);
    expect(run.output).to.include(`npm test: ${message}`);
    expect(run.output).to.match(/^0 passed, 1 failed$/m);
  });

  it('npm start warns in one line and goes on (here to a database that refuses)', async () => {
    const run = await npm(['start'], { ...otherNode, DATABASE_URL: 'postgres://chapi:x@127.0.0.1:1/chapi', PORT: '1' });
    expect(run.output).to.include(`[start] warning: ${message}`);
    expect(run.output).to.include('using DATABASE_URL');
    expect(run.code).to.equal(1);
  });

  it('says nothing on .nvmrc\'s Node', async () => {
    const run = await npm(['test', '--', 'no-such-suite'], { CI: 'true' });
    expect(run.output).not.to.include('is running, but chapi is built');
    expect(run.code).to.equal(2);
  });
});
