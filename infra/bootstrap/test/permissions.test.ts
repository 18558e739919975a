import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { DEPLOY_SESSION_SECONDS } from '../settings.js';
import { missingTypes, REFERENCE, RESOURCE_PERMISSIONS, resourceTypes } from '../permissions.js';
import {
  boundaryDocument,
  deployStatements,
  MANAGED_POLICIES_PER_ROLE,
  MANAGED_POLICY_MAX_CHARS,
  packPolicies,
  policySize,
  previewStatements,
  readPlan,
  type PolicyContext,
  type Statement,
} from '../policy.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CONTEXT: PolicyContext = {
  accountId: '111122223333',
  region: 'us-east-1',
  hostedZoneId: 'Z0123456789ABC',
  stateBucketArn: 'arn:aws:s3:::chapi-pulumi-state-111122223333',
  kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
};
const plan = readPlan();
const deploy = deployStatements(plan, CONTEXT);
const preview = previewStatements(plan, CONTEXT);
const actions = (statements: Statement[]): string[] => statements.flatMap((statement) => statement.Action);
const sid = (statements: Statement[], id: string): Statement => {
  const found = statements.find((statement) => statement.Sid === id);
  if (found === undefined) throw new Error(`no statement ${id}`);
  return found;
};

describe('the deploy role against the plan', () => {
  it('has a permission row for every resource type in infra/plan.prod.json (add one to infra/bootstrap/permissions.ts)', () => {
    expect(missingTypes(plan.map((resource) => resource.type))).to.deep.equal([]);
    expect(resourceTypes(plan.map((resource) => resource.type))).to.include('aws:ec2/natGateway:NatGateway'); // awsx's VPC, expanded
  });

  it('refuses to build a policy for a plan with a type the table lacks', () => {
    const grown = [...plan, { name: 'chapi-queue', type: 'aws:sqs/queue:Queue', inputs: {} }];
    expect(missingTypes(grown.map((resource) => resource.type))).to.deep.equal(['aws:sqs/queue:Queue']);
    expect(() => deployStatements(grown, CONTEXT)).to.throw(/no row for aws:sqs\/queue:Queue/);
  });

  it('names only actions of services whose IAM Service Authorization Reference page it cites', () => {
    for (const [type, row] of Object.entries(RESOURCE_PERMISSIONS)) {
      for (const action of [...row.create, ...row.read, ...row.update, ...row.delete, ...row.tag]) {
        expect(action, type).to.match(/^[a-z0-9-]+:[A-Z][A-Za-z0-9]*\*?$/);
        expect(REFERENCE, `${type}: ${action}`).to.have.property(action.split(':')[0] as string);
      }
    }
  });

  it('can tag what aws:defaultTags tags: budgets, ECS, Logs, Application Auto Scaling and the rest', () => {
    expect(actions(deploy)).to.include.members([
      'budgets:TagResource',
      'ecs:TagResource',
      'logs:TagResource',
      'application-autoscaling:TagResource',
      'ec2:CreateTags',
      'elasticloadbalancing:AddTags',
      'iam:TagRole',
      'secretsmanager:TagResource',
      'sns:TagResource',
      'cloudwatch:TagResource',
      'ecr:TagResource',
      'acm:AddTagsToCertificate',
    ]);
  });

  // https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-service-linked-roles.html,
  // https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html
  it('creates the service-linked roles of ELB, ECS and Application Auto Scaling on a fresh account, and no others', () => {
    expect(sid(deploy, 'CreateServiceLinkedRoles')).to.deep.equal({
      Sid: 'CreateServiceLinkedRoles',
      Effect: 'Allow',
      Action: ['iam:CreateServiceLinkedRole'],
      Resource: ['arn:aws:iam::111122223333:role/aws-service-role/*'],
      Condition: {
        StringEquals: {
          'iam:AWSServiceName': ['ecs.amazonaws.com', 'ecs.application-autoscaling.amazonaws.com', 'elasticloadbalancing.amazonaws.com'],
        },
      },
    });
  });

  it('finds the hosted zone and waits for record changes', () => {
    expect(actions(deploy)).to.include.members(['route53:ListHostedZones', 'route53:ListHostedZonesByName', 'route53:GetChange']);
    expect(sid(deploy, 'ManageRecordsInTheZone').Resource).to.deep.equal(['arn:aws:route53:::hostedzone/Z0123456789ABC']);
  });

  it('passes exactly the roles the program hands to a service, the flow-log role included, each to its service', () => {
    // Derived from the plan independently of the policy code: every *RoleArn input.
    const handed = plan.flatMap((resource) =>
      Object.entries(resource.inputs)
        .filter(([key, value]) => /RoleArn$/.test(key) && typeof value === 'string')
        .map(([, value]) => (value as string).split(':role/')[1]),
    );
    expect(handed).to.include('chapi-flow-log');
    const passing = deploy.filter((statement) => statement.Action.includes('iam:PassRole'));
    const patterns = passing.flatMap((statement) => statement.Resource);
    expect(patterns.sort()).to.deep.equal([...new Set(handed)].map((role) => `arn:aws:iam::111122223333:role/${role}-*`).sort());
    // ECS task roles only to ECS tasks; the flow-log role by its ARN alone (the VPC docs' policy).
    expect(passing.map((statement) => [statement.Resource, statement.Condition?.StringEquals?.['iam:PassedToService']])).to.deep.equal([
      [
        ['arn:aws:iam::111122223333:role/chapi-api-execution-*', 'arn:aws:iam::111122223333:role/chapi-migrate-execution-*'],
        ['ecs-tasks.amazonaws.com'],
      ],
      [['arn:aws:iam::111122223333:role/chapi-flow-log-*'], undefined],
    ]);
  });

  it('manages only the program\'s chapi-* roles, never its own github-chapi-* role', () => {
    expect(sid(deploy, 'ManageProgramRoles').Resource).to.deep.equal(['arn:aws:iam::111122223333:role/chapi-*']);
    for (const statement of deploy.filter((s) => s.Action.some((action) => action.startsWith('iam:')))) {
      for (const resource of statement.Resource) expect(resource).not.to.match(/role\/github-/);
    }
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
  it('creates and rewrites program roles only with the workload boundary on them, and never removes it', () => {
    const boundary = 'arn:aws:iam::111122223333:policy/chapi-workload-boundary';
    expect(sid(deploy, 'WriteProgramRolesWithinTheBoundary')).to.deep.equal({
      Sid: 'WriteProgramRolesWithinTheBoundary',
      Effect: 'Allow',
      Action: ['iam:CreateRole', 'iam:PutRolePermissionsBoundary', 'iam:PutRolePolicy'],
      Resource: ['arn:aws:iam::111122223333:role/chapi-*'],
      Condition: { StringEquals: { 'iam:PermissionsBoundary': [boundary] } },
    });
    for (const statement of deploy.filter((s) => s.Sid !== 'WriteProgramRolesWithinTheBoundary')) {
      expect(statement.Action, statement.Sid).not.to.include.members(['iam:CreateRole']);
      expect(statement.Action, statement.Sid).not.to.include('iam:PutRolePolicy');
    }
    expect(actions(deploy)).not.to.include('iam:DeleteRolePermissionsBoundary');
    // Every role the program declares carries that boundary (by name; the account is the stack's).
    for (const role of plan.filter((resource) => resource.type === 'aws:iam/role:Role')) {
      expect(role.inputs.permissionsBoundary, role.name).to.match(/^arn:aws:iam::\d{12}:policy\/chapi-workload-boundary$/);
    }
  });

  it("bounds the program's roles by exactly what their own policies grant", () => {
    const granted = new Set(
      plan
        .filter((resource) => resource.type === 'aws:iam/role:Role')
        .flatMap((role) => (role.inputs.inlinePolicies as { policy: { Statement: { Action: string[] }[] } }[]))
        .flatMap((inline) => inline.policy.Statement.flatMap((statement) => statement.Action)),
    );
    expect(granted).to.include('logs:DescribeLogGroups');
    expect(boundaryDocument(plan).Statement.flatMap((statement) => statement.Action)).to.have.members([...granted]);
  });

  // "To specify a KMS key in an IAM policy statement, you must use its key ARN":
  // https://docs.aws.amazon.com/kms/latest/developerguide/cmks-in-iam-policies.html
  it('uses the secrets key by its key ARN, never an alias', () => {
    expect(sid(deploy, 'UseTheSecretsKey')).to.deep.include({ Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: [CONTEXT.kmsKeyArn] });
    expect(sid(preview, 'UseTheSecretsKey')).to.deep.include({ Action: ['kms:Decrypt'], Resource: [CONTEXT.kmsKeyArn] });
    for (const statement of [...deploy, ...preview]) for (const resource of statement.Resource) expect(resource).not.to.include('alias/');
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
  it('fits in managed policies of 6,144 characters, at most 10 per role', () => {
    for (const statements of [deploy, preview]) {
      const documents = packPolicies(statements);
      expect(documents.length).to.be.within(1, MANAGED_POLICIES_PER_ROLE);
      for (const document of documents) expect(policySize(document)).to.be.at.most(MANAGED_POLICY_MAX_CHARS);
      expect(documents.flatMap((document) => actions(document.Statement)).sort()).to.deep.equal(actions(statements).sort());
    }
  });

  it('splits a statement too big for one policy without losing an action', () => {
    const big: Statement = { Sid: 'Big', Effect: 'Allow', Action: Array.from({ length: 400 }, (_, i) => `ec2:Action${i}`), Resource: ['*'] };
    const documents = packPolicies([big]);
    expect(documents.length).to.be.above(1);
    expect(documents.flatMap((document) => actions(document.Statement))).to.deep.equal(big.Action);
  });

  it('holds its session longer than the deploy job may run, as long as the workflow asks for', () => {
    type Job = { 'timeout-minutes': number; steps: { uses?: string; with?: Record<string, unknown> }[] };
    const workflow = parse(readFileSync(`${ROOT}/.github/workflows/deploy.yml`, 'utf8')) as { jobs: Record<string, Job> };
    const job = workflow.jobs.deploy as Job;
    const credentials = job.steps.find((step) => step.uses?.startsWith('aws-actions/configure-aws-credentials'));
    const requested = Number(credentials?.with?.['role-duration-seconds']);
    expect(requested).to.be.above(job['timeout-minutes'] * 60);
    expect(requested).to.equal(DEPLOY_SESSION_SECONDS);
    // 1 to 12 hours: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
    expect(DEPLOY_SESSION_SECONDS).to.be.within(3600, 43_200);
  });
});

describe('the preview role against the plan', () => {
  it('only reads: describe, get, list and view actions, never a secret\'s value', () => {
    const granted = actions(preview).filter((action) => !action.startsWith('s3:') && !action.startsWith('kms:'));
    for (const action of granted) expect(action).to.match(/^[a-z0-9-]+:(Describe|Get|List|View)/);
    expect(granted).not.to.include('secretsmanager:GetSecretValue');
  });

  it('reads the state and writes only the lock files', () => {
    expect(sid(preview, 'TakeTheLock').Resource).to.deep.equal([`${CONTEXT.stateBucketArn}/.pulumi/locks/*`]);
    const writes = preview.filter((statement) => statement.Action.some((action) => /:(Put|Delete)/.test(action)));
    expect(writes.map((statement) => statement.Sid)).to.deep.equal(['TakeTheLock']);
  });
});
