/**
 * The README's API examples, run as a reader pastes them: the two `sh` blocks of its "API"
 * section, read from README.md at test time, run by bash against `npm start` (started the way
 * the README says, with its admin key), from a folder whose `.data` is that start's. Only the
 * address changes (the test's free port for 8888). Every curl must get a 2xx, every captured
 * id must be filled in, and the task created with the example's due date must not be overdue.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { freePort } from '../../scripts/lib/embedded-postgres.js';
import { waitFor } from '../../api/test/helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The README's "## API" section. */
async function apiSection(): Promise<string> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## API\n');
  expect(start, 'README has an "## API" section').to.be.greaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** The ```sh blocks of a Markdown text, in order. */
function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);
}

describe('README API examples, pasted into bash against npm start', function () {
  this.timeout(240_000);
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'chapi-readme-examples-'));
    // As root the embedded server runs as `postgres`, which must be able to enter it.
    await chmod(work, 0o755);
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('every example runs as pasted: no placeholders, ids captured, every answer 2xx', async () => {
    const section = await apiSection();
    const blocks = shellBlocks(section);
    expect(blocks, 'the key block and the examples block').to.have.length(2);
    const script = blocks.join('\n');
    // What a paste cannot survive: a command most machines lack, <placeholders> the shell reads
    // as redirections.
    expect(script).not.to.match(/uuidgen|<[a-z_]+>/);

    // Started the way the README says, on a free port instead of 8888.
    const adminKey = /`ADMIN_API_KEY=(\S+) npm start`/.exec(section)?.[1];
    expect(adminKey, 'the README says how to start with an admin key').to.be.a('string');
    const port = await freePort();
    const api = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: '', CHAPI_DATA_DIR: path.join(work, '.data'), PORT: String(port), EMBEDDED_PG_PORT: String(await freePort()), ADMIN_API_KEY: adminKey },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let apiOutput = '';
    api.stdout.on('data', (chunk: Buffer) => (apiOutput += chunk.toString()));
    api.stderr.on('data', (chunk: Buffer) => (apiOutput += chunk.toString()));
    const apiEnded = new Promise<void>((resolve) => api.once('close', () => resolve()));
    try {
      await waitFor(() => apiOutput.includes('chapi is running') || api.exitCode !== null, { timeoutMs: 120_000, what: 'npm start' });
      expect(apiOutput).to.include('chapi is running');

      // Each curl also reports its status on stderr (curl's -w %{stderr}); the body stays on stdout.
      const statusReporting = `curl() { command curl -w '%{stderr}HTTP %{http_code} %{url_effective}\\n' "$@"; }\n`;
      expect(script).to.include('API=http://localhost:8888');
      const pasted = script.replace('API=http://localhost:8888', `API=http://127.0.0.1:${port}`);
      const bash = spawn('bash', ['-u', '-c', statusReporting + pasted], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      bash.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      bash.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => bash.once('close', resolve));
      expect(code, stderr).to.equal(0);

      const statuses = [...stderr.matchAll(/^HTTP (\d{3}) (\S+)$/gm)].map((match) => ({ status: Number(match[1]), url: match[2] as string }));
      // One status per curl in the block: none was skipped.
      expect(statuses).to.have.length((script.match(/\bcurl -s/g) ?? []).length);
      for (const { status, url } of statuses) expect(status, `${url}\n${stderr}`).to.be.within(200, 299);
      // Captured ids reached the URLs that use them (an empty one would have been a 404 or a 405).
      expect(statuses.some(({ url }) => /\/tasks\/[0-9a-f-]{36}$/.test(url))).to.equal(true);
      // The retried create answered the same task; the stats saw nothing overdue (the due date is ahead).
      const taskIds = [...stdout.matchAll(/"title":"Buy litter"[^}]*?"id":"([0-9a-f-]{36})"|"id":"([0-9a-f-]{36})"[^}]*?"title":"Buy litter"/g)].map((match) => match[1] ?? match[2]);
      expect(new Set(taskIds).size, stdout).to.equal(1);
      const overdue = [...stdout.matchAll(/"overdue_tasks":(\d+)/g)].map((match) => Number(match[1]));
      expect(overdue, 'one count per stats example').to.have.length(2);
      expect(overdue, 'the example due date is in the past').to.deep.equal([0, 0]);
    } finally {
      if (api.pid !== undefined && api.exitCode === null) process.kill(-api.pid, 'SIGINT');
      await apiEnded;
    }
  });
});
