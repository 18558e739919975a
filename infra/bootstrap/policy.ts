/**
 * The deploy and preview roles' policies, built from the prod stack's plan
 * (`infra/plan.prod.json`) and the permission table (`./permissions.ts`), never from a list
 * kept by hand: a type the program gains is a row the table must gain, or the tests fail.
 *
 * Pure functions of plain values (account, region, zone, bucket, key), so the tests check the
 * exact documents AWS will see; `./bootstrap.ts` feeds them the real values.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { missingTypes, RESOURCE_PERMISSIONS, resourceTypes, type Permissions, type Scope } from './permissions.js';
import { WORKLOAD_BOUNDARY_NAME } from './settings.js';

/** The committed plan of the prod stack (`npm run infra:plan`). */
export const PLAN_FILE = fileURLToPath(new URL('../plan.prod.json', import.meta.url));

/** One resource of the plan, as far as the policies need it. */
export interface PlanResource {
  name: string;
  type: string;
  inputs: Record<string, unknown>;
}

export function readPlan(file = PLAN_FILE): PlanResource[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { resources: PlanResource[] }).resources;
}

/** What the bootstrap knows about the account that the documents name. */
export interface PolicyContext {
  accountId: string;
  region: string;
  /** The existing hosted zone the program writes records into. */
  hostedZoneId: string;
  stateBucketArn: string;
  /** The secrets provider's key, by ARN: IAM ignores aliases for key use. */
  kmsKeyArn: string;
}

export interface Statement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Statement[];
}

/**
 * The service-linked roles a fresh account lacks until the first resource of each service is
 * created: ELB's (the ALB), ECS's (the service) and Application Auto Scaling's for ECS (the
 * scalable target). The caller must be allowed to create them, for these services only.
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-service-linked-roles.html
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html
 * https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html
 */
export const SERVICE_LINKED_ROLES: Readonly<Record<string, string>> = {
  'aws:lb/loadBalancer:LoadBalancer': 'elasticloadbalancing.amazonaws.com',
  'aws:ecs/service:Service': 'ecs.amazonaws.com',
  'aws:appautoscaling/target:Target': 'ecs.application-autoscaling.amazonaws.com',
};

/**
 * Inputs that hand a role to a service, and the `iam:PassedToService` value that service's
 * documentation gives, where it gives one: ECS's task roles are passed to
 * `ecs-tasks.amazonaws.com`; the VPC documentation's flow-log policy names the role only
 * (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html), so that pass is
 * bounded by the role's ARN alone rather than by a service name it does not document.
 */
const ROLE_INPUTS: Readonly<Record<string, { input: string; service: string | undefined }[]>> = {
  'aws:ecs/taskDefinition:TaskDefinition': [
    { input: 'executionRoleArn', service: 'ecs-tasks.amazonaws.com' },
    { input: 'taskRoleArn', service: 'ecs-tasks.amazonaws.com' },
  ],
  'aws:ec2/flowLog:FlowLog': [{ input: 'iamRoleArn', service: undefined }],
};

/**
 * The roles the program passes to a service, by logical name (Pulumi names a role
 * `<logical name>-<7 random characters>`), with the service that receives each.
 * @example passedRoles(readPlan()) // [{ role: 'chapi-api-execution', service: 'ecs-tasks.amazonaws.com' }, …]
 */
export function passedRoles(plan: PlanResource[]): { role: string; service: string | undefined }[] {
  const found = new Map<string, string | undefined>();
  for (const resource of plan) {
    for (const { input, service } of ROLE_INPUTS[resource.type] ?? []) {
      const arn = resource.inputs[input];
      if (typeof arn !== 'string') continue;
      const role = arn.split(':role/')[1];
      if (role === undefined || role === '') throw new Error(`${resource.name}.${input} is not a role ARN: ${arn}`);
      found.set(role, service);
    }
  }
  return [...found].map(([role, service]) => ({ role, service })).sort((a, b) => a.role.localeCompare(b.role));
}

/** The ARN patterns of a table scope. */
function scopeResources(scope: Scope, context: PolicyContext): string[] {
  const { accountId: account, region } = context;
  switch (scope) {
    case 'any':
      return ['*'];
    // Every role the program creates is named chapi-…; the bootstrap's own roles are not
    // (github-chapi-…), so the deploy role can never rewrite itself.
    case 'program-roles':
      return [`arn:aws:iam::${account}:role/chapi-*`];
    case 'stack-secrets':
      return [`arn:aws:secretsmanager:${region}:${account}:secret:chapi/*`];
    // DescribeLogGroups lists the region's groups: the narrowest ARN it accepts is log-group:*.
    case 'log-groups':
      return [`arn:aws:logs:${region}:${account}:log-group:*`];
    case 'stack-repository':
      return [`arn:aws:ecr:${region}:${account}:repository/chapi-api`];
    case 'hosted-zone':
      return [`arn:aws:route53:::hostedzone/${context.hostedZoneId}`];
    case 'budgets':
      return [`arn:aws:budgets::${account}:budget/*`];
  }
}

