/**
 * The API on ECS Fargate: cluster, log group, execution roles, the API and migration task
 * definitions, the migration run, the service, and its autoscaling. The constructor reads as
 * the deploy does: tasks are defined, the migrations run, then the service rolls.
 */
import * as aws from '@pulumi/aws';
import { local } from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';
import type { Architecture, LogLevel } from './config.js';
import { serviceTrustPolicy } from './iam.js';
import { MigrationRun } from './migration.js';
import { CONTAINER_PORT } from './network.js';
import type { SecretRef } from './secrets.js';

/** The seed's log group: both task definitions write here, under their own stream prefixes. */
export const LOG_GROUP_NAME = '/ecs/task-api';
export const API_CONTAINER = 'api';
export const MIGRATE_CONTAINER = 'migrate';
/** The image's migrate entry (the container contract); the API command is the image default. */
export const MIGRATE_COMMAND = ['node', 'api/dist/cli/migrate.js', 'up'];
/** The image's `node` user (uid/gid 1000): never root, even if the image forgot to say so. */
export const CONTAINER_USER = '1000:1000';
/**
 * The API drains in-flight requests this long after SIGTERM (api/src/config.ts default,
 * set explicitly so the pair below is visible in one place).
 */
export const APP_DRAIN_MS = 25_000;
/** ECS sends SIGKILL this long after SIGTERM: the drain plus time to close the pool and flush logs. */
export const STOP_TIMEOUT_S = 30;
/**
 * The ALB's health checks are ignored this long after a task starts: a cold start (image pull
 * is before this clock; Node start + first DB connect) takes ~10–20 s, two passing checks at
 * 30 s take another minute at worst.
 */
export const HEALTH_CHECK_GRACE_S = 60;
/** Rolling deploy: keep every running task until its replacement is healthy. */
export const DEPLOYMENT_MIN_HEALTHY_PERCENT = 100;
export const DEPLOYMENT_MAX_PERCENT = 200;
/** Scale out fast on load, scale in slowly so a burst does not flap the task count. */
const SCALE_OUT_COOLDOWN_S = 60;
const SCALE_IN_COOLDOWN_S = 300;
/** The command the rollout check resource runs, from the project root. */
export const CHECK_ROLLOUT_COMMAND = 'node --import tsx infra/cli/check-rollout.ts';
/**
 * A rollout still in progress after the service resource returned gets this long to finish:
 * the circuit breaker gives up after at most 10 failed task launches (ECS's threshold for a
 * desired count under 20), each a pull, a 60 s grace and 3 failed checks 30 s apart.
 */
const ROLLOUT_CHECK_TIMEOUT_S = 900;
/** awslogs buffers this much in non-blocking mode, so a CloudWatch hiccup never blocks stdout. */
const LOG_BUFFER = '4m';

export interface ApiServiceArgs {
  /** The region of the log configuration and the deploy commands. @example { region: 'us-east-1' } */
  region: string;
  /** The image by digest (`Registry.imageRef`); both task definitions run it. */
  imageRef: pulumi.Input<string>;
  /** The only repository the execution roles may pull from. */
  repositoryArn: pulumi.Input<string>;
  /** CPU architecture of the tasks (the image is built for it). @default 'x86_64' */
  architecture: Architecture;
  /** Fargate CPU units. @default 256 (0.25 vCPU) */
  cpu: number;
  /** Fargate memory, MiB. @default 512 */
  memoryMiB: number;
  /** @default 2 */
  desiredCount: number;
  /** Task count bounds and targets. @default { min: 2, max: 6, cpuTargetPercent: 60, requestsPerTargetPerMinute: 3000 } */
  autoscaling: { min: number; max: number; cpuTargetPercent: number; requestsPerTargetPerMinute: number };
  /** Days `/ecs/task-api` keeps events. @default 30 */
  logRetentionDays: number;
  /** The API's `LOG_LEVEL`. @default 'info' */
  logLevel: LogLevel;
  /** The API's `CORS_ORIGINS`. @default [] */
  corsOrigins: string[];
  /** The API's `DB_POOL_MAX` per task. @default 10 */
  dbPoolMax: number;
  /** ECS Container Insights. @default false (≈ $5–10/month for this service: see infra/README.md) */
  containerInsights: boolean;
  /** Where tasks run (the service's and the migration task's network). */
  network: {
    subnetIds: pulumi.Input<string[]>;
    securityGroupId: pulumi.Input<string>;
    assignPublicIp: boolean;
  };
  loadBalancer: {
    targetGroupArn: pulumi.Input<string>;
    /** `app/…/…` and `targetgroup/…/…`: the request-count scaling metric's label. */
    loadBalancerArnSuffix: pulumi.Input<string>;
    targetGroupArnSuffix: pulumi.Input<string>;
    /** The service must not register targets before the listener exists. */
    listener: pulumi.Resource;
  };
  /** The API reads the first two, the migration task the last two; each role exactly its own. */
  secrets: {
    databaseUrl: SecretRef;
    adminApiKey: SecretRef;
    migrationDatabaseUrl: SecretRef;
    serviceApiKeys: SecretRef;
  };
  /** The migration run before each rollout. */
  migration: {
    /** @default 600 */
    timeoutSeconds: number;
    /** Extra reasons to rerun the migrations (the migrations' content hash). */
    triggers: pulumi.Input<string>[];
  };
}

