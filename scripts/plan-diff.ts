/**
 * `npm run plan:diff`: shows a pull request's change to the committed offline plan
 * (`npm run infra:plan` writes it; a test keeps it in step with the program), so reviewers
 * see every infrastructure change as a diff even where `pulumi preview` cannot run (forks,
 * no AWS credentials).
 *
 *   npm run plan:diff -- --base <revision> [--plan infra/plan.prod.json] [--comment]   (--help)
 *
 * Prints the diff (or that there is none), appends it to the GitHub step summary when
 * `GITHUB_STEP_SUMMARY` is set, and with `--comment` keeps one comment on the pull request
 * up to date (`GITHUB_TOKEN`, `GITHUB_REPOSITORY`, `PR_NUMBER`; `GITHUB_API_URL` if not
 * github.com). A token that may not comment (a fork's) is a warning, not a failure.
 */
import { execFile } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import { parseArgs, promisify } from 'node:util';
import { renderPlanDiff, upsertPullRequestComment } from './lib/plan-diff.js';

const run = promisify(execFile);
const DEFAULT_PLAN = 'infra/plan.prod.json';

const USAGE = `Usage: npm run plan:diff -- --base <revision> [--plan <file>] [--comment]

Shows what this branch changed in the committed offline plan (${DEFAULT_PLAN}, written by
npm run infra:plan) since it left <revision>: every infrastructure change as a diff, without
AWS or the Pulumi CLI.

Options:
  --base <revision>   any git revision: main, origin/main, HEAD~3, a tag, a commit SHA
                      (default: BASE_SHA from the environment)
  --plan <file>       the plan file (default ${DEFAULT_PLAN})
  --comment           keep one comment on the pull request up to date (CI: GITHUB_TOKEN,
                      GITHUB_REPOSITORY, PR_NUMBER; GITHUB_API_URL when not github.com)
  -h, --help          this help

Exit codes: 0 done (changed or not), 1 git failed, 2 bad arguments or an unknown revision.`;

function fail(message: string, code = 2): never {
  console.error(`plan:diff: ${message}`);
  process.exit(code);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      base: { type: 'string' },
      plan: { type: 'string', default: DEFAULT_PLAN },
      comment: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}\nRun with --help for usage.`);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const revision = values.base ?? process.env.BASE_SHA ?? '';
// An option-looking value would reach git as an option: refuse it rather than pass it on.
if (revision === '' || revision.startsWith('-')) fail('--base (or BASE_SHA) must name a git revision: main, HEAD~3, a SHA\nRun with --help for usage.');
const plan = values.plan;

/** The commit `revision` names (`main`, `HEAD~3`, a tag, a short SHA), so the diff and the comment name a fixed commit. */
async function resolveCommit(name: string): Promise<string> {
  try {
    const { stdout } = await run('git', ['rev-parse', '--verify', '--quiet', '--end-of-options', `${name}^{commit}`]);
    return stdout.trim();
  } catch {
    return fail(`"${name}" is not a commit here (a branch, tag, HEAD~N or SHA; in CI fetch it: fetch-depth: 0)`);
  }
}
const base = await resolveCommit(revision);

// Three dots: what this branch changed since it left the base, not what the base did since.
let diff: string;
try {
  ({ stdout: diff } = await run('git', ['diff', '--no-color', '--unified=5', `${base}...HEAD`, '--', plan], {
    maxBuffer: 64 * 1024 * 1024,
  }));
} catch (error) {
  fail(`git diff failed (is the base commit fetched? use fetch-depth: 0): ${error instanceof Error ? error.message : String(error)}`, 1);
}
const body = renderPlanDiff({ plan, diff, base });
console.log(body.summary);
if (diff !== '') console.log(diff);

if (process.env.GITHUB_STEP_SUMMARY !== undefined && process.env.GITHUB_STEP_SUMMARY !== '') {
  await appendFile(process.env.GITHUB_STEP_SUMMARY, `${body.markdown}\n`);
}

if (values.comment) {
  const token = process.env.GITHUB_TOKEN ?? '';
  const repository = process.env.GITHUB_REPOSITORY ?? '';
  const pullRequest = Number(process.env.PR_NUMBER ?? '');
  if (token === '' || !/^[^/]+\/[^/]+$/.test(repository) || !Number.isSafeInteger(pullRequest) || pullRequest <= 0) {
    fail('--comment needs GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name) and PR_NUMBER');
  }
  const outcome = await upsertPullRequestComment({
    apiUrl: process.env.GITHUB_API_URL ?? 'https://api.github.com',
    token,
    repository,
    pullRequest,
    markdown: body.markdown,
    changed: diff !== '',
  });
  console.log(`plan:diff: pull request comment ${outcome}`);
}
