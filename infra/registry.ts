/**
 * The image registry and the image in it: an ECR repository (immutable tags, scan on push,
 * a lifecycle policy) and the publish step that puts the API image there, keyed on the content
 * hash of its build inputs (see `infra/image-publish.ts` for why not a rebuild per deploy).
 */
import * as aws from '@pulumi/aws';
import { local } from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';
import type { Architecture } from './config.js';

/** The Docker platform each task architecture runs. */
export const DOCKER_PLATFORM: Readonly<Record<Architecture, string>> = {
  x86_64: 'linux/amd64',
  arm64: 'linux/arm64',
};
/** Untagged images only come from interrupted pushes: a day is enough to notice one. */
const UNTAGGED_EXPIRY_DAYS = 1;
/** The command the publish resource runs, from the project root (where Pulumi.yaml is). */
export const PUBLISH_COMMAND = 'node --import tsx infra/cli/publish-image.ts';

export interface RegistryArgs {
  /** The repository's name. @example { repositoryName: 'chapi-api' } */
  repositoryName: string;
  /** Content hash of the build inputs (`buildInputsHash()`): the image's tag. */
  buildInputsHash: string;
  /** The tasks' architecture; the image is built for it. @default 'x86_64' */
  architecture: Architecture;
  /** How many most recent images ECR keeps (rollback targets). @default 20 */
  imageRetentionCount: number;
  /** Build context and Dockerfile, relative to the project root. @default '.', 'Dockerfile' */
  context?: string;
  dockerfile?: string;
  /** Region of the ECR calls. @example { region: 'us-east-1' } */
  region: string;
}

/**
 * ECR repository and the published image.
 *
 * Cost (us-east-1): $0.10 per GB-month stored; 20 images of ~80 MB (layers are shared
 * between them, so far less in practice) stay under $0.20/month. Basic scanning is free.
 *
 * @example
 * const registry = new Registry('chapi', { repositoryName: 'chapi-api', buildInputsHash, … });
 * registry.imageRef; // 123456789012.dkr.ecr.us-east-1.amazonaws.com/chapi-api@sha256:…
 */
export class Registry extends pulumi.ComponentResource {
  readonly repositoryUrl: pulumi.Output<string>;
  readonly repositoryArn: pulumi.Output<string>;
  /** The image by digest: what the task definitions run. */
  readonly imageRef: pulumi.Output<string>;
  /**
   * The `APP_VERSION` (git commit) the image reports on `/health`, as recorded when the publish
   * step built it; the state keeps it while the build inputs stay the same. Empty when the step
   * found the image already in ECR (built by an earlier state's run).
   */
  readonly appVersion: pulumi.Output<string>;

  constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chapi:registry:Registry', name, {}, opts);
    // Options of every child resource: parented to this component (the SST way).
    const child = { parent: this };

    const repository = new aws.ecr.Repository(
      `${name}-repository`,
      {
        name: args.repositoryName,
        // A tag names one image forever (FSBP ECR.2): the inputs' hash cannot be re-pointed.
        imageTagMutability: 'IMMUTABLE',
        // Basic scanning of OS packages on every push (FSBP ECR.1).
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: 'AES256' }],
        // Images in use must never vanish with a stack change: deleting the repository is manual.
        forceDelete: false,
      },
      child,
    );

    new aws.ecr.LifecyclePolicy(
      `${name}-lifecycle`,
      {
        repository: repository.name,
        // FSBP ECR.3. The newest images are the rollback targets; anything older goes.
        policy: JSON.stringify({
          rules: [
            {
              rulePriority: 1,
              description: `untagged images (interrupted pushes) after ${UNTAGGED_EXPIRY_DAYS} day`,
              selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: UNTAGGED_EXPIRY_DAYS },
              action: { type: 'expire' },
            },
            {
              rulePriority: 2,
              description: `keep the ${args.imageRetentionCount} most recent images`,
              selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: args.imageRetentionCount },
              action: { type: 'expire' },
            },
          ],
        }),
      },
      child,
    );

    const input = pulumi.jsonStringify({
      repositoryUrl: repository.repositoryUrl,
      tag: args.buildInputsHash,
      platform: DOCKER_PLATFORM[args.architecture],
      context: args.context ?? '.',
      dockerfile: args.dockerfile ?? 'Dockerfile',
    });
    // A command resource, not an awsx.ecr.Image: that one rebuilds whenever its build args
    // change (APP_VERSION is the commit, new on every push) and a rebuild is a new digest.
    // This one runs only when its inputs change — the hash, the repository, the platform — and
    // never on preview; its stdout (the digest reference) is kept in the state.
    const publish = new local.Command(
      `${name}-image`,
      {
        create: PUBLISH_COMMAND,
        environment: { PUBLISH_IMAGE_INPUT: input, AWS_REGION: args.region },
        triggers: [args.buildInputsHash, DOCKER_PLATFORM[args.architecture]],
        addPreviousOutputInEnv: false,
      },
      child,
    );

    this.repositoryUrl = repository.repositoryUrl;
    this.repositoryArn = repository.arn;
    const published = publish.stdout.apply(parsePublishOutput);
    this.imageRef = published.imageRef;
    this.appVersion = published.appVersion;
    this.registerOutputs({ repositoryUrl: this.repositoryUrl, imageRef: this.imageRef, appVersion: this.appVersion });
  }
}

/**
 * The publish step's last stdout line, `{ "imageRef": "repo@sha256:…", "appVersion": "…" | null }`
 * (see `infra/cli/publish-image.ts`), checked: a missing digest fails the deploy here rather
 * than as an unpullable task definition.
 */
export function parsePublishOutput(stdout: string): { imageRef: string; appVersion: string } {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  let parsed: { imageRef?: unknown; appVersion?: unknown };
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    throw new Error(`the image publish step printed no JSON result (got "${line}")`);
  }
  const { imageRef, appVersion } = parsed;
  if (typeof imageRef !== 'string' || !/@sha256:[0-9a-f]{64}$/.test(imageRef)) {
    throw new Error(`the image publish step printed no digest reference (got "${String(imageRef)}")`);
  }
  return { imageRef, appVersion: typeof appVersion === 'string' ? appVersion : '' };
}
