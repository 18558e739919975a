import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand, ImageNotFoundException } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { expect } from 'chai';
import { resolveAppVersion } from '../cli/publish-image.js';
import { parseRepositoryUrl, publishImage, type CommandRunner, type PublishInput } from '../image-publish.js';

const REPOSITORY = '123456789012.dkr.ecr.us-east-1.amazonaws.com/chapi-api';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const input: PublishInput = {
  repositoryUrl: REPOSITORY,
  tag: 'c'.repeat(64),
  platform: 'linux/arm64',
  context: '.',
  dockerfile: 'Dockerfile',
  appVersion: '0123abcd',
};

/** Records each command; `docker buildx build` "writes" the metadata file the way buildx does. */
function fakeDocker(metadata: Record<string, unknown> | undefined) {
  const calls: { program: string; args: string[]; stdin?: string }[] = [];
  const files = new Map<string, string>();
  const run: CommandRunner = (program, args, options = {}) => {
    calls.push({ program, args, ...(options.stdin === undefined ? {} : { stdin: options.stdin }) });
    if (args[0] === 'buildx' && metadata !== undefined) {
      files.set(args[args.indexOf('--metadata-file') + 1] as string, JSON.stringify(metadata));
    }
    return Promise.resolve(args[0] === 'login' ? 'Login Succeeded\n' : '');
  };
  const readFile = (file: string) => {
    const text = files.get(file);
    return text === undefined ? Promise.reject(new Error(`ENOENT ${file}`)) : Promise.resolve(text);
  };
  return { calls, run, readFile };
}

describe('publishing the image', () => {
  const ecr = mockClient(ECRClient);
  const client = new ECRClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  beforeEach(() => ecr.reset());

  it('reuses the image already tagged with the build inputs hash, without building', async () => {
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST, imageTags: [input.tag] }] });
    const docker = fakeDocker(undefined);
    const result = await publishImage({ ecr: client, ...docker, metadataFile: '/tmp/m.json' }, input);
    expect(result).to.deep.equal({ imageRef: `${REPOSITORY}@${DIGEST}`, built: false, appVersion: null });
    expect(docker.calls).to.deep.equal([]);
    expect(ecr.commandCalls(DescribeImagesCommand)[0]?.args[0].input).to.deep.equal({
      registryId: '123456789012',
      repositoryName: 'chapi-api',
      imageIds: [{ imageTag: input.tag }],
    });
  });

  it('builds for the platform with APP_VERSION, pushes it with the hash tag, and returns it by digest', async () => {
    ecr.on(DescribeImagesCommand).rejects(new ImageNotFoundException({ message: 'not found', $metadata: {} }));
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: Buffer.from('AWS:s3cret-token').toString('base64') }] });
    const docker = fakeDocker({ 'containerimage.digest': DIGEST });
    const result = await publishImage({ ecr: client, ...docker, metadataFile: '/tmp/m.json' }, input);
    expect(result).to.deep.equal({ imageRef: `${REPOSITORY}@${DIGEST}`, built: true, appVersion: input.appVersion });
    const [login, build] = docker.calls;
    // The registry password goes through stdin, never the command line.
    expect(login).to.deep.equal({
      program: 'docker',
      args: ['login', '--username', 'AWS', '--password-stdin', '123456789012.dkr.ecr.us-east-1.amazonaws.com'],
      stdin: 's3cret-token',
    });
    expect(build?.program).to.equal('docker');
    expect(build?.args.slice(0, 2)).to.deep.equal(['buildx', 'build']);
    const pairs = (flag: string) => build?.args[(build.args.indexOf(flag)) + 1];
    expect(pairs('--platform')).to.equal('linux/arm64');
    expect(pairs('--build-arg')).to.equal('APP_VERSION=0123abcd');
    expect(pairs('--tag')).to.equal(`${REPOSITORY}:${input.tag}`);
    expect(pairs('--file')).to.equal('Dockerfile');
    expect(build?.args).to.include.members(['--push', '--provenance=false']);
    expect(build?.args.at(-1)).to.equal('.');
    expect(JSON.stringify(docker.calls.map((call) => call.args))).not.to.include('s3cret-token');
  });

  it('fails when the build reports no digest', async () => {
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [] });
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: Buffer.from('AWS:x').toString('base64') }] });
    const docker = fakeDocker({});
    let error: unknown;
    try {
      await publishImage({ ecr: client, ...docker, metadataFile: '/tmp/m.json' }, input);
    } catch (caught) {
      error = caught;
    }
    expect(String(error)).to.include('docker buildx wrote no image digest');
  });

  it('passes other ECR errors on rather than building blind', async () => {
    ecr.on(DescribeImagesCommand).rejects(new Error('AccessDeniedException'));
    const docker = fakeDocker(undefined);
    let error: unknown;
    try {
      await publishImage({ ecr: client, ...docker, metadataFile: '/tmp/m.json' }, input);
    } catch (caught) {
      error = caught;
    }
    expect(String(error)).to.include('AccessDeniedException');
    expect(docker.calls).to.deep.equal([]);
  });

  it('reads the registry and repository from the repository URL', () => {
    expect(parseRepositoryUrl(REPOSITORY)).to.deep.equal({
      registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
      registryId: '123456789012',
      repositoryName: 'chapi-api',
    });
    expect(() => parseRepositoryUrl('docker.io/library/node')).to.throw('not an ECR repository URL');
  });

  it("takes APP_VERSION from GitHub's commit, else from git", async () => {
    const never: CommandRunner = () => Promise.reject(new Error('git must not be asked'));
    expect(await resolveAppVersion({ GITHUB_SHA: 'abc123' }, never)).to.equal('abc123');
    const git: CommandRunner = (program, args) => Promise.resolve(program === 'git' && args.join(' ') === 'rev-parse HEAD' ? 'def456\n' : '');
    expect(await resolveAppVersion({}, git)).to.equal('def456');
  });
});
