import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { COMMENT_MARKER, MAX_DIFF_CHARS, renderPlanDiff } from '../../scripts/lib/plan-diff.js';

const git = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/plan-diff.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface Recorded {
  method: string;
  url: string;
  body: { body?: string } | undefined;
  authorization: string | undefined;
}

/** A stand-in for the GitHub REST API: serves `comments`, records every call. */
class FakeGitHub {
  requests: Recorded[] = [];
  comments: { id: number; body: string }[] = [];
  writeStatus = 201;
  private server: Server = createServer((request, response) => void this.handle(request, response));
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of request) raw += String(chunk);
    this.requests.push({
      method: request.method ?? '',
      url: request.url ?? '',
      body: raw === '' ? undefined : (JSON.parse(raw) as Recorded['body']),
      authorization: request.headers.authorization,
    });
    if (request.method === 'GET') {
      response.setHeader('Content-Type', 'application/json');
      response.end(JSON.stringify(this.comments));
      return;
    }
    response.statusCode = request.method === 'PATCH' && this.writeStatus === 201 ? 200 : this.writeStatus;
    response.end(JSON.stringify({ id: 99 }));
  }
}

async function runPlanDiff(cwd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', TSX, SCRIPT, ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

describe('npm run plan:diff (scripts/plan-diff.ts)', function () {
  this.timeout(60_000);
  let repo: string;
  let base: string;
  let github: FakeGitHub;

  const commit = async (plan: object, message: string): Promise<string> => {
    await writeFile(path.join(repo, 'infra', 'plan.prod.json'), `${JSON.stringify(plan, null, 2)}\n`);
    await git('git', ['add', '-A'], { cwd: repo });
    await git('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', message], { cwd: repo });
    return (await git('git', ['rev-parse', 'HEAD'], { cwd: repo })).stdout.trim();
  };

  before(async () => {
    repo = await mkdtemp(path.join(tmpdir(), 'chapi-plan-diff-'));
    await git('git', ['init', '-q', '-b', 'main'], { cwd: repo });
    await mkdir(path.join(repo, 'infra'));
    base = await commit({ 'aws:ecs/service:Service': { desiredCount: 2 } }, 'base');
  });
  beforeEach(async () => {
    github = new FakeGitHub();
    await github.start();
  });
  afterEach(async () => {
    await github.stop();
  });
  after(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  const commentEnv = (): Record<string, string> => ({
    GITHUB_TOKEN: 'test-token',
    GITHUB_REPOSITORY: 'cathouse/chapi',
    PR_NUMBER: '7',
    GITHUB_API_URL: github.url,
  });

  it('says so, and opens no comment, when the branch leaves the plan unchanged', async () => {
    const run = await runPlanDiff(repo, ['--base', base, '--comment'], commentEnv());
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.include('offline plan unchanged');
    expect(github.requests.map((request) => request.method)).to.deep.equal(['GET']);
    expect(run.output).to.include('skipped: plan unchanged');
  });

  describe('when the branch changes the plan', () => {
    before(async () => {
      await commit({ 'aws:ecs/service:Service': { desiredCount: 3 } }, 'scale out');
    });

    it('prints the diff, writes the step summary and opens one marked comment', async () => {
      const summaryFile = path.join(repo, '..', `summary-${path.basename(repo)}.md`);
      const run = await runPlanDiff(repo, ['--base', base, '--comment'], { ...commentEnv(), GITHUB_STEP_SUMMARY: summaryFile });
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.include('offline plan changed').and.to.include('-    "desiredCount": 2').and.to.include('+    "desiredCount": 3');
      const post = github.requests.find((request) => request.method === 'POST');
      expect(post?.url).to.equal('/repos/cathouse/chapi/issues/7/comments');
      expect(github.requests.every((request) => request.authorization === 'Bearer test-token')).to.equal(true);
      expect(post?.body?.body).to.include(COMMENT_MARKER).and.to.include('+    "desiredCount": 3');
      expect(await readFile(summaryFile, 'utf8')).to.include('+    "desiredCount": 3');
      await rm(summaryFile, { force: true });
    });

    it('edits its earlier comment instead of adding another', async () => {
      github.comments = [
        { id: 1, body: 'someone else' },
        { id: 42, body: `${COMMENT_MARKER}\nold diff` },
      ];
      const run = await runPlanDiff(repo, ['--base', base, '--comment'], commentEnv());
      expect(run.code, run.output).to.equal(0);
      expect(github.requests.map((request) => `${request.method} ${request.url}`)).to.deep.equal([
        'GET /repos/cathouse/chapi/issues/7/comments?per_page=100&page=1',
        'PATCH /repos/cathouse/chapi/issues/comments/42',
      ]);
      expect(run.output).to.include('comment updated');
    });

    it('warns and succeeds when the token may not comment (a fork\'s pull request)', async () => {
      github.writeStatus = 403;
      const run = await runPlanDiff(repo, ['--base', base, '--comment'], commentEnv());
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.include('skipped: the token may not comment');
    });

    it('takes any git revision as the base: a branch name, HEAD~N, a short SHA', async () => {
      // The branch under review is HEAD; `main` here is where it started (see `before`).
      await git('git', ['branch', '-f', 'base-branch', base], { cwd: repo });
      for (const revision of ['base-branch', 'HEAD~1', base.slice(0, 8)]) {
        const run = await runPlanDiff(repo, ['--base', revision], {});
        expect(run.code, `${revision}: ${run.output}`).to.equal(0);
        expect(run.output, revision).to.include(`offline plan changed since ${base.slice(0, 12)}`);
      }
    });

    it('fails with exit 2 and one line when the base names no commit here', async () => {
      for (const revision of ['main;rm', '0123456789abcdef0123456789abcdef01234567', '--output=/tmp/x', 'HEAD~99']) {
        const run = await runPlanDiff(repo, [`--base=${revision}`], {});
        expect(run.code, `${revision}: ${run.output}`).to.equal(2);
        expect(run.output, revision).to.match(/is not a commit here|must name a git revision/);
      }
    });
  });

  describe('as typed in the repository', () => {
    const ROOT = fileURLToPath(new URL('../../', import.meta.url));
    const npmPlanDiff = async (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => {
      const child = spawn('npm', ['run', '--silent', 'plan:diff', '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      return { code, stdout, stderr };
    };

    it('npm run plan:diff -- --help prints the usage, exit 0', async () => {
      const run = await npmPlanDiff(['--help']);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include('Usage: npm run plan:diff -- --base <revision>').and.to.include('HEAD~3');
      expect(run.stderr).to.equal('');
    });

    it('npm run plan:diff -- --base HEAD compares with a symbolic revision (nothing changed since itself)', async () => {
      const run = await npmPlanDiff(['--base', 'HEAD']);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include('offline plan unchanged since');
    });

    it('an unknown option is exit 2 with a pointer to --help, not a stack trace', async () => {
      const run = await npmPlanDiff(['--bsae', 'main']);
      expect(run.code).to.equal(2);
      expect(run.stderr).to.include("Unknown option '--bsae'").and.to.include('Run with --help');
      expect(run.stderr).not.to.include('    at ');
    });
  });

  describe('renderPlanDiff', () => {
    it('cuts a huge diff below GitHub\'s comment limit and says where the rest is', () => {
      const diff = `--- a\n+++ b\n${'+x'.repeat(MAX_DIFF_CHARS)}\n`;
      const { markdown } = renderPlanDiff({ plan: 'infra/plan.prod.json', diff, base: 'abc' });
      expect(markdown.length).to.be.lessThan(65_536);
      expect(markdown).to.include('the job log has the whole diff');
    });

    it('fences the diff so backticks inside cannot end the code block', () => {
      const { markdown } = renderPlanDiff({ plan: 'p', diff: '+ "command": "```rm```"\n', base: 'abc' });
      expect(markdown).to.include('````diff\n+ "command": "```rm```"\n````');
    });
  });
});
