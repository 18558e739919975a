/**
 * A stand-in for AWS and the Pulumi engine, for the tests and the offline plan: installs
 * `pulumi.runtime.setMocks` with deterministic ids and outputs, and records every resource the
 * program declares (type, name, inputs, parent, dependsOn, ignoreChanges).
 *
 * `setMocks` is process-global and must come before the program's modules are imported (their
 * resource classes bind to the runtime on load): call `installMockCloud()` first, then import
 * the program dynamically.
 */
import * as pulumi from '@pulumi/pulumi';

/** Account and region every mocked ARN uses. */
export const MOCK_ACCOUNT = '123456789012';
export const MOCK_REGION = 'us-east-1';
/** The digest reference the mocked image publish step prints. */
/** The version the mocked publish step reports having built. */
export const MOCK_APP_VERSION = '0123456789abcdef0123456789abcdef01234567';
export const MOCK_IMAGE_REF = `${MOCK_ACCOUNT}.dkr.ecr.${MOCK_REGION}.amazonaws.com/chapi-api@sha256:${'0'.repeat(64)}`;
/** What a mocked RandomPassword generates (never a real key). */
export const MOCK_GENERATED = 'generated0000000000000000000000000000000000000000000000000000000';

/** One declared resource, as the program asked for it. */
export interface RecordedResource {
  type: string;
  name: string;
  /** The parent component as `type name` (e.g. `chapi:edge:Edge chapi`), if any. */
  parent: string | undefined;
  inputs: Record<string, unknown>;
  dependsOn: string[];
  ignoreChanges: string[];
}

/** The resources of one program run, in declaration order. */
export interface Recording {
  resources: RecordedResource[];
  outputs: Record<string, unknown>;
}

const short = (name: string): string => name.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 24);

/** Outputs the provider would compute, for the types whose outputs the program reads. */
function computedState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const [service, kind] = (type.split(':')[1] ?? 'mock/resource').split('/');
  const arn = `arn:aws:${service}:${MOCK_REGION}:${MOCK_ACCOUNT}:${kind ?? 'resource'}/${name}`;
  switch (type) {
    case 'awsx:ec2:Vpc':
      return {
        vpcId: `vpc-${short(name)}`,
        publicSubnetIds: ['subnet-public-a', 'subnet-public-b'],
        privateSubnetIds: inputs.natGateways && (inputs.natGateways as { strategy?: string }).strategy === 'None' ? [] : ['subnet-private-a', 'subnet-private-b'],
      };
    case 'aws:acm/certificate:Certificate':
      return {
        arn,
        domainValidationOptions: [
          {
            domainName: inputs.domainName,
            resourceRecordName: `_validation.${String(inputs.domainName).replace(/^\*\./, '')}.`,
            resourceRecordType: 'CNAME',
            resourceRecordValue: '_token.acm-validations.aws.',
          },
        ],
      };
    case 'aws:acm/certificateValidation:CertificateValidation':
      return { certificateArn: inputs.certificateArn };
    case 'aws:lb/loadBalancer:LoadBalancer':
      return { arn, arnSuffix: `app/${short(name)}/0123456789abcdef`, dnsName: `${short(name)}.${MOCK_REGION}.elb.amazonaws.com`, zoneId: 'Z35SXDOTRQ7X7K' };
    case 'aws:lb/targetGroup:TargetGroup':
      return { arn, arnSuffix: `targetgroup/${short(name)}/0123456789abcdef` };
    case 'aws:route53/record:Record':
      return { fqdn: String(inputs.name) };
    case 'aws:ecr/repository:Repository':
      return { arn, repositoryUrl: `${MOCK_ACCOUNT}.dkr.ecr.${MOCK_REGION}.amazonaws.com/${String(inputs.name)}` };
    case 'aws:cloudwatch/logGroup:LogGroup':
      return { arn: `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:${String(inputs.name)}` };
    case 'aws:secretsmanager/secret:Secret':
      return { arn: `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:${String(inputs.name)}-AbCdEf` };
    case 'aws:secretsmanager/secretVersion:SecretVersion':
      return { versionId: `version-${name}` };
    case 'aws:ecs/taskDefinition:TaskDefinition':
      return { arn: `arn:aws:ecs:${MOCK_REGION}:${MOCK_ACCOUNT}:task-definition/${String(inputs.family)}:1` };
    // The bootstrap project's resources.
    case 'aws:s3/bucket:Bucket':
      return { arn: `arn:aws:s3:::${String(inputs.bucket)}`, bucket: inputs.bucket };
    case 'aws:kms/key:Key':
      return { arn: `arn:aws:kms:${MOCK_REGION}:${MOCK_ACCOUNT}:key/${name}-key-id`, keyId: `${name}-key-id` };
    case 'aws:iam/openIdConnectProvider:OpenIdConnectProvider':
      return { arn: `arn:aws:iam::${MOCK_ACCOUNT}:oidc-provider/${String(inputs.url).replace(/^https:\/\//, '')}` };
    case 'aws:iam/policy:Policy':
      return { arn: `arn:aws:iam::${MOCK_ACCOUNT}:policy/${name}` };
    case 'random:index/randomPassword:RandomPassword':
      return { result: MOCK_GENERATED };
    case 'command:local:Command':
      return {
        stdout: String(inputs.create).includes('publish-image')
          ? `${JSON.stringify({ imageRef: MOCK_IMAGE_REF, appVersion: MOCK_APP_VERSION })}\n`
          : 'task exited 0\n',
        stderr: '',
      };
    default:
      return { arn };
  }
}

