/**
 * What the prod stack and its workflows stand on, created once per AWS account by an
 * administrator (`infra/README.md`, "First deploy"): the Pulumi state bucket, the KMS key of
 * the stack's secrets provider, GitHub's OIDC provider, and the two roles GitHub Actions
 * assumes: the deploy role (main, `production` environment) and the preview role (pull
 * requests, `preview` environment).
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  boundaryDocument,
  deployStatements,
  packPolicies,
  previewStatements,
  type PlanResource,
  type PolicyContext,
  type Statement,
} from './policy.js';
import {
  DEPLOY_ENVIRONMENT,
  DEPLOY_ROLE_NAME,
  DEPLOY_SESSION_SECONDS,
  GITHUB_OIDC_AUDIENCE,
  GITHUB_OIDC_HOST,
  KEY_ALIAS,
  PREVIEW_ENVIRONMENT,
  PREVIEW_ROLE_NAME,
  PREVIEW_SESSION_SECONDS,
  WORKLOAD_BOUNDARY_NAME,
} from './settings.js';

/** A deleted key can be restored for this long: the stack's secrets are unreadable without it. */
const KEY_DELETION_WINDOW_DAYS = 30;

export interface BootstrapArgs {
  /** `owner/name` of the GitHub repository whose workflows assume the roles. */
  githubRepository: string;
  /** The prod stack's region and hosted zone (read from Pulumi.prod.yaml). */
  region: string;
  zone: string;
  /** The prod stack's plan: the deploy and preview policies are built from it. */
  plan: PlanResource[];
}

export interface BootstrapOutputs {
  stateBucket: pulumi.Output<string>;
  /** The repository variable `PULUMI_BACKEND_URL`. */
  backendUrl: pulumi.Output<string>;
  kmsKeyArn: pulumi.Output<string>;
  /** What `Pulumi.prod.yaml` names as its secrets provider. */
  secretsProvider: string;
  oidcProviderArn: pulumi.Output<string>;
  /** The repository variables `AWS_DEPLOY_ROLE_ARN` and `AWS_PREVIEW_ROLE_ARN`. */
  deployRoleArn: pulumi.Output<string>;
  previewRoleArn: pulumi.Output<string>;
}

/**
 * The OIDC subject of a job that runs in a GitHub environment:
 * `repo:<orgName/repoName>:environment:<environmentName>` (GitHub's OpenID Connect reference,
 * https://docs.github.com/en/actions/reference/security/oidc). A job with an `environment`
 * gets this subject whatever its branch, so the branch is enforced by the environment's
 * deployment branch rule (production: main only), which the runbook sets.
 */
export const environmentSubject = (repository: string, environment: string): string => `repo:${repository}:environment:${environment}`;

/** Trust GitHub's OIDC tokens for this repository's jobs in this environment, and nothing else. */
function githubTrust(providerArn: pulumi.Input<string>, subject: string): pulumi.Output<string> {
  return pulumi.output(providerArn).apply((arn) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: arn },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
              [`${GITHUB_OIDC_HOST}:sub`]: subject,
            },
          },
        },
      ],
    }),
  );
}