type Environment = Record<string, pulumi.Input<string>>;
type SecretEnvironment = Record<string, SecretRef>;

/**
 * Cluster, task definitions, migration run, service, autoscaling.
 *
 * Cost (us-east-1, x86_64): a task of 0.25 vCPU and 0.5 GB is 0.25 × $0.04048 + 0.5 × $0.004445
 * = $0.0123/hour (~$9.01/month); two tasks ~$18.02/month (ARM64: 20 % less). CloudWatch Logs:
 * $0.50 per GB ingested, $0.03 per GB-month stored.
 *
 * @example
 * const api = new ApiService('chapi', { imageRef: registry.imageRef, cpu: 256, memoryMiB: 512, … });
 * api.serviceName; // chapi-api
 */
export class ApiService extends pulumi.ComponentResource {
  readonly clusterName: pulumi.Output<string>;
  readonly serviceName: pulumi.Output<string>;
  readonly logGroupName: pulumi.Output<string>;
  readonly apiTaskDefinitionArn: pulumi.Output<string>;
  readonly migrationTaskDefinitionArn: pulumi.Output<string>;

  constructor(name: string, args: ApiServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chapi:service:ApiService', name, {}, opts);
    // Options of every child resource: parented to this component (the SST way).
    const child = { parent: this };
    const accountId = aws.getCallerIdentityOutput({}, child).accountId;

    const cluster = createCluster();
    const logGroup = createLogGroup();
    const apiExecutionRole = createExecutionRole('api', [args.secrets.databaseUrl, args.secrets.adminApiKey]);
    const migrationExecutionRole = createExecutionRole('migrate', [
      args.secrets.migrationDatabaseUrl,
      args.secrets.serviceApiKeys,
    ]);
    const apiTask = createTaskDefinition('api', apiExecutionRole, {
      containerName: API_CONTAINER,
      command: undefined,
      portMappings: [{ containerPort: CONTAINER_PORT, protocol: 'tcp', name: 'http' }],
      environment: {
        NODE_ENV: 'production',
        PORT: String(CONTAINER_PORT),
        LOG_LEVEL: args.logLevel,
        CORS_ORIGINS: args.corsOrigins.join(','),
        DB_POOL_MAX: String(args.dbPoolMax),
        SHUTDOWN_GRACE_MS: String(APP_DRAIN_MS),
      },
      secrets: { DATABASE_URL: args.secrets.databaseUrl, ADMIN_API_KEY: args.secrets.adminApiKey },
    });
    const migrationTask = createTaskDefinition('migrate', migrationExecutionRole, {
      containerName: MIGRATE_CONTAINER,
      command: MIGRATE_COMMAND,
      portMappings: [],
      environment: { NODE_ENV: 'production', LOG_LEVEL: args.logLevel },
      secrets: {
        MIGRATION_DATABASE_URL: args.secrets.migrationDatabaseUrl,
        SERVICE_API_KEYS: args.secrets.serviceApiKeys,
      },
    });
    const migration = new MigrationRun(
      `${name}-migration`,
      {
        cluster: cluster.arn,
        taskDefinitionArn: migrationTask.arn,
        containerName: MIGRATE_CONTAINER,
        subnetIds: args.network.subnetIds,
        securityGroupIds: [args.network.securityGroupId],
        assignPublicIp: args.network.assignPublicIp,
        logGroupName: logGroup.name,
        logStreamPrefix: 'migrate',
        timeoutSeconds: args.migration.timeoutSeconds,
        region: args.region,
        triggers: [
          args.imageRef,
          ...args.migration.triggers,
          args.secrets.migrationDatabaseUrl.versionId,
          args.secrets.serviceApiKeys.versionId,
        ],
      },
      child,
    );
    const service = createService();
    createRolloutCheck();
    createAutoScaling();

    this.clusterName = cluster.name;
    this.serviceName = service.name;
    this.logGroupName = logGroup.name;
    this.apiTaskDefinitionArn = apiTask.arn;
    this.migrationTaskDefinitionArn = migrationTask.arn;
    this.registerOutputs({ clusterName: this.clusterName, serviceName: this.serviceName });

    function createCluster(): aws.ecs.Cluster {
      return new aws.ecs.Cluster(
        `${name}-cluster`,
        {
          name: 'chapi',
          settings: [{ name: 'containerInsights', value: args.containerInsights ? 'enabled' : 'disabled' }],
        },
        child,
      );
    }

    function createLogGroup(): aws.cloudwatch.LogGroup {
      return new aws.cloudwatch.LogGroup(
        `${name}-logs`,
        { name: LOG_GROUP_NAME, retentionInDays: args.logRetentionDays },
        child,
      );
    }

    /**
     * What ECS needs to start a task, and nothing else: pull from this repository, write this
     * log group, read exactly these secrets. (AWS's managed execution policy grants every
     * repository and every log group; it is not used.)
     */
    function createExecutionRole(role: string, secrets: SecretRef[]): aws.iam.Role {
      const policy = aws.iam.getPolicyDocumentOutput({
        statements: [
          // The one action ECR does not scope to a repository: the registry login token.
          { sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
          {
            sid: 'PullThisRepository',
            actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
            resources: [args.repositoryArn],
          },
          {
            sid: 'WriteThisLogGroup',
            actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            resources: [pulumi.interpolate`${logGroup.arn}:log-stream:*`],
          },
          {
            sid: 'ReadOwnSecrets',
            actions: ['secretsmanager:GetSecretValue'],
            resources: secrets.map((secret) => secret.arn),
          },
        ],
      });
      return new aws.iam.Role(
        `${name}-${role}-execution`,
        {
          description: `chapi ${role} task execution: pull the image, write logs, read its own secrets`,
          assumeRolePolicy: serviceTrustPolicy('ecs-tasks.amazonaws.com', accountId),
          inlinePolicies: [{ name: 'execution', policy: policy.json }],
        },
        child,
      );
    }

    function createTaskDefinition(
      family: string,
      executionRole: aws.iam.Role,
      container: {
        containerName: string;
        command: string[] | undefined;
        portMappings: { containerPort: number; protocol: string; name: string }[];
        environment: Environment;
        secrets: SecretEnvironment;
      },
    ): aws.ecs.TaskDefinition {
      const definition = {
        name: container.containerName,
        image: args.imageRef,
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
            'awslogs-region': args.region,
            'awslogs-stream-prefix': family,
            mode: 'non-blocking',
            'max-buffer-size': LOG_BUFFER,
          },
        },
      };
      return new aws.ecs.TaskDefinition(
        `${name}-${family}`,
        {
          family: `chapi-${family}`,
          requiresCompatibilities: ['FARGATE'],
          networkMode: 'awsvpc',
          cpu: String(args.cpu),
          memory: String(args.memoryMiB),
          runtimePlatform: {
            operatingSystemFamily: 'LINUX',
            cpuArchitecture: args.architecture === 'arm64' ? 'ARM64' : 'X86_64',
          },
          executionRoleArn: executionRole.arn,
          // No task role: the application calls no AWS API, so its tasks hold no AWS credentials.
          volumes: [{ name: 'tmp' }],
          containerDefinitions: pulumi.jsonStringify([definition]),
        },
        // The log group must exist before a task tries to write to it.
        { ...child, dependsOn: [logGroup] },
      );
    }

