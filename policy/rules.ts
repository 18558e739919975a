/**
 * The project's own CrossGuard rules: the AWS Foundational Security Best Practices controls
 * that matter for this stack, checked on every resource the PR preview plans. Each rule is a
 * pure function from a resource's type and properties to its violations, so the tests run it
 * on sample resources and on the whole program under mocks.
 *
 * Resource types are matched by their type tokens, not by importing @pulumi/aws classes: the
 * pack stays small, and `aws.lb.LoadBalancer` (which the published awsguard pack misses) is
 * just another token.
 */
import type { EnforcementLevel } from '@pulumi/policy';

/** One rule: a name, the controls it encodes, and a check. */
export interface Rule {
  name: string;
  description: string;
  enforcementLevel: EnforcementLevel;
  /** The resource types it looks at. */
  types: readonly string[];
  /** Violations of this resource (empty when it complies or is not fully known yet). */
  check(type: string, props: Record<string, unknown>): string[];
}

/** A stack-wide rule: sees every resource at once. */
export interface StackRule {
  name: string;
  description: string;
  enforcementLevel: EnforcementLevel;
  check(resources: { type: string; name: string; props: Record<string, unknown> }[]): string[];
}

export const TYPES = {
  loadBalancer: 'aws:lb/loadBalancer:LoadBalancer',
  listener: 'aws:lb/listener:Listener',
  repository: 'aws:ecr/repository:Repository',
  lifecyclePolicy: 'aws:ecr/lifecyclePolicy:LifecyclePolicy',
  taskDefinition: 'aws:ecs/taskDefinition:TaskDefinition',
  service: 'aws:ecs/service:Service',
  logGroup: 'aws:cloudwatch/logGroup:LogGroup',
  securityGroup: 'aws:ec2/securityGroup:SecurityGroup',
  ingressRule: 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule',
  role: 'aws:iam/role:Role',
} as const;

/** AWS's TLS 1.3 policies with a TLS 1.2 floor (and their FIPS/PQ variants). */
const RECOMMENDED_TLS_POLICY = /^ELBSecurityPolicy-TLS13-1-[23]-/;
/** The only ports the internet may reach: HTTPS, and HTTP to be redirected. */
const PUBLIC_PORTS = new Set([80, 443]);
const ANYWHERE = new Set(['0.0.0.0/0', '::/0']);
/** Environment variable names that hold secrets (they belong in `secrets`, by ARN). */
const SECRET_NAME = /(^|_)(PASSWORD|PASSWD|SECRET|TOKEN|API_KEYS?|PRIVATE_KEY|CREDENTIALS?|DATABASE_URL)($|_)/i;
/** Values that are secrets whatever their name: a service key, a URL with a password. */
const SECRET_VALUE = /^sk_(dev|test|prod)_|:\/\/[^/:@\s]+:[^/@\s]+@/;
const ROOT_USERS = new Set(['root', '0', '0:0']);

/** A JSON string input, or undefined while it is still unknown (previews). */
function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

interface Container {
  name?: string;
  privileged?: boolean;
  readonlyRootFilesystem?: boolean;
  user?: string;
  logConfiguration?: { logDriver?: string };
  environment?: { name?: string; value?: string }[];
}

interface IamStatement {
  Effect?: string;
  Action?: string | string[];
  Resource?: string | string[];
}

