/**
 * The migration run: a real resource in the graph between the image and the service rollout.
 * During `pulumi up` it starts the migration task (same image digest, network and logs as the
 * service; its own secrets), waits until the task has STOPPED and checks its exit code
 * (`infra/ecs-run-task.ts`). A failure fails the deploy with the log stream named, and the
 * service, which depends on this resource, keeps its old revision.
 *
 * A `local.Command` with triggers, rather than work inside an `apply()` (unordered, invisible
 * in previews, no state) or a dynamic provider (which serializes its code and breaks on ESM
 * modules loaded through tsx). The command provider never runs `create` during a preview, and
 * runs it again only when an input changes: the image, the migrations, the version of a secret
 * the task syncs, or the task definition itself.
 */
import { local } from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';

/** The command the resource runs, from the project root (where Pulumi.yaml is). */
export const RUN_TASK_COMMAND = 'node --import tsx infra/cli/run-task.ts';

export interface MigrationRunArgs {
  /** The cluster to run the task in (the service's). */
  cluster: pulumi.Input<string>;
  /** The migration task definition, a pinned revision. */
  taskDefinitionArn: pulumi.Input<string>;
  /** The container whose exit code decides. @example { containerName: 'migrate' } */
  containerName: string;
  /** The service's subnets and security group: the task reaches Neon the way the API does. */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  securityGroupIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Only in the no-NAT mode. @default false */
  assignPublicIp: boolean;
  /** The task definition's awslogs group and stream prefix, to name the stream on failure. */
  logGroupName: pulumi.Input<string>;
  logStreamPrefix: string;
  /** The task must stop within this long. @default 600 (`chapi:migrationTimeout`) */
  timeoutSeconds: number;
  /** Region of the ECS calls. @example { region: 'us-east-1' } */
  region: string;
  /**
   * What reruns the migrations when it changes: the image digest, the migrations' content
   * hash, and the version ids of the secrets the task syncs.
   * @example { triggers: [registry.imageRef, migrationsHash(dir), secrets.serviceApiKeys.versionId] }
   */
  triggers: pulumi.Input<string>[];
}

/**
 * Runs the migrations once per change, before the service rolls.
 * @example
 * const migration = new MigrationRun('chapi-migrate', { cluster: cluster.arn, … });
 * new aws.ecs.Service('api', { … }, { dependsOn: [migration] });
 */
export class MigrationRun extends pulumi.ComponentResource {
  /** What the run printed: the task's ARN and its log stream. */
  readonly output: pulumi.Output<string>;

  constructor(name: string, args: MigrationRunArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chapi:migration:MigrationRun', name, {}, opts);
    const command = new local.Command(
      name,
      {
        create: RUN_TASK_COMMAND,
        environment: {
          AWS_REGION: args.region,
          RUN_TASK_INPUT: pulumi.jsonStringify({
            cluster: args.cluster,
            taskDefinition: args.taskDefinitionArn,
            containerName: args.containerName,
            subnets: args.subnetIds,
            securityGroups: args.securityGroupIds,
            assignPublicIp: args.assignPublicIp,
            logGroup: args.logGroupName,
            logStreamPrefix: args.logStreamPrefix,
            timeoutSeconds: args.timeoutSeconds,
          }),
        },
        triggers: args.triggers,
        addPreviousOutputInEnv: false,
      },
      { parent: this },
    );
    this.output = command.stdout;
    this.registerOutputs({ output: this.output });
  }
}
