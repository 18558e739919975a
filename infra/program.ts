/**
 * The whole stack from its validated config: network → edge → registry → secrets → service
 * (API task definition, the migration before each rollout, rollout, autoscaling) → alarms. `infra/index.ts` calls it
 * with the stack's config; the tests and the offline plan call it under mocks.
 */
import type * as pulumi from '@pulumi/pulumi';
import { Alarms } from './alarms.js';
import { SMOKE_CLIENT, type DatabaseUrls, type StackConfig } from './config.js';
import { Edge } from './edge.js';
import { Migration } from './migration.js';
import { Network } from './network.js';
import { Registry } from './registry.js';
import { Secrets } from './secrets.js';
import { ApiService } from './service.js';
import { Waf } from './waf.js';

export interface ProgramInputs {
  config: StackConfig;
  databaseUrls: DatabaseUrls;
  /** Content hash of the image's build inputs (`buildInputsHash()`). */
  buildInputsHash: string;
  /** Content hash of `migrations/` (`migrationsHash()`). */
  migrationsHash: string;
  /** The stack's name (secret names and the key environment derive from it). */
  stack: string;
}

/** What an operator needs after a deploy: the stack outputs. */
export interface ProgramOutputs {
  url: string;
  albDnsName: pulumi.Output<string>;
  clusterName: pulumi.Output<string>;
  serviceName: pulumi.Output<string>;
  repositoryUrl: pulumi.Output<string>;
  imageRef: pulumi.Output<string>;
  /** The commit the deployed image reports on /health (empty if unknown): the smoke test waits for it. */
  appVersion: pulumi.Output<string>;
  logGroup: pulumi.Output<string>;
  alarmTopicArn: pulumi.Output<string>;
  secretArns: {
    databaseUrl: pulumi.Output<string>;
    migrationDatabaseUrl: pulumi.Output<string>;
    adminApiKey: pulumi.Output<string>;
    serviceApiKeys: pulumi.Output<string>;
  };
  /**
   * Where the deploy's smoke test finds its key: the secret's ARN and the JSON key inside it.
   * The deploy role reads it after `pulumi up` (it may read the stack's secrets anyway: Pulumi
   * reads a SecretVersion back on refresh) and masks it in the log.
   */
  smokeKey: { secretArn: pulumi.Output<string>; jsonKey: string };
}

/** Declares every resource of the stack. */
export function createChapi({ config, databaseUrls, buildInputsHash, migrationsHash, stack }: ProgramInputs): ProgramOutputs {
  const name = 'chapi';
  const network = new Network(name, { natMode: config.natMode, flowLogRetentionDays: config.logRetentionDays });
  const edge = new Edge(name, {
    zone: config.zone,
    domain: config.domain,
    certificateDomain: config.certificateDomain,
    vpcId: network.vpcId,
    publicSubnetIds: network.publicSubnetIds,
    albSecurityGroupId: network.albSecurityGroupId,
    adminAllowlist: config.adminAllowlist,
    deletionProtection: config.deletionProtection,
  });
  if (config.waf.enabled) {
    new Waf(name, { loadBalancerArn: edge.loadBalancerArn, requestsPerMinutePerIp: config.waf.requestsPerMinutePerIp });
  }
  const registry = new Registry(name, {
    repositoryName: 'chapi-api',
    buildInputsHash,
    architecture: config.architecture,
    imageRetentionCount: config.imageRetentionCount,
    region: config.region,
  });
  const secrets = new Secrets(name, {
    prefix: `chapi/${stack}`,
    databaseUrls,
    serviceClients: config.serviceClients,
    // The tasks run with NODE_ENV=production, where only sk_prod_ keys authenticate.
    keyEnvironment: 'prod',
  });
  const api = new ApiService(name, {
    region: config.region,
    imageRef: registry.imageRef,
    repositoryArn: registry.repositoryArn,
    architecture: config.architecture,
    cpu: config.cpu,
    memoryMiB: config.memoryMiB,
    desiredCount: config.desiredCount,
    autoscaling: config.autoscaling,
    logRetentionDays: config.logRetentionDays,
    logLevel: config.logLevel,
    corsOrigins: config.corsOrigins,
    dbPoolMax: config.dbPoolMax,
    rateLimitKeyRps: config.rateLimitKeyRps,
    containerInsights: config.containerInsights,
    network: {
      subnetIds: network.taskSubnetIds,
      securityGroupId: network.taskSecurityGroupId,
      assignPublicIp: network.assignPublicIp,
    },
    loadBalancer: {
      targetGroupArn: edge.targetGroupArn,
      loadBalancerArnSuffix: edge.loadBalancerArnSuffix,
      targetGroupArnSuffix: edge.targetGroupArnSuffix,
      listener: edge.httpsListener,
    },
    secrets: { databaseUrl: secrets.databaseUrl, adminApiKey: secrets.adminApiKey },
    // The migration's settings go from the config straight to the component that uses them.
    beforeRollout: (platform) =>
      new Migration(
        `${name}-migration`,
        {
          platform,
          secrets: { migrationDatabaseUrl: secrets.migrationDatabaseUrl, serviceApiKeys: secrets.serviceApiKeys },
          timeoutSeconds: config.migrationTimeoutSeconds,
          triggers: [migrationsHash],
        },
        { parent: platform.parent },
      ),
  });
  const alarms = new Alarms(name, {
    loadBalancerArnSuffix: edge.loadBalancerArnSuffix,
    targetGroupArnSuffix: edge.targetGroupArnSuffix,
    alarmEmail: config.alarmEmail,
    monthlyBudgetUsd: config.monthlyBudgetUsd,
  });

  return {
    url: edge.url,
    albDnsName: edge.loadBalancerDnsName,
    clusterName: api.clusterName,
    serviceName: api.serviceName,
    repositoryUrl: registry.repositoryUrl,
    imageRef: registry.imageRef,
    appVersion: registry.appVersion,
    logGroup: api.logGroupName,
    alarmTopicArn: alarms.topicArn,
    secretArns: {
      databaseUrl: secrets.databaseUrl.arn,
      migrationDatabaseUrl: secrets.migrationDatabaseUrl.arn,
      adminApiKey: secrets.adminApiKey.arn,
      serviceApiKeys: secrets.serviceApiKeys.arn,
    },
    smokeKey: { secretArn: secrets.serviceApiKeys.arn, jsonKey: SMOKE_CLIENT },
  };
}