    function createService(): aws.ecs.Service {
      return new aws.ecs.Service(
        `${name}-api`,
        {
          name: 'chapi-api',
          cluster: cluster.arn,
          taskDefinition: apiTask.arn,
          desiredCount: args.desiredCount,
          launchType: 'FARGATE',
          platformVersion: 'LATEST',
          networkConfiguration: {
            subnets: args.network.subnetIds,
            securityGroups: [args.network.securityGroupId],
            assignPublicIp: args.network.assignPublicIp,
          },
          loadBalancers: [
            { targetGroupArn: args.loadBalancer.targetGroupArn, containerName: API_CONTAINER, containerPort: CONTAINER_PORT },
          ],
          healthCheckGracePeriodSeconds: HEALTH_CHECK_GRACE_S,
          deploymentMinimumHealthyPercent: DEPLOYMENT_MIN_HEALTHY_PERCENT,
          deploymentMaximumPercent: DEPLOYMENT_MAX_PERCENT,
          // A rollout whose tasks keep failing is stopped and the previous revision restored.
          deploymentCircuitBreaker: { enable: true, rollback: true },
          // `pulumi up` returns only once the rollout has settled (or fails with it).
          waitForSteadyState: true,
          enableEcsManagedTags: true,
          propagateTags: 'SERVICE',
          enableExecuteCommand: false,
        },
        {
          ...child,
          // Migrations first: a failed migration leaves the service on its old revision.
          dependsOn: [migration, args.loadBalancer.listener],
          // Autoscaling owns the task count after creation; a deploy must not reset it.
          ignoreChanges: ['desiredCount'],
        },
      );
    }