/** Declares the bootstrap stack's resources. */
export function createBootstrap(args: BootstrapArgs): BootstrapOutputs {
  if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(args.githubRepository)) {
    throw new Error(`chapi-bootstrap:githubRepository must be owner/name (got "${args.githubRepository}")`);
  }
  const identity = aws.getCallerIdentityOutput({});
  const zone = aws.route53.getZoneOutput({ name: args.zone, privateZone: false });

  // The state bucket: versioned (every earlier state is a restore away), encrypted, never
  // public, reachable over TLS only. Protected: deleting it would orphan the stack.
  const bucket = new aws.s3.Bucket(
    'state',
    { bucket: pulumi.interpolate`chapi-pulumi-state-${identity.accountId}`, forceDestroy: false },
    { protect: true },
  );
  new aws.s3.BucketVersioning('state', { bucket: bucket.id, versioningConfiguration: { status: 'Enabled' } });
  new aws.s3.BucketServerSideEncryptionConfiguration('state', {
    bucket: bucket.id,
    rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
  });
  const publicAccess = new aws.s3.BucketPublicAccessBlock('state', {
    bucket: bucket.id,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });
  new aws.s3.BucketPolicy(
    'state',
    {
      bucket: bucket.id,
      // https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html (enforce encryption in transit: aws:SecureTransport)
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'TlsOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      }),
    },
    // S3 refuses a bucket policy while the public access block is being changed.
    { dependsOn: [publicAccess] },
  );

  // The secrets provider's key. Its default key policy lets this account's IAM policies grant
  // its use; the roles below are granted it by key ARN.
  const key = new aws.kms.Key(
    'secrets',
    { description: 'chapi Pulumi stack secrets', enableKeyRotation: true, deletionWindowInDays: KEY_DELETION_WINDOW_DAYS },
    { protect: true },
  );
  new aws.kms.Alias('secrets', { name: KEY_ALIAS, targetKeyId: key.keyId });

  // GitHub's OIDC provider. No thumbprint: AWS verifies GitHub's certificate against its own
  // trusted CAs ("These OIDC IdPs include Auth0, GitHub, GitLab, Google…":
  // https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateOpenIDConnectProviderThumbprint.html).
  const provider = new aws.iam.OpenIdConnectProvider('github', {
    url: `https://${GITHUB_OIDC_HOST}`,
    clientIdLists: [GITHUB_OIDC_AUDIENCE],
  });

  // The boundary every program role carries (infra/iam.ts names it the same way).
  new aws.iam.Policy('workload-boundary', {
    name: WORKLOAD_BOUNDARY_NAME,
    description: "the most chapi's program roles may do: what they do today (infra/bootstrap/policy.ts)",
    policy: JSON.stringify(boundaryDocument(args.plan)),
  });

  const context: pulumi.Output<PolicyContext> = pulumi
    .all([identity.accountId, zone.zoneId, bucket.arn, key.arn])
    .apply(([accountId, hostedZoneId, stateBucketArn, kmsKeyArn]) => ({
      accountId,
      region: args.region,
      hostedZoneId,
      stateBucketArn,
      kmsKeyArn,
    }));

  /**
   * A stand-in context of the real shape: the number of policy documents must be known when
   * the resources are declared, before the real ARNs are (their lengths barely differ, and a
   * mismatch fails the deploy rather than dropping permissions).
   */
  const standIn: PolicyContext = {
    accountId: '000000000000',
    region: args.region,
    hostedZoneId: 'Z00000000000000000000',
    stateBucketArn: 'arn:aws:s3:::chapi-pulumi-state-000000000000',
    kmsKeyArn: `arn:aws:kms:${args.region}:000000000000:key/00000000-0000-0000-0000-000000000000`,
  };

  const role = (name: string, environment: string, sessionSeconds: number, build: (c: PolicyContext) => Statement[]): aws.iam.Role => {
    const created = new aws.iam.Role(name, {
      // Not chapi-…: the deploy role may manage the program's chapi-* roles, never these.
      name,
      description: `GitHub Actions, ${args.githubRepository}, environment ${environment}`,
      assumeRolePolicy: githubTrust(provider.arn, environmentSubject(args.githubRepository, environment)),
      maxSessionDuration: sessionSeconds,
    });
    // Managed policies rather than inline ones: a role's inline policies share 10,240
    // characters, while each managed policy has 6,144 and a role takes 10.
    const count = packPolicies(build(standIn)).length;
    const documents = context.apply((c) => packPolicies(build(c)));
    for (let index = 0; index < count; index += 1) {
      const policy = new aws.iam.Policy(`${name}-${index + 1}`, {
        description: `${name}: permissions ${index + 1} of ${count} (infra/bootstrap/policy.ts)`,
        policy: documents.apply((list) => {
          const document = list[index];
          if (list.length !== count || document === undefined) {
            throw new Error(`${name}: the policies packed into ${list.length} documents, not ${count}`);
          }
          return JSON.stringify(document);
        }),
      });
      new aws.iam.RolePolicyAttachment(`${name}-${index + 1}`, { role: created.name, policyArn: policy.arn });
    }
    return created;
  };

  const deployRole = role(DEPLOY_ROLE_NAME, DEPLOY_ENVIRONMENT, DEPLOY_SESSION_SECONDS, (c) => deployStatements(args.plan, c));
  const previewRole = role(PREVIEW_ROLE_NAME, PREVIEW_ENVIRONMENT, PREVIEW_SESSION_SECONDS, (c) => previewStatements(args.plan, c));

  return {
    stateBucket: bucket.bucket,
    backendUrl: pulumi.interpolate`s3://${bucket.bucket}?region=${args.region}`,
    kmsKeyArn: key.arn,
    secretsProvider: `awskms://${KEY_ALIAS}?region=${args.region}`,
    oidcProviderArn: provider.arn,
    deployRoleArn: deployRole.arn,
    previewRoleArn: previewRole.arn,
  };
}

