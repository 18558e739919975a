import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import type { RecordedResource, Recording } from '../../mock-cloud.js';
import { DEPLOY_SESSION_SECONDS, KEY_ALIAS } from '../settings.js';
import { readPlan } from '../policy.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const REPOSITORY = 'cathouse/chapi';

describe('the bootstrap stack (under mocks)', () => {
  let recording: Recording;
  const one = (type: string, name: string): RecordedResource => {
    const found = recording.resources.filter((resource) => resource.type === type && resource.name === name);
    if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
    return found[0] as RecordedResource;
  };
  const all = (type: string): RecordedResource[] => recording.resources.filter((resource) => resource.type === type);
  const trust = (role: string) => JSON.parse(one('aws:iam/role:Role', role).inputs.assumeRolePolicy as string) as { Statement: Record<string, unknown>[] };

  // Imported dynamically, after the mocks (./setup.ts), as the main suite's helpers do.
  const recordProgram = async (program: () => unknown): Promise<Recording> => (await import('../../mock-cloud.js')).recordProgram(program);

  before(async () => {
    const { createBootstrap } = await import('../bootstrap.js');
    recording = await recordProgram(() => createBootstrap({ githubRepository: REPOSITORY, region: 'us-east-1', zone: 'gamificator.click', plan: readPlan() }));
  });

  it('keeps the state in a protected, versioned, encrypted bucket of this account', () => {
    expect(one('aws:s3/bucket:Bucket', 'state').inputs).to.include({ bucket: 'chapi-pulumi-state-123456789012', forceDestroy: false });
    expect(one('aws:s3/bucketVersioning:BucketVersioning', 'state').inputs.versioningConfiguration).to.deep.equal({ status: 'Enabled' });
    expect(one('aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', 'state').inputs.rules).to.deep.equal([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } },
    ]);
  });

  it('blocks every kind of public access to the bucket and refuses requests without TLS', () => {
    expect(one('aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', 'state').inputs).to.include({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    const policy = one('aws:s3/bucketPolicy:BucketPolicy', 'state');
    expect(JSON.parse(policy.inputs.policy as string)).to.deep.equal({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'TlsOnly',
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:*',
          Resource: ['arn:aws:s3:::chapi-pulumi-state-123456789012', 'arn:aws:s3:::chapi-pulumi-state-123456789012/*'],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    });
    expect(policy.dependsOn).to.deep.equal(['aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock state']);
  });

  it('makes the secrets key (rotated) under the alias Pulumi.prod.yaml names as its secrets provider', () => {
    expect(one('aws:kms/key:Key', 'secrets').inputs).to.include({ enableKeyRotation: true });
    expect(one('aws:kms/alias:Alias', 'secrets').inputs.name).to.equal(KEY_ALIAS);
    const stack = parse(readFileSync(`${ROOT}/Pulumi.prod.yaml`, 'utf8')) as { secretsprovider?: string };
    expect(stack.secretsprovider).to.equal(`awskms://${KEY_ALIAS}?region=us-east-1`);
  });

  it("trusts GitHub's OIDC provider for the sts.amazonaws.com audience", () => {
    expect(one('aws:iam/openIdConnectProvider:OpenIdConnectProvider', 'github').inputs).to.deep.include({
      url: 'https://token.actions.githubusercontent.com',
      clientIdLists: ['sts.amazonaws.com'],
    });
  });

  // Subject of a job in an environment: repo:<orgName/repoName>:environment:<environmentName>
  // (https://docs.github.com/en/actions/reference/security/oidc)
  for (const [role, environment] of [
    ['github-chapi-deploy', 'production'],
    ['github-chapi-preview', 'preview'],
  ] as const) {
    it(`lets only ${REPOSITORY}'s jobs in the ${environment} environment assume ${role}`, () => {
      expect(trust(role).Statement).to.deep.equal([
        {
          Effect: 'Allow',
          Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com' },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
              'token.actions.githubusercontent.com:sub': `repo:${REPOSITORY}:environment:${environment}`,
            },
          },
        },
      ]);
    });
  }

  it('gives the deploy role sessions longer than the deploy job', () => {
    expect(one('aws:iam/role:Role', 'github-chapi-deploy').inputs.maxSessionDuration).to.equal(DEPLOY_SESSION_SECONDS);
  });

  it('attaches the generated policies, and no AWS managed policy (no account-wide ReadOnlyAccess)', () => {
    const attachments = all('aws:iam/rolePolicyAttachment:RolePolicyAttachment');
    const rolePolicies = all('aws:iam/policy:Policy').filter((policy) => policy.name.startsWith('github-chapi-'));
    expect(attachments.length).to.equal(rolePolicies.length);
    for (const attachment of attachments) expect(attachment.inputs.policyArn).to.match(/^arn:aws:iam::123456789012:policy\/github-chapi-/);
    for (const role of all('aws:iam/role:Role')) expect(role.inputs).not.to.have.any.keys('managedPolicyArns', 'inlinePolicies');
    // The documents name this account's real ARNs.
    const text = rolePolicies.map((policy) => policy.inputs.policy as string).join('\n');
    expect(text).to.include('arn:aws:kms:us-east-1:123456789012:key/secrets-key-id');
    expect(text).to.include('arn:aws:s3:::chapi-pulumi-state-123456789012');
    expect(text).to.include('hostedzone/Z0123456789MOCK');
    expect(text).not.to.include('000000000000');
  });

  it("makes the program roles' permissions boundary under the name the program gives its roles", () => {
    const boundary = one('aws:iam/policy:Policy', 'workload-boundary').inputs;
    expect(boundary.name).to.equal('chapi-workload-boundary');
    expect(JSON.parse(boundary.policy as string).Statement[0].Action).to.include('secretsmanager:GetSecretValue');
  });

  it('refuses a repository that is not owner/name', async () => {
    const { createBootstrap } = await import('../bootstrap.js');
    expect(() => createBootstrap({ githubRepository: 'chapi', region: 'us-east-1', zone: 'gamificator.click', plan: [] })).to.throw(/owner\/name/);
  });

  it('runs as its entry does: region and zone from Pulumi.prod.yaml, the repository from its own config', async () => {
    const { setStackConfig } = await import('../../mock-cloud.js');
    setStackConfig({ 'chapi-bootstrap:githubRepository': REPOSITORY });
    const entry = await recordProgram(async () => ({ ...(await import('../index.js')) }));
    expect(entry.outputs).to.deep.include({
      backendUrl: 's3://chapi-pulumi-state-123456789012?region=us-east-1',
      secretsProvider: 'awskms://alias/chapi-pulumi?region=us-east-1',
    });
    const deployPolicies = entry.resources.filter((resource) => resource.type === 'aws:iam/policy:Policy' && resource.name.startsWith('github-chapi-deploy'));
    expect(deployPolicies.map((policy) => policy.inputs.policy as string).join('')).to.include('hostedzone/Z0123456789MOCK');
  });

  it('outputs what Pulumi.prod.yaml and the workflows need', async () => {
    const { createBootstrap } = await import('../bootstrap.js');
    const outputs = await recordProgram(() => {
      const created = createBootstrap({ githubRepository: REPOSITORY, region: 'us-east-1', zone: 'gamificator.click', plan: readPlan() });
      return { ...created };
    });
    expect(outputs.outputs).to.deep.include({
      backendUrl: 's3://chapi-pulumi-state-123456789012?region=us-east-1',
      secretsProvider: 'awskms://alias/chapi-pulumi?region=us-east-1',
      deployRoleArn: 'arn:aws:iam:us-east-1:123456789012:role/github-chapi-deploy',
      previewRoleArn: 'arn:aws:iam:us-east-1:123456789012:role/github-chapi-preview',
    });
  });
});