    function createRolloutCheck(): void {
      // After every service update: fail the deploy if the circuit breaker rolled it back,
      // which the service's own wait for a steady state reports as a success.
      new local.Command(
        `${name}-rollout-check`,
        {
          create: CHECK_ROLLOUT_COMMAND,
          environment: {
            AWS_REGION: args.region,
            CHECK_ROLLOUT_INPUT: pulumi.jsonStringify({
              cluster: cluster.arn,
              service: service.name,
              taskDefinition: apiTask.arn,
              timeoutSeconds: ROLLOUT_CHECK_TIMEOUT_S,
            }),
          },
          triggers: [apiTask.arn],
          addPreviousOutputInEnv: false,
        },
        { ...child, dependsOn: [service] },
      );
    }

    function createAutoScaling(): void {
      const target = new aws.appautoscaling.Target(
        `${name}-scaling`,
        {
          serviceNamespace: 'ecs',
          scalableDimension: 'ecs:service:DesiredCount',
          resourceId: pulumi.interpolate`service/${cluster.name}/${service.name}`,
          minCapacity: args.autoscaling.min,
          maxCapacity: args.autoscaling.max,
        },
        child,
      );
      const policy = (id: string, metric: { predefinedMetricType: string; resourceLabel?: pulumi.Input<string> }, value: number) =>
        new aws.appautoscaling.Policy(
          `${name}-scaling-${id}`,
          {
            policyType: 'TargetTrackingScaling',
            serviceNamespace: target.serviceNamespace,
            scalableDimension: target.scalableDimension,
            resourceId: target.resourceId,
            targetTrackingScalingPolicyConfiguration: {
              predefinedMetricSpecification: metric,
              targetValue: value,
              scaleOutCooldown: SCALE_OUT_COOLDOWN_S,
              scaleInCooldown: SCALE_IN_COOLDOWN_S,
            },
          },
          child,
        );
      policy('cpu', { predefinedMetricType: 'ECSServiceAverageCPUUtilization' }, args.autoscaling.cpuTargetPercent);
      policy(
        'requests',
        {
          predefinedMetricType: 'ALBRequestCountPerTarget',
          resourceLabel: pulumi.interpolate`${args.loadBalancer.loadBalancerArnSuffix}/${args.loadBalancer.targetGroupArnSuffix}`,
        },
        args.autoscaling.requestsPerTargetPerMinute,
      );
    }
  }
}
