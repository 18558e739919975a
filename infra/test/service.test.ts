import { expect } from 'chai';
import { unsecret } from '../mock-cloud.js';
import { loadConfig } from '../../api/src/config.js';
import { MIGRATION_COMMAND } from '../migration.js';
import { prodRawConfig, prodStack, recordStack, statements, T, type ContainerDefinition, type Stack } from './support.js';

const container = (stack: Stack, family: 'api' | 'migrate'): ContainerDefinition => {
  const [definition] = stack.json<ContainerDefinition[]>(T.taskDefinition, `chapi-${family}`, 'containerDefinitions');
  if (definition === undefined) throw new Error(`no container in chapi-${family}`);
  return definition;
};
const secretArn = (name: string): string => `arn:aws:secretsmanager:us-east-1:123456789012:secret:chapi/prod/${name}-AbCdEf`;

describe('service: task definitions, roles, rollout, autoscaling', () => {
  let stack: Stack;
  before(async () => {
    stack = await prodStack();
  });

  describe('the API task definition', () => {
    it('is a Fargate task of 256 CPU and 512 MiB on x86_64 in awsvpc mode', () => {
      expect(stack.one(T.taskDefinition, 'chapi-api').inputs).to.deep.include({
        family: 'chapi-api',
        cpu: '256',
        memory: '512',
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      });
      // Never the host's process or IPC namespace (FSBP ECS.3).
      for (const family of ['chapi-api', 'chapi-migrate']) {
        expect(stack.one(T.taskDefinition, family).inputs).not.to.have.any.keys('pidMode', 'ipcMode');
      }
    });

    it('runs the image by digest on port 8000 with its default command', () => {
      const api = container(stack, 'api');
      expect(api.image).to.match(/^123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/chapi-api@sha256:[0-9a-f]{64}$/);
      expect(api.portMappings.map((port) => port.containerPort)).to.deep.equal([8000]);
      expect(api).not.to.have.property('command');
    });

    it('runs as the non-root node user with a read-only root and a writable /tmp only', () => {
      const api = container(stack, 'api');
      expect(api.user).to.equal('1000:1000');
      expect(api.privileged).to.equal(false);
      expect(api.readonlyRootFilesystem).to.equal(true);
      expect(api.mountPoints).to.deep.equal([{ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false }]);
      expect(stack.one(T.taskDefinition, 'chapi-api').inputs.volumes).to.deep.equal([{ name: 'tmp' }]);
      expect(api.linuxParameters).to.deep.equal({ initProcessEnabled: true, capabilities: { drop: ['ALL'] } });
    });

    it('gives the app its 25 s drain and more before SIGKILL', async () => {
      const { APP_DRAIN_MS } = await import('../service.js');
      const api = container(stack, 'api');
      expect(api.environment).to.deep.include({ name: 'SHUTDOWN_GRACE_MS', value: String(APP_DRAIN_MS) });
      expect(api.stopTimeout * 1000).to.be.above(APP_DRAIN_MS);
      expect(api.stopTimeout).to.be.at.most(120); // Fargate's maximum
    });

    it('sets the runtime environment of the contract', () => {
      expect(container(stack, 'api').environment).to.deep.equal([
        { name: 'CORS_ORIGINS', value: '' },
        { name: 'DB_POOL_MAX', value: '10' },
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'NODE_ENV', value: 'production' },
        { name: 'PORT', value: '8000' },
        { name: 'RATE_LIMIT_KEY_RPS', value: prodRawConfig().rateLimitKeyRps },
        { name: 'SHUTDOWN_GRACE_MS', value: '25000' },
      ]);
    });

    it('gives the API the per-key rate limit of the stack config, under the name the API reads', () => {
      const environment = Object.fromEntries(container(stack, 'api').environment.map((variable) => [variable.name, variable.value]));
      const config = loadConfig({ ...environment, DATABASE_URL: 'postgres://u:p@db.example/chapi' });
      expect(config.rateLimit.keyRps).to.equal(Number(prodRawConfig().rateLimitKeyRps)).and.to.be.greaterThan(0);
    });

    it('takes DATABASE_URL and ADMIN_API_KEY from Secrets Manager, pinned to their current versions', () => {
      expect(container(stack, 'api').secrets).to.deep.equal([
        { name: 'ADMIN_API_KEY', valueFrom: `${secretArn('admin-api-key')}:::version-chapi-admin-api-key` },
        { name: 'DATABASE_URL', valueFrom: `${secretArn('database-url')}:::version-chapi-database-url` },
      ]);
    });

    it('never sees a secret as a plain environment value, nor the service keys at all', () => {
      const names = container(stack, 'api').environment.map((variable) => variable.name);
      for (const secret of ['DATABASE_URL', 'ADMIN_API_KEY', 'MIGRATION_DATABASE_URL', 'SERVICE_API_KEYS']) {
        expect(names).not.to.include(secret);
      }
      expect(container(stack, 'api').secrets.map((secret) => secret.name)).not.to.include('SERVICE_API_KEYS');
      const text = stack.one(T.taskDefinition, 'chapi-api').inputs.containerDefinitions as string;
      expect(text).not.to.include('PLAN-PLACEHOLDER');
    });

    it('logs to /ecs/task-api through awslogs, without blocking the app', () => {
      expect(container(stack, 'api').logConfiguration).to.deep.equal({
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/task-api',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'api',
          mode: 'non-blocking',
          'max-buffer-size': '4m',
        },
      });
      expect(stack.one(T.logGroup, 'chapi-logs').inputs).to.deep.equal({ name: '/ecs/task-api', retentionInDays: 30 });
    });

    it('has no task role: the app holds no AWS credentials', () => {
      expect(stack.one(T.taskDefinition, 'chapi-api').inputs).not.to.have.property('taskRoleArn');
      expect(stack.one(T.taskDefinition, 'chapi-migrate').inputs).not.to.have.property('taskRoleArn');
    });

    it('runs on ARM64, from an arm64 image, when the architecture says so', async () => {
      const arm = await recordStack({ architecture: 'arm64' });
      expect(arm.one(T.taskDefinition, 'chapi-api').inputs.runtimePlatform).to.deep.equal({ operatingSystemFamily: 'LINUX', cpuArchitecture: 'ARM64' });
      expect(arm.one(T.taskDefinition, 'chapi-migrate').inputs.runtimePlatform).to.include({ cpuArchitecture: 'ARM64' });
      const publish = arm.one(T.command, 'chapi-image').inputs;
      expect(JSON.parse((publish.environment as Record<string, string>).PUBLISH_IMAGE_INPUT as string)).to.include({ platform: 'linux/arm64' });
    });
  });

  // ECS refuses to run or roll back to an INACTIVE revision:
  // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deregister-task-definition-v2.html
  it('keeps replaced task definition revisions ACTIVE (skipDestroy), so the runbook can roll back to one', () => {
    for (const family of ['chapi-api', 'chapi-migrate']) expect(stack.one(T.taskDefinition, family).inputs.skipDestroy, family).to.equal(true);
  });

  describe('the migration task definition', () => {
    it('runs the migrate command of the same image, hardened the same way', () => {
      const migrate = container(stack, 'migrate');
      // The command itself is run against the built image by test/image/build-steps.test.ts.
      expect(migrate.command).to.deep.equal(MIGRATION_COMMAND);
      expect(migrate.image).to.equal(container(stack, 'api').image);
      expect(migrate).to.include({ user: '1000:1000', readonlyRootFilesystem: true, privileged: false });
      expect(migrate.linuxParameters.initProcessEnabled).to.equal(true);
      expect(migrate.portMappings).to.deep.equal([]);
      expect(migrate.logConfiguration.options).to.include({ 'awslogs-group': '/ecs/task-api', 'awslogs-stream-prefix': 'migrate' });
    });

    it('gets the direct database URL and the service keys, and nothing else secret', () => {
      expect(container(stack, 'migrate').secrets).to.deep.equal([
        { name: 'MIGRATION_DATABASE_URL', valueFrom: `${secretArn('migration-database-url')}:::version-chapi-migration-database-url` },
        { name: 'SERVICE_API_KEYS', valueFrom: `${secretArn('service-api-keys')}:::version-chapi-service-api-keys` },
      ]);
      expect(container(stack, 'migrate').environment).to.deep.equal([
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'NODE_ENV', value: 'production' },
      ]);
    });
  });

  describe('execution roles', () => {
    const policy = (role: string) => {
      const inline = stack.one(T.role, role).inputs.inlinePolicies as { policy: string }[];
      expect(inline).to.have.length(1);
      return statements((inline[0] as { policy: string }).policy);
    };

    it('are assumed by ECS tasks only, on behalf of this account, and carry no managed policies', () => {
      for (const role of ['chapi-api-execution', 'chapi-migrate-execution']) {
        const inputs = stack.one(T.role, role).inputs;
        const trust = inputs.assumeRolePolicy as { Statement: Record<string, unknown>[] };
        expect(trust.Statement).to.have.length(1);
        expect(trust.Statement[0]).to.deep.include({ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' } });
        // Cross-service confused deputy: ECS acting for another account cannot assume it.
        expect(trust.Statement[0]?.Condition).to.deep.equal({ StringEquals: { 'aws:SourceAccount': '123456789012' } });
        expect(inputs).not.to.have.property('managedPolicyArns');
      }
      expect(stack.one(T.taskDefinition, 'chapi-api').inputs.executionRoleArn).to.equal('arn:aws:iam:us-east-1:123456789012:role/chapi-api-execution');
      expect(stack.one(T.taskDefinition, 'chapi-migrate').inputs.executionRoleArn).to.equal('arn:aws:iam:us-east-1:123456789012:role/chapi-migrate-execution');
    });

    it('read exactly their own secrets, by ARN', () => {
      const reads = (role: string) => policy(role).filter((s) => s.actions.includes('secretsmanager:GetSecretValue'));
      expect(reads('chapi-api-execution')).to.deep.equal([
        { sid: 'ReadOwnSecrets', actions: ['secretsmanager:GetSecretValue'], resources: [secretArn('database-url'), secretArn('admin-api-key')] },
      ]);
      expect(reads('chapi-migrate-execution')).to.deep.equal([
        { sid: 'ReadOwnSecrets', actions: ['secretsmanager:GetSecretValue'], resources: [secretArn('migration-database-url'), secretArn('service-api-keys')] },
      ]);
    });

    it('pull from this repository and write this log group; only the ECR login is unscoped', () => {
      for (const role of ['chapi-api-execution', 'chapi-migrate-execution']) {
        const all = policy(role);
        expect(all.find((s) => s.sid === 'PullThisRepository')?.resources).to.deep.equal(['arn:aws:ecr:us-east-1:123456789012:repository/chapi-repository']);
        expect(all.find((s) => s.sid === 'WriteThisLogGroup')?.resources).to.deep.equal([
          'arn:aws:logs:us-east-1:123456789012:log-group:/ecs/task-api:log-stream:*',
        ]);
        const unscoped = all.filter((s) => s.resources.includes('*'));
        expect(unscoped).to.deep.equal([{ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }]);
        for (const statement of all) {
          for (const action of statement.actions) expect(action).not.to.include('*');
        }
      }
    });
  });

  describe('the service', () => {
    it('runs 2 tasks in the private subnets with no public IP, behind the target group', () => {
      const service = stack.one(T.service, 'chapi-api').inputs;
      // LATEST: the newest Fargate platform (FSBP ECS.10).
      expect(service).to.include({ name: 'chapi-api', desiredCount: 2, launchType: 'FARGATE', platformVersion: 'LATEST' });
      expect(service.networkConfiguration).to.deep.equal({
        assignPublicIp: false,
        securityGroups: ['chapi-tasks-id'],
        subnets: ['subnet-private-a', 'subnet-private-b'],
      });
      expect(service.loadBalancers).to.deep.equal([
        { targetGroupArn: 'arn:aws:lb:us-east-1:123456789012:targetGroup/chapi-api', containerName: 'api', containerPort: 8000 },
      ]);
      expect(service.taskDefinition).to.equal('arn:aws:ecs:us-east-1:123456789012:task-definition/chapi-api:1');
    });

    it('rolls 100 % / 200 % with the circuit breaker rolling back, a 60 s grace and waits for steady state', () => {
      const service = stack.one(T.service, 'chapi-api').inputs;
      expect(service).to.deep.include({
        deploymentMinimumHealthyPercent: 100,
        deploymentMaximumPercent: 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        healthCheckGracePeriodSeconds: 60,
        waitForSteadyState: true,
      });
    });

    it('rolls only after the migration run and the HTTPS listener, and leaves the task count to autoscaling', () => {
      const service = stack.one(T.service, 'chapi-api');
      expect(service.dependsOn).to.have.members(['chapi:migration:Migration chapi-migration', 'aws:lb/listener:Listener chapi-https']);
      expect(service.ignoreChanges).to.deep.equal(['desiredCount']);
    });

    it('fails the deploy afterwards if the circuit breaker rolled the new revision back', () => {
      const check = stack.one(T.command, 'chapi-rollout-check');
      expect(check.dependsOn).to.deep.equal(['aws:ecs/service:Service chapi-api']);
      expect(check.inputs.create).to.equal('node --import tsx infra/cli/check-rollout.ts');
      expect(check.inputs.triggers).to.deep.equal(['arn:aws:ecs:us-east-1:123456789012:task-definition/chapi-api:1']);
      const environment = check.inputs.environment as Record<string, string>;
      expect(JSON.parse(environment.CHECK_ROLLOUT_INPUT as string)).to.deep.include({
        service: 'chapi-api',
        taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/chapi-api:1',
      });
    });

    it('scales between 2 and the configured maximum on CPU and on ALB requests per target', () => {
      expect(stack.one(T.scalingTarget, 'chapi-scaling').inputs).to.include({
        minCapacity: 2,
        maxCapacity: 6,
        serviceNamespace: 'ecs',
        scalableDimension: 'ecs:service:DesiredCount',
        resourceId: 'service/chapi/chapi-api',
      });
      const cpu = stack.one(T.scalingPolicy, 'chapi-scaling-cpu').inputs.targetTrackingScalingPolicyConfiguration as Record<string, unknown>;
      expect(cpu).to.deep.include({ targetValue: 60, predefinedMetricSpecification: { predefinedMetricType: 'ECSServiceAverageCPUUtilization' } });
      const requests = stack.one(T.scalingPolicy, 'chapi-scaling-requests').inputs.targetTrackingScalingPolicyConfiguration as Record<string, unknown>;
      expect(requests).to.deep.include({
        targetValue: 3000,
        predefinedMetricSpecification: {
          predefinedMetricType: 'ALBRequestCountPerTarget',
          resourceLabel: 'app/chapi-alb/0123456789abcdef/targetgroup/chapi-api/0123456789abcdef',
        },
      });
    });

    it('keeps Container Insights as configured (off in prod for cost)', async () => {
      expect(stack.one(T.cluster, 'chapi-cluster').inputs.settings).to.deep.equal([{ name: 'containerInsights', value: 'disabled' }]);
      const insights = await recordStack({ containerInsights: 'true' });
      expect(insights.one(T.cluster, 'chapi-cluster').inputs.settings).to.deep.equal([{ name: 'containerInsights', value: 'enabled' }]);
    });
  });

  it('changes the task definitions when a secret gets a new version', async () => {
    // The version id is part of valueFrom, so a new value means a new revision and a rollout.
    const versions = stack.all(T.secretVersion).map((version) => version.name);
    expect(versions).to.have.members(['chapi-database-url', 'chapi-migration-database-url', 'chapi-admin-api-key', 'chapi-service-api-keys']);
    const valueFroms = [...container(stack, 'api').secrets, ...container(stack, 'migrate').secrets].map((secret) => secret.valueFrom);
    for (const version of versions) expect(valueFroms.some((valueFrom) => valueFrom.endsWith(`:::version-${version}`))).to.equal(true);
    expect(unsecret(stack.one(T.secretVersion, 'chapi-database-url').inputs.secretString)).to.match(/-pooler\./);
  });
});
