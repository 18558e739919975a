/**
 * The API on ECS Fargate: cluster, log group, the API's execution role and task definition, the
 * service, and its autoscaling. What must happen before a rollout (the migration, which owns
 * its own role, task definition and run: `infra/migration.ts`) is handed in by the program and
 * declared on this component's platform; the service waits for it. The constructor reads as
 * the deploy does: the task is defined, the migration runs, then the service rolls.
 */
import * as aws from '@pulumi/aws';
import { local } from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';
import type { Architecture, LogLevel } from './config.js';
import { CONTAINER_PORT } from './network.js';
import type { SecretRef } from './secrets.js';
import { executionRole, fargateTaskDefinition, LOG_GROUP_NAME, type TaskPlatform } from './task.js';

export { LOG_GROUP_NAME } from './task.js';
export const API_CONTAINER = 'api';
/**
 * The API drains in-flight requests this long after SIGTERM (api/src/config.ts default,
 * set explicitly so the pair with `STOP_TIMEOUT_S` in `infra/task.ts` is visible).
 */
export const APP_DRAIN_MS = 25_000;
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

export interface ApiServiceArgs {
  /** The region of the log configuration and the deploy commands. @example { region: 'us-east-1' } */
  region: string;
  /** The image by digest (`Registry.imageRef`); every task definition runs it. */
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
  /** The API's `RATE_LIMIT_KEY_RPS` (0: off). */
  rateLimitKeyRps: number;
  /** Where tasks run (the service's, and whatever runs before the rollout). */
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
  /** The API's secrets; its execution role reads exactly these. */
  secrets: { databaseUrl: SecretRef; adminApiKey: SecretRef };
  /**
   * What must finish before every rollout, declared on this service's platform (cluster, log
   * group, network, image). The service depends on what it returns.
   * @example { beforeRollout: (platform) => new Migration('chapi-migration', { platform, … }) }
   */
  beforeRollout: (platform: TaskPlatform) => pulumi.Resource;
}

/**
 * Cluster, API task definition, the work before a rollout, service, autoscaling.
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

  constructor(name: string, args: ApiServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chapi:service:ApiService', name, {}, opts);
    // Options of every child resource: parented to this component (the SST way).
    const child = { parent: this };

    const cluster = createCluster();
    const logGroup = createLogGroup();
    const platform: TaskPlatform = {
      prefix: name,
      parent: this,
      region: args.region,
      accountId: aws.getCallerIdentityOutput({}, child).accountId,
      clusterArn: cluster.arn,
      logGroup,
      imageRef: args.imageRef,
      repositoryArn: args.repositoryArn,
      architecture: args.architecture,
      cpu: args.cpu,
      memoryMiB: args.memoryMiB,
      logLevel: args.logLevel,
      network: {
        subnetIds: args.network.subnetIds,
        securityGroupId: args.network.securityGroupId,
        assignPublicIp: args.network.assignPublicIp,
      },
    };
    const apiTask = fargateTaskDefinition(
      platform,
      API_CONTAINER,
      executionRole(platform, API_CONTAINER, [args.secrets.databaseUrl, args.secrets.adminApiKey]),
      {
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
          RATE_LIMIT_KEY_RPS: String(args.rateLimitKeyRps),
        },
        secrets: { DATABASE_URL: args.secrets.databaseUrl, ADMIN_API_KEY: args.secrets.adminApiKey },
      },
    );
    const beforeRollout = args.beforeRollout(platform);
    const service = createService();
    createRolloutCheck();
    createAutoScaling();

    this.clusterName = cluster.name;
    this.serviceName = service.name;
    this.logGroupName = logGroup.name;
    this.apiTaskDefinitionArn = apiTask.arn;
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
          dependsOn: [beforeRollout, args.loadBalancer.listener],
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