export const rules: Rule[] = [
  {
    name: 'alb-hardened',
    description: 'ALBs drop invalid header fields (ELB.4) and mitigate HTTP desync (ELB.12).',
    enforcementLevel: 'mandatory',
    types: [TYPES.loadBalancer],
    check: (_type, props) => {
      if ((props.loadBalancerType ?? 'application') !== 'application') return [];
      const violations: string[] = [];
      if (props.dropInvalidHeaderFields !== true) violations.push('an ALB must drop invalid header fields (dropInvalidHeaderFields: true)');
      const mode = props.desyncMitigationMode ?? 'defensive';
      if (mode !== 'defensive' && mode !== 'strictest') violations.push(`desync mitigation must be defensive or strictest (got "${String(mode)}")`);
      return violations;
    },
  },
  {
    name: 'alb-deletion-protection',
    description: 'ALBs are protected from deletion (ELB.6); advisory, since a throwaway stack may turn it off.',
    enforcementLevel: 'advisory',
    types: [TYPES.loadBalancer],
    check: (_type, props) => (props.enableDeletionProtection === true ? [] : ['the ALB has no deletion protection']),
  },
  {
    name: 'listener-tls',
    description: 'HTTPS listeners use a recommended TLS 1.2+/1.3 policy (ELB.17); HTTP listeners only redirect to HTTPS (ELB.1).',
    enforcementLevel: 'mandatory',
    types: [TYPES.listener],
    check: (_type, props) => {
      if (props.protocol === 'HTTPS') {
        const policy = props.sslPolicy;
        return typeof policy === 'string' && RECOMMENDED_TLS_POLICY.test(policy)
          ? []
          : [`an HTTPS listener must use a TLS 1.3 policy with a TLS 1.2 floor (got "${String(policy)}")`];
      }
      if (props.protocol === 'HTTP') {
        const actions = asList(props.defaultActions as { type?: string; redirect?: { protocol?: string } }[] | undefined);
        const redirectsOnly = actions.length > 0 && actions.every((action) => action.type === 'redirect' && action.redirect?.protocol === 'HTTPS');
        return redirectsOnly ? [] : ['an HTTP listener may only redirect to HTTPS'];
      }
      return [];
    },
  },
  {
    name: 'ecr-repository-hardened',
    description: 'ECR repositories scan on push (ECR.1) and have immutable tags (ECR.2).',
    enforcementLevel: 'mandatory',
    types: [TYPES.repository],
    check: (_type, props) => {
      const violations: string[] = [];
      const scanning = props.imageScanningConfiguration as { scanOnPush?: boolean } | undefined;
      if (scanning?.scanOnPush !== true) violations.push('an ECR repository must scan images on push');
      if (props.imageTagMutability !== 'IMMUTABLE') violations.push('an ECR repository must have immutable tags');
      return violations;
    },
  },
  {
    name: 'ecs-task-hardened',
    description:
      'Task containers are not privileged (ECS.4), have a read-only root (ECS.5), run as a non-root user, log (ECS.9), and take secrets by reference, never from plain environment values (ECS.8).',
    enforcementLevel: 'mandatory',
    types: [TYPES.taskDefinition],
    check: (_type, props) => {
      const containers = parseJson(props.containerDefinitions);
      if (!Array.isArray(containers)) return [];
      const violations: string[] = [];
      for (const container of containers as Container[]) {
        const label = `container "${container.name ?? '?'}"`;
        if (container.privileged === true) violations.push(`${label} must not be privileged`);
        if (container.readonlyRootFilesystem !== true) violations.push(`${label} must have a read-only root file system`);
        if (container.user === undefined || ROOT_USERS.has(container.user)) violations.push(`${label} must run as a non-root user`);
        if (container.logConfiguration?.logDriver === undefined) violations.push(`${label} must have a log configuration`);
        for (const variable of container.environment ?? []) {
          if (SECRET_NAME.test(variable.name ?? '') || SECRET_VALUE.test(variable.value ?? '')) {
            violations.push(`${label} passes ${variable.name ?? '?'} as a plain environment value: use secrets (valueFrom)`);
          }
        }
      }
      return violations;
    },
  },
  {
    name: 'ecs-service-private',
    description: 'ECS services get no public IP (ECS.2); advisory, since the no-NAT network mode needs one.',
    enforcementLevel: 'advisory',
    types: [TYPES.service],
    check: (_type, props) => {
      const network = props.networkConfiguration as { assignPublicIp?: boolean } | undefined;
      return network?.assignPublicIp === true ? ['the service assigns public IPs to its tasks (the no-NAT mode)'] : [];
    },
  },
  {
    name: 'log-group-retention',
    description: 'Log groups expire their events (cost, and no log kept longer than it is needed).',
    enforcementLevel: 'mandatory',
    types: [TYPES.logGroup],
    check: (_type, props) =>
      typeof props.retentionInDays === 'number' && props.retentionInDays > 0 ? [] : ['a log group must set retentionInDays'],
  },
  {
    name: 'public-ingress-web-only',
    description: 'Nothing but 80 and 443 is open to 0.0.0.0/0 or ::/0 (EC2.18, EC2.19).',
    enforcementLevel: 'mandatory',
    types: [TYPES.ingressRule, TYPES.securityGroup],
    check: (type, props) => {
      const rules =
        type === TYPES.ingressRule
          ? [{ from: props.fromPort, to: props.toPort, protocol: props.ipProtocol, cidrs: [props.cidrIpv4, props.cidrIpv6] }]
          : asList(props.ingress as Record<string, unknown>[] | undefined).map((rule) => ({
              from: rule.fromPort,
              to: rule.toPort,
              protocol: rule.protocol,
              cidrs: [...asList(rule.cidrBlocks as string[] | undefined), ...asList(rule.ipv6CidrBlocks as string[] | undefined)],
            }));
      const violations: string[] = [];
      for (const rule of rules) {
        if (!rule.cidrs.some((cidr) => typeof cidr === 'string' && ANYWHERE.has(cidr))) continue;
        const webPort = rule.protocol === 'tcp' && rule.from === rule.to && PUBLIC_PORTS.has(rule.from as number);
        if (!webPort) violations.push(`ingress from anywhere on ${String(rule.protocol)} ${String(rule.from)}-${String(rule.to)}: only tcp 80 and 443 may be public`);
      }
      return violations;
    },
  },
  {
    name: 'iam-scoped',
    description: 'Inline role policies grant no wildcard actions and read secrets by ARN, never "*".',
    enforcementLevel: 'mandatory',
    types: [TYPES.role],
    check: (_type, props) => {
      const violations: string[] = [];
      for (const inline of asList(props.inlinePolicies as { name?: string; policy?: unknown }[] | undefined)) {
        const document = parseJson(inline.policy) as { Statement?: IamStatement | IamStatement[] } | undefined;
        for (const statement of asList(document?.Statement)) {
          if (statement.Effect === 'Deny') continue;
          const actions = asList(statement.Action);
          const resources = asList(statement.Resource);
          for (const action of actions) {
            if (action === '*' || action.endsWith(':*')) violations.push(`policy "${inline.name ?? '?'}" grants the wildcard action ${action}`);
          }
          if (actions.some((action) => action.startsWith('secretsmanager:')) && resources.some((resource) => resource.includes('*'))) {
            violations.push(`policy "${inline.name ?? '?'}" reads secrets through a wildcard resource`);
          }
        }
      }
      return violations;
    },
  },
];

export const stackRules: StackRule[] = [
  {
    name: 'ecr-lifecycle-policy',
    description: 'Every ECR repository has a lifecycle policy (ECR.3).',
    enforcementLevel: 'mandatory',
    check: (resources) => {
      const covered = new Set(resources.filter((r) => r.type === TYPES.lifecyclePolicy).map((r) => r.props.repository));
      return resources
        .filter((r) => r.type === TYPES.repository && typeof r.props.name === 'string')
        .filter((r) => !covered.has(r.props.name))
        .map((r) => `ECR repository "${String(r.props.name)}" has no lifecycle policy`);
    },
  },
];
