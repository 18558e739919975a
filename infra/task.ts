/**
 * What every chapi task definition shares, whoever owns it (the API service, the migration):
 * the hardened container (non-root, read-only root, no capabilities, init as PID 1), awslogs
 * into the one log group, secrets by pinned version, and an execution role that can pull this
 * repository, write this log group and read exactly the task's own secrets.
 *
 * `TaskPlatform` is what a task's owner receives from the service component: the cluster, the
 * log group, the network and the image, so that the owner declares its own role and task
 * definition without knowing how the cluster was built.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { Architecture, LogLevel } from './config.js';
import { serviceTrustPolicy, workloadBoundaryArn } from './iam.js';
import type { SecretRef } from './secrets.js';

/** The seed's log group: every task definition writes here, under its own stream prefix. */
export const LOG_GROUP_NAME = '/ecs/task-api';
/** The image's `node` user (uid/gid 1000): never root, even if the image forgot to say so. */
export const CONTAINER_USER = '1000:1000';
/** ECS sends SIGKILL this long after SIGTERM: the API's drain plus time to close the pool and flush logs. */
export const STOP_TIMEOUT_S = 30;
/** awslogs buffers this much in non-blocking mode, so a CloudWatch hiccup never blocks stdout. */
const LOG_BUFFER = '4m';

/** Where and how a task of this stack runs: handed by the service component to a task's owner. */
export interface TaskPlatform {
  /** The logical-name prefix of the stack's resources. @example 'chapi' */
  prefix: string;
  /** The component the owner's resources are parented to. */
  parent: pulumi.Resource;
  region: string;
  accountId: pulumi.Input<string>;
  clusterArn: pulumi.Input<string>;
  logGroup: aws.cloudwatch.LogGroup;
  /** The image by digest, and the only repository an execution role may pull from. */
  imageRef: pulumi.Input<string>;
  repositoryArn: pulumi.Input<string>;
  architecture: Architecture;
  cpu: number;
  memoryMiB: number;
  logLevel: LogLevel;
  network: {
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    securityGroupId: pulumi.Input<string>;
    assignPublicIp: boolean;
  };
}

/**
 * What ECS needs to start a task, and nothing else: pull from this repository, write this log
 * group, read exactly these secrets. (AWS's managed execution policy grants every repository
 * and every log group; it is not used.)
 * @example executionRole(platform, 'migrate', [secrets.migrationDatabaseUrl]) // chapi-migrate-execution
 */
export function executionRole(platform: TaskPlatform, role: string, secrets: SecretRef[]): aws.iam.Role {
  const child = { parent: platform.parent };
  const policy = aws.iam.getPolicyDocumentOutput(
    {
      statements: [
        // The one action ECR does not scope to a repository: the registry login token.
        { sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
        {
          sid: 'PullThisRepository',
          actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
          resources: [platform.repositoryArn],
        },
        {
          sid: 'WriteThisLogGroup',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [pulumi.interpolate`${platform.logGroup.arn}:log-stream:*`],
        },
        { sid: 'ReadOwnSecrets', actions: ['secretsmanager:GetSecretValue'], resources: secrets.map((secret) => secret.arn) },
      ],
    },
    child,
  );
  return new aws.iam.Role(
    `${platform.prefix}-${role}-execution`,
    {
      description: `chapi ${role} task execution: pull the image, write logs, read its own secrets`,
      assumeRolePolicy: serviceTrustPolicy('ecs-tasks.amazonaws.com', platform.accountId),
      inlinePolicies: [{ name: 'execution', policy: policy.json }],
      permissionsBoundary: workloadBoundaryArn(platform.accountId),
    },
    child,
  );
}

/** One container of a task definition, as its owner describes it. */
export interface ContainerSpec {
  containerName: string;
  /** The image's default command when undefined. */
  command: string[] | undefined;
  portMappings: { containerPort: number; protocol: string; name: string }[];
  environment: Record<string, pulumi.Input<string>>;
  secrets: Record<string, SecretRef>;
}

/**
 * A Fargate task definition of one hardened container, family `chapi-<family>`, logging under
 * the stream prefix `<family>`.
 *
 * `skipDestroy`: a replaced revision stays ACTIVE instead of being deregistered, because ECS
 * refuses to run or roll back to an INACTIVE revision ("You can't use an INACTIVE task
 * definition revision to run new tasks or create new services. You also can't update an
 * existing service to reference an INACTIVE task definition revision":
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deregister-task-definition-v2.html),
 * and the runbook's emergency rollback is `update-service --task-definition <previous>`.
 * (`skipDestroy` on aws.ecs.TaskDefinition: https://www.pulumi.com/registry/packages/aws/api-docs/ecs/taskdefinition/)
 */
export function fargateTaskDefinition(
  platform: TaskPlatform,
  family: string,
  role: aws.iam.Role,
  container: ContainerSpec,
): aws.ecs.TaskDefinition {
  const definition = {
    name: container.containerName,
    image: platform.imageRef,
    essential: true,
    ...(container.command === undefined ? {} : { command: container.command }),
    portMappings: container.portMappings,
    user: CONTAINER_USER,
    privileged: false,
    readonlyRootFilesystem: true,
    // The only writable path: a task-local volume on /tmp.
    mountPoints: [{ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false }],
    // tini as PID 1 reaps zombies and forwards SIGTERM; no Linux capabilities are needed to
    // listen on 8000 or to talk TLS.
    linuxParameters: { initProcessEnabled: true, capabilities: { drop: ['ALL'] } },
    stopTimeout: STOP_TIMEOUT_S,
    environment: Object.entries(container.environment)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([envName, value]) => ({ name: envName, value })),
    // By ARN and pinned version, never as plain environment values (FSBP ECS.8).
    secrets: Object.entries(container.secrets)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([envName, secret]) => ({ name: envName, valueFrom: secret.valueFrom })),
    logConfiguration: {
      logDriver: 'awslogs',
      options: {
        'awslogs-group': LOG_GROUP_NAME,
        'awslogs-region': platform.region,
        'awslogs-stream-prefix': family,
        mode: 'non-blocking',
        'max-buffer-size': LOG_BUFFER,
      },
    },
  };
  return new aws.ecs.TaskDefinition(
    `${platform.prefix}-${family}`,
    {
      family: `chapi-${family}`,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: String(platform.cpu),
      memory: String(platform.memoryMiB),
      runtimePlatform: {
        operatingSystemFamily: 'LINUX',
        cpuArchitecture: platform.architecture === 'arm64' ? 'ARM64' : 'X86_64',
      },
      executionRoleArn: role.arn,
      // No task role: the application calls no AWS API, so its tasks hold no AWS credentials.
      volumes: [{ name: 'tmp' }],
      containerDefinitions: pulumi.jsonStringify([definition]),
      skipDestroy: true,
    },
    // The log group must exist before a task tries to write to it.
    { parent: platform.parent, dependsOn: [platform.logGroup] },
  );
}
