import { expect } from 'chai';
import { prodStack, recordStack } from '../../infra/test/support.js';
import { rules, stackRules, TYPES, type Rule } from '../rules.js';

const rule = (name: string): Rule => {
  const found = rules.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no rule ${name}`);
  return found;
};
const check = (name: string, type: string, props: Record<string, unknown>) => rule(name).check(type, props);

const container = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify([
    {
      name: 'api',
      user: '1000:1000',
      privileged: false,
      readonlyRootFilesystem: true,
      logConfiguration: { logDriver: 'awslogs' },
      environment: [{ name: 'NODE_ENV', value: 'production' }],
      secrets: [{ name: 'DATABASE_URL', valueFrom: 'arn:aws:secretsmanager:us-east-1:1:secret:x:::v1' }],
      ...overrides,
    },
  ]);
const policy = (statements: unknown[]) => [{ name: 'execution', policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) }];

describe('policy pack rules', () => {
  it('alb-hardened: invalid headers dropped, desync mitigated (ELB.4, ELB.12)', () => {
    expect(check('alb-hardened', TYPES.loadBalancer, { loadBalancerType: 'application', dropInvalidHeaderFields: true, desyncMitigationMode: 'defensive' })).to.deep.equal([]);
    expect(check('alb-hardened', TYPES.loadBalancer, { loadBalancerType: 'application', desyncMitigationMode: 'monitor' })).to.deep.equal([
      'an ALB must drop invalid header fields (dropInvalidHeaderFields: true)',
      'desync mitigation must be defensive or strictest (got "monitor")',
    ]);
    expect(check('alb-hardened', TYPES.loadBalancer, { loadBalancerType: 'network' })).to.deep.equal([]);
  });

  it('alb-deletion-protection is advisory (ELB.6)', () => {
    expect(rule('alb-deletion-protection').enforcementLevel).to.equal('advisory');
    expect(check('alb-deletion-protection', TYPES.loadBalancer, { enableDeletionProtection: false })).to.have.length(1);
    expect(check('alb-deletion-protection', TYPES.loadBalancer, { enableDeletionProtection: true })).to.deep.equal([]);
  });

  it('listener-tls: TLS 1.3 policy on HTTPS, redirect-only HTTP (ELB.17, ELB.1)', () => {
    expect(check('listener-tls', TYPES.listener, { protocol: 'HTTPS', sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' })).to.deep.equal([]);
    expect(check('listener-tls', TYPES.listener, { protocol: 'HTTPS', sslPolicy: 'ELBSecurityPolicy-2016-08' })).to.have.length(1);
    expect(check('listener-tls', TYPES.listener, { protocol: 'HTTPS' })).to.have.length(1);
    const redirect = [{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }];
    expect(check('listener-tls', TYPES.listener, { protocol: 'HTTP', defaultActions: redirect })).to.deep.equal([]);
    expect(check('listener-tls', TYPES.listener, { protocol: 'HTTP', defaultActions: [{ type: 'forward', targetGroupArn: 'tg' }] })).to.deep.equal([
      'an HTTP listener may only redirect to HTTPS',
    ]);
  });

  it('ecr-repository-hardened: scan on push and immutable tags (ECR.1, ECR.2)', () => {
    expect(check('ecr-repository-hardened', TYPES.repository, { imageScanningConfiguration: { scanOnPush: true }, imageTagMutability: 'IMMUTABLE' })).to.deep.equal([]);
    expect(check('ecr-repository-hardened', TYPES.repository, { imageTagMutability: 'MUTABLE' })).to.deep.equal([
      'an ECR repository must scan images on push',
      'an ECR repository must have immutable tags',
    ]);
  });

  it('ecr-lifecycle-policy: every repository has one (ECR.3)', () => {
    const [lifecycle] = stackRules;
    const repository = { type: TYPES.repository, name: 'repo', props: { name: 'chapi-api' } };
    expect(lifecycle?.check([repository])).to.deep.equal(['ECR repository "chapi-api" has no lifecycle policy']);
    expect(lifecycle?.check([repository, { type: TYPES.lifecyclePolicy, name: 'lc', props: { repository: 'chapi-api' } }])).to.deep.equal([]);
  });

  it('ecs-task-hardened: non-privileged, read-only root, non-root, logging, no plaintext secrets (ECS.4, ECS.5, ECS.8, ECS.9)', () => {
    expect(check('ecs-task-hardened', TYPES.taskDefinition, { containerDefinitions: container() })).to.deep.equal([]);
    expect(
      check('ecs-task-hardened', TYPES.taskDefinition, {
        containerDefinitions: container({ privileged: true, readonlyRootFilesystem: false, user: 'root', logConfiguration: undefined }),
      }),
    ).to.deep.equal([
      'container "api" must not be privileged',
      'container "api" must have a read-only root file system',
      'container "api" must run as a non-root user',
      'container "api" must have a log configuration',
    ]);
    expect(check('ecs-task-hardened', TYPES.taskDefinition, { containerDefinitions: container({ user: undefined }) })).to.have.length(1);
    for (const environment of [
      [{ name: 'DATABASE_URL', value: 'postgres://db' }],
      [{ name: 'ADMIN_API_KEY', value: 'x' }],
      [{ name: 'SERVICE_API_KEYS', value: '{}' }],
      [{ name: 'UPSTREAM', value: 'postgres://user:pass@host/db' }],
      [{ name: 'FALLBACK', value: 'sk_prod_abc' }],
    ]) {
      const violations = check('ecs-task-hardened', TYPES.taskDefinition, { containerDefinitions: container({ environment }) });
      expect(violations).to.have.length(1);
      expect(violations[0]).to.match(/as a plain environment value/);
    }
    // Unknown during a preview: nothing to say yet.
    expect(check('ecs-task-hardened', TYPES.taskDefinition, { containerDefinitions: undefined })).to.deep.equal([]);
  });

  it('ecs-service-private is advisory and flags public IPs (ECS.2)', () => {
    expect(rule('ecs-service-private').enforcementLevel).to.equal('advisory');
    expect(check('ecs-service-private', TYPES.service, { networkConfiguration: { assignPublicIp: true } })).to.have.length(1);
    expect(check('ecs-service-private', TYPES.service, { networkConfiguration: { assignPublicIp: false } })).to.deep.equal([]);
  });

  it('log-group-retention: every log group expires', () => {
    expect(check('log-group-retention', TYPES.logGroup, { retentionInDays: 30 })).to.deep.equal([]);
    expect(check('log-group-retention', TYPES.logGroup, {})).to.deep.equal(['a log group must set retentionInDays']);
  });

  it('public-ingress-web-only: only tcp 80/443 from anywhere (EC2.18, EC2.19)', () => {
    const ingress = (props: Record<string, unknown>) => check('public-ingress-web-only', TYPES.ingressRule, props);
    expect(ingress({ ipProtocol: 'tcp', fromPort: 443, toPort: 443, cidrIpv4: '0.0.0.0/0' })).to.deep.equal([]);
    expect(ingress({ ipProtocol: 'tcp', fromPort: 80, toPort: 80, cidrIpv6: '::/0' })).to.deep.equal([]);
    expect(ingress({ ipProtocol: 'tcp', fromPort: 8000, toPort: 8000, referencedSecurityGroupId: 'sg-alb' })).to.deep.equal([]);
    expect(ingress({ ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' })).to.have.length(1);
    expect(ingress({ ipProtocol: '-1', fromPort: 0, toPort: 0, cidrIpv6: '::/0' })).to.have.length(1);
    expect(ingress({ ipProtocol: 'tcp', fromPort: 0, toPort: 65535, cidrIpv4: '0.0.0.0/0' })).to.have.length(1);
    const inline = check('public-ingress-web-only', TYPES.securityGroup, {
      ingress: [{ protocol: 'tcp', fromPort: 5432, toPort: 5432, cidrBlocks: ['0.0.0.0/0'] }],
    });
    expect(inline).to.have.length(1);
  });

  it('iam-scoped: no wildcard actions, secrets only by ARN', () => {
    const role = (statements: unknown[]) => check('iam-scoped', TYPES.role, { inlinePolicies: policy(statements) });
    expect(role([{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: ['arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf'] }])).to.deep.equal([]);
    expect(role([{ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' }])).to.deep.equal([]);
    expect(role([{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: '*' }])).to.deep.equal([
      'policy "execution" reads secrets through a wildcard resource',
    ]);
    expect(role([{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:us-east-1:1:secret:chapi/*' }])).to.have.length(1);
    expect(role([{ Effect: 'Allow', Action: ['s3:*'], Resource: 'arn:aws:s3:::b' }])).to.deep.equal(['policy "execution" grants the wildcard action s3:*']);
    expect(role([{ Effect: 'Deny', Action: '*', Resource: '*' }])).to.deep.equal([]);
  });
});

describe('the program against its own policy pack', () => {
  const violationsOf = (resources: { type: string; name: string; inputs: Record<string, unknown> }[], level: string) => {
    const found: string[] = [];
    for (const candidate of rules.filter((r) => r.enforcementLevel === level)) {
      for (const resource of resources.filter((r) => candidate.types.includes(r.type))) {
        for (const violation of candidate.check(resource.type, resource.inputs)) found.push(`${candidate.name} ${resource.name}: ${violation}`);
      }
    }
    if (level === 'mandatory') {
      for (const stackRule of stackRules) {
        found.push(...stackRule.check(resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs }))));
      }
    }
    return found;
  };

  it('passes every rule, mandatory and advisory, in the prod stack', async () => {
    const { recording } = await prodStack();
    // The rules look at 20-odd of the program's resources; make sure they did.
    const looked = recording.resources.filter((resource) => rules.some((r) => r.types.includes(resource.type)));
    expect(looked.length).to.be.at.least(15);
    expect(violationsOf(recording.resources, 'mandatory')).to.deep.equal([]);
    expect(violationsOf(recording.resources, 'advisory')).to.deep.equal([]);
  });

  it('would catch a wildcard slipped into an execution role of the program', async () => {
    // Proves the rule reads the program's real policy shape, rather than passing by not seeing it.
    const { recording } = await prodStack();
    const role = recording.resources.find((resource) => resource.name === 'chapi-api-execution');
    const [inline] = role?.inputs.inlinePolicies as { name: string; policy: string }[];
    const document = JSON.parse(inline?.policy ?? '{}') as { Statement: { Sid?: string; Resource: string[] }[] };
    const secrets = document.Statement.find((statement) => statement.Sid === 'ReadOwnSecrets');
    expect(secrets?.Resource).to.have.length(2);
    if (secrets !== undefined) secrets.Resource = ['*'];
    expect(rule('iam-scoped').check(TYPES.role, { inlinePolicies: [{ name: inline?.name, policy: JSON.stringify(document) }] })).to.deep.equal([
      'policy "execution" reads secrets through a wildcard resource',
    ]);
  });

  it('passes the mandatory rules in the no-NAT mode, with the public-IP advisory raised', async () => {
    const { recording } = await recordStack({ natMode: 'none' });
    expect(violationsOf(recording.resources, 'mandatory')).to.deep.equal([]);
    expect(violationsOf(recording.resources, 'advisory')).to.deep.equal([
      'ecs-service-private chapi-api: the service assigns public IPs to its tasks (the no-NAT mode)',
    ]);
  });
});
