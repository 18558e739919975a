/**
 * Helpers of the infra tests: the prod stack's config, the program recorded under mocks (with
 * config overrides for the other modes), and lookups over the recorded resources.
 */
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config.js';
import type { RecordedResource, Recording } from '../mock-cloud.js';
import { PLAN_SECRETS, STACK_FILE, stackConfigValues } from '../plan.js';

/** Stand-ins for the content hashes, so a test can find where each is used. */
export const BUILD_HASH = 'b'.repeat(64);
export const MIGRATIONS_HASH = 'm'.repeat(64);

/** Pulumi.prod.yaml's `chapi:*` values without the prefix, as `parseStackConfig` reads them. */
export function prodRawConfig(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(stackConfigValues(STACK_FILE))
      .filter(([key]) => key.startsWith('chapi:'))
      .map(([key, value]) => [key.slice('chapi:'.length), value]),
  );
}

/** The prod config with some keys replaced. */
export async function stackConfig(overrides: Record<string, string> = {}): Promise<StackConfig> {
  const { parseStackConfig } = await import('../config.js');
  const raw = { ...prodRawConfig(), ...overrides };
  return parseStackConfig((key) => raw[key], 'us-east-1');
}

/** A recorded stack with lookups. */
export class Stack {
  readonly recording: Recording;
  constructor(recording: Recording) {
    this.recording = recording;
  }

  all(type: string): RecordedResource[] {
    return this.recording.resources.filter((resource) => resource.type === type);
  }

  /** The one resource of this type and name; fails the test when it is missing. */
  one(type: string, name: string): RecordedResource {
    const found = this.recording.resources.filter((resource) => resource.type === type && resource.name === name);
    if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
    return found[0] as RecordedResource;
  }

  /** A JSON string input (container definitions, policies), parsed. */
  json<T = unknown>(type: string, name: string, input: string): T {
    return JSON.parse(this.one(type, name).inputs[input] as string) as T;
  }
}

/** Records the program with the prod config (plus overrides) and fixed content hashes. */
export async function recordStack(overrides: Record<string, string> = {}): Promise<Stack> {
  const { recordProgram } = await import('../mock-cloud.js');
  const { createChapi } = await import('../program.js');
  const config = await stackConfig(overrides);
  const databaseUrls = {
    pooled: pulumi.secret(PLAN_SECRETS['chapi:databaseUrl'] as string),
    direct: pulumi.secret(PLAN_SECRETS['chapi:migrationDatabaseUrl'] as string),
  };
  const recording = await recordProgram(() =>
    createChapi({ config, databaseUrls, buildInputsHash: BUILD_HASH, migrationsHash: MIGRATIONS_HASH, stack: 'prod' }),
  );
  return new Stack(recording);
}

let prod: Promise<Stack> | undefined;
/** The prod stack, recorded once per test process. */
export function prodStack(): Promise<Stack> {
  prod ??= recordStack();
  return prod;
}

/** Resource type tokens the tests look up. */
export const T = {
  vpc: 'awsx:ec2:Vpc',
  defaultSg: 'aws:ec2/defaultSecurityGroup:DefaultSecurityGroup',
  sg: 'aws:ec2/securityGroup:SecurityGroup',
  ingress: 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule',
  egress: 'aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule',
  flowLog: 'aws:ec2/flowLog:FlowLog',
  certificate: 'aws:acm/certificate:Certificate',
  certificateValidation: 'aws:acm/certificateValidation:CertificateValidation',
  record: 'aws:route53/record:Record',
  alb: 'aws:lb/loadBalancer:LoadBalancer',
  listener: 'aws:lb/listener:Listener',
  listenerRule: 'aws:lb/listenerRule:ListenerRule',
  targetGroup: 'aws:lb/targetGroup:TargetGroup',
  repository: 'aws:ecr/repository:Repository',
  lifecycle: 'aws:ecr/lifecyclePolicy:LifecyclePolicy',
  command: 'command:local:Command',
  secret: 'aws:secretsmanager/secret:Secret',
  secretVersion: 'aws:secretsmanager/secretVersion:SecretVersion',
  password: 'random:index/randomPassword:RandomPassword',
  cluster: 'aws:ecs/cluster:Cluster',
  logGroup: 'aws:cloudwatch/logGroup:LogGroup',
  role: 'aws:iam/role:Role',
  taskDefinition: 'aws:ecs/taskDefinition:TaskDefinition',
  service: 'aws:ecs/service:Service',
  scalingTarget: 'aws:appautoscaling/target:Target',
  scalingPolicy: 'aws:appautoscaling/policy:Policy',
  topic: 'aws:sns/topic:Topic',
  topicPolicy: 'aws:sns/topicPolicy:TopicPolicy',
  subscription: 'aws:sns/topicSubscription:TopicSubscription',
  alarm: 'aws:cloudwatch/metricAlarm:MetricAlarm',
  budget: 'aws:budgets/budget:Budget',
} as const;

/** A container definition, as far as the tests read it. */
export interface ContainerDefinition {
  name: string;
  image: string;
  command?: string[];
  user: string;
  privileged: boolean;
  readonlyRootFilesystem: boolean;
  essential: boolean;
  stopTimeout: number;
  portMappings: { containerPort: number }[];
  mountPoints: { sourceVolume: string; containerPath: string; readOnly: boolean }[];
  linuxParameters: { initProcessEnabled: boolean; capabilities: { drop: string[] } };
  environment: { name: string; value: string }[];
  secrets: { name: string; valueFrom: string }[];
  logConfiguration: { logDriver: string; options: Record<string, string> };
}

/** An IAM policy statement, read back into getPolicyDocument's shape for assertions. */
export interface Statement {
  sid?: string;
  actions: string[];
  resources: string[];
  principals?: { type: string; identifiers: string[] }[];
}
interface IamStatement {
  Sid?: string;
  Action: string[];
  Resource: string[];
  Principal?: Record<string, string[]>;
}
export function statements(policyJson: string): Statement[] {
  return (JSON.parse(policyJson) as { Statement: IamStatement[] }).Statement.map((statement) => ({
    ...(statement.Sid === undefined ? {} : { sid: statement.Sid }),
    actions: statement.Action,
    resources: statement.Resource,
    ...(statement.Principal === undefined
      ? {}
      : { principals: Object.entries(statement.Principal).map(([type, identifiers]) => ({ type, identifiers })) }),
  }));
}
