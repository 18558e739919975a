import { expect } from 'chai';
import { MOCK_APP_VERSION, MOCK_IMAGE_REF } from '../mock-cloud.js';
import { parsePublishOutput } from '../registry.js';
import { prodRawConfig, prodStack } from './support.js';

describe('stack outputs', () => {
  it('give operators the URL, ALB, cluster, service, repository, image and its version, log group and secret ARNs', async () => {
    const { outputs } = (await prodStack()).recording;
    expect(outputs).to.deep.include({
      url: 'https://chapi.gamificator.click',
      albDnsName: 'chapi-alb.us-east-1.elb.amazonaws.com',
      clusterName: 'chapi',
      serviceName: 'chapi-api',
      repositoryUrl: '123456789012.dkr.ecr.us-east-1.amazonaws.com/chapi-api',
      imageRef: MOCK_IMAGE_REF,
      appVersion: MOCK_APP_VERSION,
      logGroup: '/ecs/task-api',
      alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:topic/chapi-alarms',
    });
    expect(Object.keys(outputs.secretArns as object)).to.have.members(['databaseUrl', 'migrationDatabaseUrl', 'adminApiKey', 'serviceApiKeys']);
  });

  it('tell the deploy where its smoke test key is: the service keys secret and the smoke client inside it', async () => {
    const { outputs } = (await prodStack()).recording;
    expect(outputs.smokeKey).to.deep.equal({
      secretArn: (outputs.secretArns as Record<string, string>).serviceApiKeys,
      jsonKey: 'smoke',
    });
    // The prod stack generates that client's key.
    expect(prodRawConfig().serviceClients).to.include('"smoke"');
  });

  describe('the publish step\'s result line', () => {
    const ref = `123456789012.dkr.ecr.us-east-1.amazonaws.com/chapi-api@sha256:${'a'.repeat(64)}`;

    it('gives the image reference and the version it built', () => {
      const stdout = `docker noise\n${JSON.stringify({ imageRef: ref, appVersion: 'abc123' })}\n`;
      expect(parsePublishOutput(stdout)).to.deep.equal({ imageRef: ref, appVersion: 'abc123' });
    });

    it('gives an empty version for a reused image (built by an earlier run)', () => {
      expect(parsePublishOutput(JSON.stringify({ imageRef: ref, appVersion: null }))).to.deep.equal({ imageRef: ref, appVersion: '' });
    });

    it('fails the deploy when no digest reference came out', () => {
      expect(() => parsePublishOutput('pushed\n')).to.throw(/printed no JSON result/);
      expect(() => parsePublishOutput(JSON.stringify({ imageRef: 'repo:latest', appVersion: 'x' }))).to.throw(/no digest reference/);
    });
  });
});