const SCOPE_SIDS: Readonly<Record<Scope, string>> = {
  any: 'ManageStackResources',
  'program-roles': 'ManageProgramRoles',
  'stack-secrets': 'ManageStackSecrets',
  'log-groups': 'ManageLogGroups',
  'stack-repository': 'ManageRepository',
  'hosted-zone': 'ManageRecordsInTheZone',
  budgets: 'ManageBudgets',
};

type Column = keyof Omit<Permissions, 'scope'>;
const WRITE_COLUMNS: Column[] = ['create', 'read', 'update', 'delete', 'tag'];
const tableActions = (type: string): string[] => {
  const row = RESOURCE_PERMISSIONS[type];
  return row === undefined ? [] : WRITE_COLUMNS.flatMap((column) => row[column]);
};

/** One statement per scope, over the given columns of the plan's types. */
function tableStatements(plan: PlanResource[], context: PolicyContext, columns: Column[], exclude: ReadonlySet<string>): Statement[] {
  const missing = missingTypes(plan.map((resource) => resource.type));
  if (missing.length > 0) throw new Error(`the permission table has no row for ${missing.join(', ')} (infra/bootstrap/permissions.ts)`);
  const byScope = new Map<Scope, Set<string>>();
  for (const type of resourceTypes(plan.map((resource) => resource.type))) {
    const row = RESOURCE_PERMISSIONS[type] as Permissions;
    const actions = byScope.get(row.scope) ?? new Set<string>();
    for (const column of columns) for (const action of row[column]) if (!exclude.has(action)) actions.add(action);
    byScope.set(row.scope, actions);
  }
  return [...byScope]
    .filter(([, actions]) => actions.size > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([scope, actions]) => ({
      Sid: SCOPE_SIDS[scope],
      Effect: 'Allow' as const,
      Action: [...actions].sort(),
      Resource: scopeResources(scope, context),
    }));
}

/**
 * The program's roles' permissions boundary: every action any of the plan's roles is granted,
 * and nothing else. A role's effective permissions are the intersection of its own policies
 * and its boundary (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html),
 * so the program's roles keep exactly what they have, and a role the deploy role creates or
 * rewrites can never hold more than the program's roles together.
 */
export function boundaryDocument(plan: PlanResource[]): PolicyDocument {
  const granted = new Set<string>();
  for (const resource of plan.filter((r) => r.type === 'aws:iam/role:Role')) {
    for (const inline of (resource.inputs.inlinePolicies ?? []) as { policy?: { Statement?: { Action?: string | string[] }[] } }[]) {
      for (const statement of inline.policy?.Statement ?? []) {
        for (const action of [statement.Action ?? []].flat()) granted.add(action);
      }
    }
  }
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'WhatTheProgramsRolesDo', Effect: 'Allow', Action: [...granted].sort(), Resource: ['*'] }],
  };
}

export const boundaryArn = (accountId: string): string => `arn:aws:iam::${accountId}:policy/${WORKLOAD_BOUNDARY_NAME}`;

/**
 * Role actions the deploy role may take only on a role that carries the workload boundary
 * (the `iam:PermissionsBoundary` condition, as in AWS's own boundary-delegating policies, e.g.
 * https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCODAPermissionsBoundary.html).
 * Removing a boundary (iam:DeleteRolePermissionsBoundary) is not granted at all.
 */
export const BOUNDED_ROLE_ACTIONS: ReadonlySet<string> = new Set(['iam:CreateRole', 'iam:PutRolePolicy', 'iam:PutRolePermissionsBoundary']);

/** The program's data sources: the zone lookup, and the wait for a record change. */
function lookupStatements(): Statement[] {
  return [
    {
      Sid: 'FindTheZone',
      Effect: 'Allow',
      Action: ['route53:ListHostedZones', 'route53:ListHostedZonesByName'],
      Resource: ['*'],
    },
    { Sid: 'WaitForRecordChanges', Effect: 'Allow', Action: ['route53:GetChange'], Resource: ['arn:aws:route53:::change/*'] },
  ];
}

/** The Pulumi state: the S3 backend reads and writes objects under `.pulumi/`. */
function stateStatements(context: PolicyContext, write: 'all' | 'locks'): Statement[] {
  const objects = write === 'all' ? `${context.stateBucketArn}/*` : `${context.stateBucketArn}/.pulumi/locks/*`;
  return [
    { Sid: 'ListState', Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetBucketLocation'], Resource: [context.stateBucketArn] },
    { Sid: 'ReadState', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`${context.stateBucketArn}/*`] },
    // A preview takes the stack's lock too: it may write exactly the lock files.
    { Sid: write === 'all' ? 'WriteState' : 'TakeTheLock', Effect: 'Allow', Action: ['s3:PutObject', 's3:DeleteObject'], Resource: [objects] },
  ];
}

/**
 * The secrets provider's key, by its ARN: "To specify a KMS key in an IAM policy statement,
 * you must use its key ARN. You cannot use a key id, alias name, or alias ARN"
 * (https://docs.aws.amazon.com/kms/latest/developerguide/cmks-in-iam-policies.html).
 */
