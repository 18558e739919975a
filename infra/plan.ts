/**
 * `npm run infra:plan`: runs the program for the prod stack under mocks (no AWS, no Pulumi CLI)
 * and writes every resource it declares — type, name, parent, dependencies and inputs — to
 * `infra/plan.prod.json`, so that every infrastructure change shows up as a reviewable diff in
 * the pull request. `npm run infra:plan -- --check` fails when the committed plan is stale
 * (the infra test suite runs it).
 *
 * Deterministic: mocked ids derive from names, JSON strings (policies, container definitions)
 * are expanded, and the content hashes that change with every API commit are replaced by
 * placeholders (the image and migration triggers still show where they are used).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { buildInputsHash, migrationsHash } from './build-inputs.js';
import { installMockCloud, isSecretValue, recordProgram, setStackConfig, type Recording } from './mock-cloud.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The committed plan reviewers diff. */
export const PLAN_FILE = path.join(ROOT, 'infra', 'plan.prod.json');
/** The stack whose config the plan uses. */
export const STACK_FILE = path.join(ROOT, 'Pulumi.prod.yaml');

/**
 * Stand-ins for the stack's secrets: shaped like Neon's URLs, so the program's checks pass,
 * and obviously not real.
 */
export const PLAN_SECRETS: Record<string, string> = {
  'chapi:databaseUrl': 'postgres://chapi:PLAN-PLACEHOLDER@ep-plan-00000000-pooler.us-east-1.aws.neon.tech/chapi?sslmode=require',
  'chapi:migrationDatabaseUrl': 'postgres://chapi:PLAN-PLACEHOLDER@ep-plan-00000000.us-east-1.aws.neon.tech/chapi?sslmode=require',
};

/** A stack file's `config:` as Pulumi hands it to a program: every value a string, structures as JSON. */
export function stackConfigValues(stackFile: string): Record<string, string> {
  const document = parse(readFileSync(stackFile, 'utf8')) as { config?: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(document.config ?? {})
      .filter(([, value]) => !(typeof value === 'object' && value !== null && 'secure' in value))
      .map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]),
  );
}

/** Expands JSON held in strings (policies, container definitions) so the plan shows their contents. */
function expand(value: unknown, redactions: Map<string, string>): unknown {
  // Secrets never reach the plan, not even the placeholders.
  if (isSecretValue(value)) return '[secret]';
  if (typeof value === 'string') {
    let text = value;
    for (const [secret, placeholder] of redactions) text = text.split(secret).join(placeholder);
    if (/^\s*[[{]/.test(text)) {
      try {
        return expand(JSON.parse(text), redactions);
      } catch {
        return text;
      }
    }
    return text;
  }
  if (Array.isArray(value)) return value.map((item) => expand(item, redactions));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, item]) => [key, expand(item, redactions)]),
    );
  }
  return value;
}

/** The plan's text: resources sorted by name then type, keys sorted, placeholders in. */
export function renderPlan(recording: Recording, redactions: Map<string, string>): string {
  const resources = [...recording.resources]
    .sort((a, b) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type))
    .map((resource) => ({
      name: resource.name,
      type: resource.type,
      ...(resource.parent === undefined ? {} : { parent: resource.parent }),
      ...(resource.dependsOn.length === 0 ? {} : { dependsOn: [...resource.dependsOn].sort() }),
      ...(resource.ignoreChanges.length === 0 ? {} : { ignoreChanges: resource.ignoreChanges }),
      inputs: expand(resource.inputs, redactions),
    }));
  const outputs = expand(recording.outputs, redactions);
  return `${JSON.stringify({ stack: 'prod', resourceCount: resources.length, resources, outputs }, null, 2)}\n`;
}

/** Runs the real entry (`infra/index.ts`) for the prod stack under mocks and renders its plan. */
export async function computePlan(): Promise<string> {
  await installMockCloud('prod');
  setStackConfig({ ...stackConfigValues(STACK_FILE), ...PLAN_SECRETS }, Object.keys(PLAN_SECRETS));
  const recording = await recordProgram(async () => ({ ...(await import('./index.js')) }));
  const redactions = new Map([
    [buildInputsHash(ROOT), '<build-inputs-hash>'],
    [migrationsHash(path.join(ROOT, 'migrations')), '<migrations-hash>'],
  ]);
  return renderPlan(recording, redactions);
}

async function main(): Promise<void> {
  const plan = await computePlan();
  const relative = path.relative(process.cwd(), PLAN_FILE);
  if (process.argv.includes('--check')) {
    const committed = readFileSync(PLAN_FILE, 'utf8');
    if (committed !== plan) {
      const [ours, theirs] = [plan.split('\n'), committed.split('\n')];
      const line = ours.findIndex((text, index) => text !== theirs[index]);
      console.error(`${relative} is stale: the program now differs from it at line ${line + 1}:`);
      console.error(`  committed: ${theirs[line] ?? '(end of file)'}\n  program:   ${ours[line] ?? '(end of file)'}`);
      console.error('Run `npm run infra:plan` and commit the result.');
      process.exitCode = 1;
      return;
    }
    console.log(`${relative} is up to date`);
    return;
  }
  writeFileSync(PLAN_FILE, plan);
  console.log(`wrote ${relative}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
