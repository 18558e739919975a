/**
 * The migration: one component that owns everything about running the migrations during a
 * deploy: its execution role (the direct database URL and the service keys, nothing else), its
 * task definition (the same image and hardening as the API, the migrate command), and the run
 * itself, a real resource in the graph between the image and the service rollout.
 *
 * The run starts the task (same network and logs as the service), waits until it has STOPPED
 * and checks its exit code (`infra/ecs-run-task.ts`). A failure fails the deploy with the log
 * stream named, and the service, which depends on this component, keeps its old revision.
 *
 * A `local.Command` with triggers, rather than work inside an `apply()` (unordered, invisible
 * in previews, no state) or a dynamic provider (which serializes its code and breaks on ESM
 * modules loaded through tsx). The command provider never runs `create` during a preview, and
 * runs it again only when an input changes: the image, the migrations, the version of a secret
 * the task syncs, or the task definition itself.
 *
 * Its settings (`chapi:migrationTimeout`) reach it from the stack config in `infra/program.ts`
 * and go nowhere else: the service component only hands it the platform to run on.
 */
import { local } from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';
import type { SecretRef } from './secrets.js';
import { executionRole, fargateTaskDefinition, type TaskPlatform } from './task.js';

/** The image's migrate entry (the container contract): the image test runs the same command. */
export const MIGRATION_COMMAND: readonly string[] = ['node', 'api/dist/cli/migrate.js', 'up'];
/** The container, task family suffix and log stream prefix of the migration task. */
export const MIGRATION_CONTAINER = 'migrate';
/** The command the run resource runs, from the project root (where Pulumi.yaml is). */
export const RUN_TASK_COMMAND = 'node --import tsx infra/cli/run-task.ts';

export interface MigrationArgs {
  /** Where the task runs: the service's cluster, log group, network and image. */
  platform: TaskPlatform;
  /** The secrets the task reads; each changes the task definition when it gets a new version. */
  secrets: { migrationDatabaseUrl: SecretRef; serviceApiKeys: SecretRef };
  /** The task must stop within this long. @default 600 (`chapi:migrationTimeout`) */
  timeoutSeconds: number;
  /** Extra reasons to rerun the migrations. @example { triggers: [migrationsHash(dir)] } */
  triggers: pulumi.Input<string>[];
}

/**
 * Role, task definition and run of the migrations, once per change, before the service rolls.
 * @example
 * const migration = new Migration('chapi-migration', { platform, secrets, timeoutSeconds: 600, triggers: [hash] });
 * new aws.ecs.Service('api', { … }, { dependsOn: [migration] });
 */
export class Migration extends pulumi.ComponentResource {
  readonly taskDefinitionArn: pulumi.Output<string>;
  /** What the run printed: the task's ARN and its log stream. */
  readonly output: pulumi.Output<string>;

  constructor(name: string, args: MigrationArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chapi:migration:Migration', name, {}, opts);
    const platform: TaskPlatform = { ...args.platform, parent: this };
    const { migrationDatabaseUrl, serviceApiKeys } = args.secrets;

    const role = executionRole(platform, MIGRATION_CONTAINER, [migrationDatabaseUrl, serviceApiKeys]);
    const task = fargateTaskDefinition(platform, MIGRATION_CONTAINER, role, {
      containerName: MIGRATION_CONTAINER,
      command: [...MIGRATION_COMMAND],
      portMappings: [],
      environment: { NODE_ENV: 'production', LOG_LEVEL: platform.logLevel },
      secrets: { MIGRATION_DATABASE_URL: migrationDatabaseUrl, SERVICE_API_KEYS: serviceApiKeys },
    });
    const run = new local.Command(
      name,
      {
        create: RUN_TASK_COMMAND,
        environment: {
          AWS_REGION: platform.region,
          RUN_TASK_INPUT: pulumi.jsonStringify({
            cluster: platform.clusterArn,
            taskDefinition: task.arn,
            containerName: MIGRATION_CONTAINER,
            subnets: platform.network.subnetIds,
            securityGroups: [platform.network.securityGroupId],
            assignPublicIp: platform.network.assignPublicIp,
            logGroup: platform.logGroup.name,
            logStreamPrefix: MIGRATION_CONTAINER,
            timeoutSeconds: args.timeoutSeconds,
          }),
        },
        triggers: [platform.imageRef, ...args.triggers, migrationDatabaseUrl.versionId, serviceApiKeys.versionId],
        addPreviousOutputInEnv: false,
      },
      { parent: this },
    );

    this.taskDefinitionArn = task.arn;
    this.output = run.stdout;
    this.registerOutputs({ taskDefinitionArn: this.taskDefinitionArn, output: this.output });
  }
}