/** A statement as `aws.iam.getPolicyDocument` takes it. */
interface PolicyStatementInput {
  sid?: string;
  effect?: string;
  actions?: string[];
  resources?: string[];
  principals?: { type: string; identifiers: string[] }[];
  conditions?: { test: string; variable: string; values: string[] }[];
}

/** The IAM JSON AWS would render, so tests and the policy pack read what AWS will see. */
function policyDocumentJson(statements: PolicyStatementInput[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: statements.map((statement) => ({
      ...(statement.sid === undefined ? {} : { Sid: statement.sid }),
      Effect: statement.effect ?? 'Allow',
      ...(statement.actions === undefined ? {} : { Action: statement.actions }),
      ...(statement.resources === undefined ? {} : { Resource: statement.resources }),
      ...(statement.principals === undefined
        ? {}
        : { Principal: Object.fromEntries(statement.principals.map((principal) => [principal.type, principal.identifiers])) }),
      ...(statement.conditions === undefined
        ? {}
        : {
            Condition: Object.fromEntries(
              statement.conditions.map((condition) => [condition.test, { [condition.variable]: condition.values }]),
            ),
          }),
    })),
  });
}

/** Results of the data sources the program calls. */
function callResult(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case 'aws:route53/getZone:getZone':
      return { zoneId: 'Z0123456789MOCK', name: inputs.name, id: 'Z0123456789MOCK' };
    case 'aws:index/getCallerIdentity:getCallerIdentity':
      return { accountId: MOCK_ACCOUNT, arn: `arn:aws:iam::${MOCK_ACCOUNT}:root`, userId: 'mock' };
    case 'aws:iam/getPolicyDocument:getPolicyDocument':
      return { json: policyDocumentJson((inputs.statements ?? []) as PolicyStatementInput[]) };
    default:
      return {};
  }
}

let recorded: RecordedResource[] = [];
let options = new Map<string, { dependsOn: string[]; ignoreChanges: string[]; parent: string | undefined }>();
let installed = false;

/** Installs the mocks once per process, for one project's stack. */
export async function installMockCloud(stack = 'prod', project = 'chapi'): Promise<void> {
  if (installed) return;
  installed = true;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        const captured = options.get(`${args.type}::${args.name}`);
        recorded.push({
          type: args.type,
          name: args.name,
          parent: captured?.parent,
          inputs,
          dependsOn: captured?.dependsOn ?? [],
          ignoreChanges: captured?.ignoreChanges ?? [],
        });
        return { id: `${args.name}-id`, state: { ...inputs, ...computedState(args.type, args.name, inputs) } };
      },
      call(args) {
        return callResult(args.token, args.inputs as Record<string, unknown>);
      },
    },
    project,
    stack,
    false,
  );
}

/** Sets the stack config the program reads (keys like `chapi:zone`; values as Pulumi passes them: strings). */
export function setStackConfig(values: Record<string, string>, secretKeys: string[] = []): void {
  pulumi.runtime.setAllConfig(values, secretKeys);
}

/** Resources know their type and logical name (not part of the public type). */
interface Named {
  __name?: string;
  __pulumiType?: string;
}
const resourceName = (resource: pulumi.Resource | pulumi.Input<pulumi.Resource>): string =>
  (resource as unknown as Named).__name ?? '?';
const resourceLabel = (resource: pulumi.Resource): string =>
  `${(resource as unknown as Named).__pulumiType ?? '?'} ${resourceName(resource)}`;

/** Pulumi's marker for a secret value inside mocked inputs. */
const SECRET_SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG_VALUE = '1b47061264138c4ac30d75fd1eb44270';

/** True for a value the program marked secret (as the mocks receive it). */
export function isSecretValue(value: unknown): value is { value: unknown } {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG_VALUE;
}

/** The plain value inside a secret (for assertions), or the value itself. */
export function unsecret(value: unknown): unknown {
  return isSecretValue(value) ? value.value : value;
}

/** Runs `program` as a stack under the mocks and returns everything it declared. */
export async function recordProgram(program: () => unknown): Promise<Recording> {
  recorded = [];
  options = new Map();
  const outputs = await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      const dependsOn = args.opts.dependsOn;
      const list = dependsOn === undefined ? [] : Array.isArray(dependsOn) ? dependsOn : [dependsOn];
      options.set(`${args.type}::${args.name}`, {
        dependsOn: (list as pulumi.Resource[]).map(resourceLabel),
        ignoreChanges: args.opts.ignoreChanges ?? [],
        parent: args.opts.parent === undefined ? undefined : resourceLabel(args.opts.parent),
      });
      return undefined;
    });
    return (await program()) as Record<string, unknown>;
  });
  // The stack's outputs can settle before every resource is registered (a resource that waits
  // on another's outputs registers later): wait for the SDK's outstanding RPCs, as the
  // language host does before it exits. `waitForRPCs` is exported but not in the typings.
  const { waitForRPCs } = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };
  if (waitForRPCs === undefined) throw new Error('@pulumi/pulumi no longer exports runtime.waitForRPCs: update recordProgram');
  await waitForRPCs();
  return { resources: recorded.filter((r) => r.type !== 'pulumi:pulumi:Stack'), outputs: (outputs ?? {}) as Record<string, unknown> };
}
