import { expect } from 'chai';
import { MOCK_IMAGE_REF } from '../mock-cloud.js';
import { prodStack } from './support.js';

describe('stack outputs', () => {
  it('give operators the URL, ALB, cluster, service, repository, image, log group and secret ARNs', async () => {
    const { outputs } = (await prodStack()).recording;
    expect(outputs).to.deep.include({
      url: 'https://chapi.gamificator.click',
      albDnsName: 'chapi-alb.us-east-1.elb.amazonaws.com',
      clusterName: 'chapi',
      serviceName: 'chapi-api',
      repositoryUrl: '123456789012.dkr.ecr.us-east-1.amazonaws.com/chapi-api',
      imageRef: MOCK_IMAGE_REF,
      logGroup: '/ecs/task-api',
      alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:topic/chapi-alarms',
    });
    expect(Object.keys(outputs.secretArns as object)).to.have.members(['databaseUrl', 'migrationDatabaseUrl', 'adminApiKey', 'serviceApiKeys']);
  });
});
