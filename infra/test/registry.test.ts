import { expect } from 'chai';
import { recordProgram, setStackConfig, type Recording } from '../mock-cloud.js';
import { PLAN_SECRETS, STACK_FILE, stackConfigValues } from '../plan.js';
import { BUILD_HASH, MIGRATIONS_HASH, prodStack, recordStack, Stack, T } from './support.js';

/**
 * One run of the real entry, `infra/index.ts`, for the prod stack: its own config, and the
 * content hashes it computes from this checkout. Each call evaluates the module afresh (a
 * distinct query string is a distinct ES module), as each `pulumi up` does.
 */
let entryRuns = 0;
async function recordEntry(): Promise<Stack> {
  setStackConfig({ ...stackConfigValues(STACK_FILE), ...PLAN_SECRETS }, Object.keys(PLAN_SECRETS));
  entryRuns += 1;
  const entry = new URL(`../index.ts?run=${entryRuns}`, import.meta.url).href;
  const recording: Recording = await recordProgram(async () => ({ ...((await import(entry)) as Record<string, unknown>) }));
  return new Stack(recording);
}

describe('registry and image', () => {
  let stack: Stack;
  before(async () => {
    stack = await prodStack();
  });

  it('keeps images in an ECR repository with immutable tags and scan on push (FSBP ECR.1, ECR.2)', () => {
    expect(stack.one(T.repository, 'chapi-repository').inputs).to.deep.include({
      name: 'chapi-api',
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      forceDelete: false,
    });
  });

  it('keeps the last 20 images and drops untagged ones after a day (FSBP ECR.3)', () => {
    const { rules } = stack.json<{ rules: { rulePriority: number; selection: Record<string, unknown>; action: { type: string } }[] }>(
      T.lifecycle,
      'chapi-lifecycle',
      'policy',
    );
    expect(rules.map((rule) => [rule.rulePriority, rule.selection, rule.action.type])).to.deep.equal([
      [1, { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, 'expire'],
      [2, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 20 }, 'expire'],
    ]);
    expect(stack.one(T.lifecycle, 'chapi-lifecycle').inputs.repository).to.equal('chapi-api');
  });

  it('publishes the image from the root Dockerfile, tagged with the build inputs hash, for the task architecture', () => {
    const publish = stack.one(T.command, 'chapi-image').inputs;
    expect(publish.create).to.equal('node --import tsx infra/cli/publish-image.ts');
    expect(publish).not.to.have.property('update');
    const environment = publish.environment as Record<string, string>;
    expect(environment.AWS_REGION).to.equal('us-east-1');
    expect(JSON.parse(environment.PUBLISH_IMAGE_INPUT as string)).to.deep.equal({
      repositoryUrl: '123456789012.dkr.ecr.us-east-1.amazonaws.com/chapi-api',
      tag: BUILD_HASH,
      platform: 'linux/amd64',
      context: '.',
      dockerfile: 'Dockerfile',
    });
    expect(publish.triggers).to.deep.equal([BUILD_HASH, 'linux/amd64']);
  });

  it('declares the same publish and migration inputs for the same injected hashes (the program is deterministic)', async () => {
    // A command resource reruns only when its inputs differ from the state's: two runs of
    // the program over the same hashes must declare identical commands.
    const again = await recordStack();
    for (const name of ['chapi-image', 'chapi-migration']) {
      expect(again.one(T.command, name).inputs).to.deep.equal(stack.one(T.command, name).inputs);
    }
    expect(again.one(T.taskDefinition, 'chapi-api').inputs).to.deep.equal(stack.one(T.taskDefinition, 'chapi-api').inputs);
    expect(JSON.stringify(stack.one(T.command, 'chapi-migration').inputs.triggers)).to.include(MIGRATIONS_HASH);
  });

  it('nothing changed, so neither reruns: two runs of infra/index.ts over this checkout declare the same publish, migration and service', async () => {
    const first = await recordEntry();
    const second = await recordEntry();
    for (const name of ['chapi-image', 'chapi-migration']) {
      const inputs = first.one(T.command, name).inputs;
      // The real hashes, not the tests' stand-ins.
      expect(JSON.stringify(inputs.triggers), name).not.to.include(BUILD_HASH).and.not.to.include(MIGRATIONS_HASH);
      expect(second.one(T.command, name).inputs, name).to.deep.equal(inputs);
    }
    expect(second.one(T.taskDefinition, 'chapi-api').inputs).to.deep.equal(first.one(T.taskDefinition, 'chapi-api').inputs);
  });
});
