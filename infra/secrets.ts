/**
 * Secrets Manager: the two database URLs from stack config and the keys generated at deploy
 * time (the admin key, one service key per client). Each secret is exposed with the ARN its
 * reader's IAM policy names and a `valueFrom` pinned to the current version, so that a new
 * value changes the task definitions that read it: ECS resolves secrets only when a task
 * starts, and a pinned version means a task never starts with a stale or a half-rotated value.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { DatabaseUrls } from './config.js';

/**
 * Generated keys are 64 characters of [A-Za-z0-9] (~381 bits), above the API's floor: the
 * admin key needs 32 characters (api/src/config.ts), a service key's secret 43..200
 * alphanumerics (api/src/keys/format.ts SERVICE_KEY_PATTERN).
 */
export const GENERATED_KEY_LENGTH = 64;
/** A deleted secret can be restored for this long (Secrets Manager allows 7–30 days). */
const RECOVERY_WINDOW_DAYS = 7;

/** One secret as its readers need it. */
export interface SecretRef {
  /** The secret's ARN: what an execution role's policy names. */
  arn: pulumi.Output<string>;
  /** The current version's id: a change here must restart the tasks that read the secret. */
  versionId: pulumi.Output<string>;
  /** `arn:::versionId`: the task definition's `valueFrom`, pinned to this version. */
  valueFrom: pulumi.Output<string>;
}

export interface SecretsArgs {
  /** Secret names start with this. @example { prefix: 'chapi/prod' } */
  prefix: string;
  databaseUrls: DatabaseUrls;
  /** One service key per client, named after it. @example { serviceClients: ['cathouse', 'mobile'] } */
  serviceClients: string[];
  /** The environment generated service keys are for (`sk_<env>_…`). @default 'prod' */
  keyEnvironment: 'dev' | 'test' | 'prod';
}

/**
 * The four secrets of a stack.
 *
 * Cost (us-east-1): $0.40 per secret-month ($1.60 for four) and $0.05 per 10,000 API calls
 * (ECS reads each secret once per task start: cents).
 *
 * @example
 * const secrets = new Secrets('chapi', { prefix: 'chapi/prod', databaseUrls, serviceClients: ['cathouse', 'mobile'], keyEnvironment: 'prod' });
 * secrets.databaseUrl.valueFrom; // for the API's DATABASE_URL
 */
export class Secrets extends pulumi.ComponentResource {
  /** Neon pooler URL: the API's `DATABASE_URL`. */
  readonly databaseUrl: SecretRef;
  /** Neon direct URL: the migration task's `MIGRATION_DATABASE_URL`. */
  readonly migrationDatabaseUrl: SecretRef;
  /** The API's `ADMIN_API_KEY`. */
  readonly adminApiKey: SecretRef;
  /** `{ "client": "sk_prod_…" }`: the migration task's `SERVICE_API_KEYS`, synced into the database. */
  readonly serviceApiKeys: SecretRef;

  constructor(name: string, args: SecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chapi:secrets:Secrets', name, {}, opts);
    // Options of every child resource: parented to this component (the SST way).
    const child = { parent: this };

    const secret = (id: string, description: string, value: pulumi.Input<string>): SecretRef => {
      const resource = new aws.secretsmanager.Secret(
        `${name}-${id}`,
        { name: `${args.prefix}/${id}`, description, recoveryWindowInDays: RECOVERY_WINDOW_DAYS },
        child,
      );
      const version = new aws.secretsmanager.SecretVersion(
        `${name}-${id}`,
        { secretId: resource.id, secretString: pulumi.secret(value) },
        child,
      );
      return {
        arn: resource.arn,
        versionId: version.versionId,
        // ECS's format is arn:json-key:version-stage:version-id; the key and stage stay empty.
        valueFrom: pulumi.interpolate`${resource.arn}:::${version.versionId}`,
      };
    };
    const generatedKey = (id: string): random.RandomPassword =>
      new random.RandomPassword(`${name}-${id}`, { length: GENERATED_KEY_LENGTH, special: false }, child);

    this.databaseUrl = secret('database-url', "Neon pooler URL (the API's DATABASE_URL)", args.databaseUrls.pooled);
    this.migrationDatabaseUrl = secret(
      'migration-database-url',
      "Neon direct URL (the migration task's MIGRATION_DATABASE_URL)",
      args.databaseUrls.direct,
    );
    this.adminApiKey = secret('admin-api-key', "the API's ADMIN_API_KEY", generatedKey('admin-api-key').result);
    const serviceKeys = Object.fromEntries(
      args.serviceClients.map((client) => [
        client,
        pulumi.interpolate`sk_${args.keyEnvironment}_${generatedKey(`service-key-${client}`).result}`,
      ]),
    );
    this.serviceApiKeys = secret(
      'service-api-keys',
      "one service key per client (the migration task's SERVICE_API_KEYS)",
      pulumi.jsonStringify(serviceKeys),
    );
    this.registerOutputs({});
  }
}
