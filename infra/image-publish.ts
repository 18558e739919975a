/**
 * Publishes the API image to ECR, keyed on the content hash of its build inputs
 * (`infra/build-inputs.ts`): when an image with that tag already exists it is reused as it is,
 * otherwise it is built for the task's architecture and pushed. Either way the result is the
 * image reference by digest (`repository@sha256:…`), which the task definitions use.
 *
 * Why not rebuild on every deploy: image layers carry file timestamps, so a rebuild of
 * unchanged sources gets a new digest, and a new digest rolls the service and reruns the
 * migrations for nothing. With the tag derived from the inputs' content, "nothing changed"
 * is decided before any build, and the repository's tags are immutable, so a tag can never
 * be moved to other content.
 *
 * Pure logic over an injected ECR client and command runner; `infra/cli/publish-image.ts`
 * is the entry the registry's publish resource runs.
 */
import { DescribeImagesCommand, GetAuthorizationTokenCommand, ImageNotFoundException, type ECRClient } from '@aws-sdk/client-ecr';

/** What to publish. */
export interface PublishInput {
  /** `account.dkr.ecr.region.amazonaws.com/name` */
  repositoryUrl: string;
  /** The content hash of the build inputs. */
  tag: string;
  /** Docker platform of the tasks: `linux/amd64` or `linux/arm64`. */
  platform: string;
  /** Build context and Dockerfile, relative to the working directory. */
  context: string;
  dockerfile: string;
  /** `APP_VERSION` build arg: the git commit being deployed. */
  appVersion: string;
}

/** Runs a program; resolves its stdout, rejects on a non-zero exit. */
export type CommandRunner = (program: string, args: string[], options?: { stdin?: string }) => Promise<string>;

export interface PublishDeps {
  ecr: ECRClient;
  run: CommandRunner;
  /** Reads a file the build wrote (its metadata file). */
  readFile: (file: string) => Promise<string>;
  /** A fresh path for the build's metadata file. */
  metadataFile: string;
}

export interface PublishResult {
  /** `repositoryUrl@sha256:…` */
  imageRef: string;
  /** False when the image already existed and nothing was built. */
  built: boolean;
  /**
   * The `APP_VERSION` baked into the image when this step built it; null when it reused an
   * image that an earlier commit built (its version is that commit's, not known here).
   */
  appVersion: string | null;
}

/** Splits a repository URL into its registry host, registry id (account) and repository name. */
export function parseRepositoryUrl(repositoryUrl: string): { registry: string; registryId: string; repositoryName: string } {
  const match = /^((\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?)\/([a-z0-9][a-z0-9._/-]*)$/.exec(repositoryUrl);
  if (match === null) throw new Error(`not an ECR repository URL: ${repositoryUrl}`);
  return { registry: match[1] as string, registryId: match[2] as string, repositoryName: match[3] as string };
}

async function existingDigest(ecr: ECRClient, input: PublishInput): Promise<string | undefined> {
  const { registryId, repositoryName } = parseRepositoryUrl(input.repositoryUrl);
  try {
    const { imageDetails } = await ecr.send(
      new DescribeImagesCommand({ registryId, repositoryName, imageIds: [{ imageTag: input.tag }] }),
    );
    return imageDetails?.[0]?.imageDigest;
  } catch (error) {
    if (error instanceof ImageNotFoundException) return undefined;
    throw error;
  }
}

/**
 * Reuses the image tagged with the inputs' hash, or builds and pushes it.
 * @returns the image reference by digest, and the version baked in when it was built here.
 */
export async function publishImage(deps: PublishDeps, input: PublishInput): Promise<PublishResult> {
  const existing = await existingDigest(deps.ecr, input);
  if (existing !== undefined) return { imageRef: `${input.repositoryUrl}@${existing}`, built: false, appVersion: null };

  const { registry, registryId } = parseRepositoryUrl(input.repositoryUrl);
  const { authorizationData } = await deps.ecr.send(new GetAuthorizationTokenCommand({ registryIds: [registryId] }));
  const token = authorizationData?.[0]?.authorizationToken;
  if (token === undefined) throw new Error(`ECR returned no authorization token for ${registry}`);
  // The token is base64 "AWS:<password>"; the password goes through stdin, never argv.
  const password = Buffer.from(token, 'base64').toString('utf8').replace(/^AWS:/, '');
  await deps.run('docker', ['login', '--username', 'AWS', '--password-stdin', registry], { stdin: password });

  await deps.run('docker', [
    'buildx',
    'build',
    '--platform',
    input.platform,
    '--build-arg',
    `APP_VERSION=${input.appVersion}`,
    '--file',
    input.dockerfile,
    '--tag',
    `${input.repositoryUrl}:${input.tag}`,
    // One manifest, no attestation index: what ECS, ECR scanning and the lifecycle policy expect.
    '--provenance=false',
    '--metadata-file',
    deps.metadataFile,
    '--progress=plain',
    '--push',
    input.context,
  ]);
  const metadata = JSON.parse(await deps.readFile(deps.metadataFile)) as Record<string, unknown>;
  const digest = metadata['containerimage.digest'];
  if (typeof digest !== 'string' || !digest.startsWith('sha256:')) {
    throw new Error('docker buildx wrote no image digest to its metadata file');
  }
  return { imageRef: `${input.repositoryUrl}@${digest}`, built: true, appVersion: input.appVersion };
}