function keyStatement(context: PolicyContext, actions: string[]): Statement {
  return { Sid: 'UseTheSecretsKey', Effect: 'Allow', Action: actions, Resource: [context.kmsKeyArn] };
}

/** The deploy role's statements: everything `pulumi up` does to the plan's resources. */
export function deployStatements(plan: PlanResource[], context: PolicyContext): Statement[] {
  const types = new Set(plan.map((resource) => resource.type));
  const linked = Object.entries(SERVICE_LINKED_ROLES)
    .filter(([type]) => types.has(type))
    .map(([, service]) => service)
    .sort();
  const passed = passedRoles(plan);
  // Services in name order; the role passed without a documented service last.
  const receivers = [...new Set(passed.map((role) => role.service))].sort();
  const bounded = [...BOUNDED_ROLE_ACTIONS].filter((action) => resourceTypes(types).some((type) => tableActions(type).includes(action)));
  return [
    ...tableStatements(plan, context, WRITE_COLUMNS, BOUNDED_ROLE_ACTIONS),
    ...(bounded.length === 0
      ? []
      : [
          {
            Sid: 'WriteProgramRolesWithinTheBoundary',
            Effect: 'Allow' as const,
            Action: bounded.sort(),
            Resource: scopeResources('program-roles', context),
            Condition: { StringEquals: { 'iam:PermissionsBoundary': [boundaryArn(context.accountId)] } },
          },
        ]),
    ...lookupStatements(),
    {
      Sid: 'CreateServiceLinkedRoles',
      Effect: 'Allow',
      Action: ['iam:CreateServiceLinkedRole'],
      Resource: [`arn:aws:iam::${context.accountId}:role/aws-service-role/*`],
      Condition: { StringEquals: { 'iam:AWSServiceName': linked } },
    },
    // Exactly the roles the program hands to a service, each only to the service that takes it.
    ...receivers.map(
      (service): Statement => ({
        Sid: service === undefined ? 'PassRoles' : `PassRolesTo${service.split('.')[0]?.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase()) ?? ''}`,
        Effect: 'Allow',
        Action: ['iam:PassRole'],
        Resource: passed.filter((role) => role.service === service).map((role) => `arn:aws:iam::${context.accountId}:role/${role.role}-*`),
        ...(service === undefined ? {} : { Condition: { StringEquals: { 'iam:PassedToService': [service] } } }),
      }),
    ),
    ...stateStatements(context, 'all'),
    keyStatement(context, ['kms:Encrypt', 'kms:Decrypt']),
  ];
}

/**
 * Actions of the read column a pull request's preview must not have: the preview runs code
 * from a branch, so it may look at every resource but never read a secret's value.
 */
export const PREVIEW_EXCLUDED: ReadonlySet<string> = new Set(['secretsmanager:GetSecretValue']);

/** The preview role's statements: read what the plan declares, decrypt the config, take the lock. */
export function previewStatements(plan: PlanResource[], context: PolicyContext): Statement[] {
  return [
    ...tableStatements(plan, context, ['read'], PREVIEW_EXCLUDED),
    ...lookupStatements(),
    ...stateStatements(context, 'locks'),
    keyStatement(context, ['kms:Decrypt']),
  ];
}

/**
 * A customer managed policy holds at most 6,144 characters, white space not counted, and a
 * role takes at most 10 managed policies by default
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
 */
export const MANAGED_POLICY_MAX_CHARS = 6144;
export const MANAGED_POLICIES_PER_ROLE = 10;

/** The size IAM counts: the document without white space. */
export const policySize = (document: PolicyDocument): number => JSON.stringify(document).replace(/\s/g, '').length;

/** Packs statements into as few documents under the size limit as they fit in. */
export function packPolicies(statements: Statement[], limit = MANAGED_POLICY_MAX_CHARS): PolicyDocument[] {
  const documents: PolicyDocument[] = [];
  const fits = (list: Statement[]): boolean => policySize({ Version: '2012-10-17', Statement: list }) <= limit;
  for (const statement of statements) {
    if (!fits([statement])) {
      // A statement too big alone: split its actions, same resources and conditions.
      const half = Math.ceil(statement.Action.length / 2);
      if (half === statement.Action.length) throw new Error(`statement ${statement.Sid} alone exceeds ${limit} characters`);
      documents.push(
        ...packPolicies(
          [
            { ...statement, Sid: `${statement.Sid}1`, Action: statement.Action.slice(0, half) },
            { ...statement, Sid: `${statement.Sid}2`, Action: statement.Action.slice(half) },
          ],
          limit,
        ),
      );
      continue;
    }
    const last = documents.at(-1);
    if (last !== undefined && fits([...last.Statement, statement])) last.Statement.push(statement);
    else documents.push({ Version: '2012-10-17', Statement: [statement] });
  }
  if (documents.length > MANAGED_POLICIES_PER_ROLE) {
    throw new Error(`${documents.length} managed policies: more than a role takes (${MANAGED_POLICIES_PER_ROLE})`);
  }
  return documents;
}
