/**
 * The public edge: the ACM certificate (validated through DNS in the existing hosted zone),
 * the ALB with its HTTPS and redirecting HTTP listeners, the rule that keeps `/admin/*` off
 * the internet, the target group the service registers in, and the alias record.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { CONTAINER_PORT } from './network.js';

/**
 * TLS 1.3 with TLS 1.2 as the floor, forward-secret ciphers only: AWS's recommended policy for
 * ALBs (Security Hub ELB.17, "listeners should use recommended security policies").
 */
export const TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';
/**
 * The ALB closes a connection idle this long. The API keeps sockets open 65 s
 * (api/src/server.ts KEEP_ALIVE_TIMEOUT_MS), longer than this, so the ALB never reuses a
 * socket the API has just closed (a 502).
 */
export const ALB_IDLE_TIMEOUT_S = 60;
/**
 * After a task is deregistered the ALB keeps sending its in-flight requests this long before
 * ECS stops it. The API drains for 25 s after SIGTERM (api/src/config.ts shutdownGraceMs); 30 s
 * covers that, and keeps a deploy from waiting the default 300 s per task.
 */
export const DEREGISTRATION_DELAY_S = 30;
/** The seed's health check: `GET /health` every 30 s (liveness only: never the database). */
export const HEALTH_CHECK = {
  path: '/health',
  intervalSeconds: 30,
  timeoutSeconds: 5,
  /** 2 passes (≈ 1 minute) to take traffic, 3 failures (≈ 1.5 minutes) to be replaced. */
  healthyThreshold: 2,
  unhealthyThreshold: 3,
} as const;
/**
 * An ALB rule condition takes at most 3 values, and a rule at most 5 values over all its
 * conditions ("You can specify up to three match evaluations per condition. You can specify
 * up to five match evaluations per rule":
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html;
 * "Condition values per rule: 5",
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html).
 */
export const ALB_VALUES_PER_CONDITION = 3;
export const ALB_VALUES_PER_RULE = 5;
/** `/admin` itself and everything under it: both the allow and the deny rule match these. */
export const ADMIN_PATHS = ['/admin', '/admin/*'];
/** The source CIDRs one allow rule can hold beside its path condition: min(3, 5 − 2) = 3. */
export const ADMIN_CIDRS_PER_RULE = Math.min(ALB_VALUES_PER_CONDITION, ALB_VALUES_PER_RULE - ADMIN_PATHS.length);
/** Listener rule priorities: every allow rule (10, 11, …) must come before the 403 at 20. */
const ADMIN_ALLOW_PRIORITY = 10;
const ADMIN_DENY_PRIORITY = 20;
/** Allow rules fit between the two priorities; the config refuses a longer allowlist. */
export const MAX_ADMIN_ALLOW_RULES = ADMIN_DENY_PRIORITY - ADMIN_ALLOW_PRIORITY;
export const MAX_ADMIN_ALLOWLIST = MAX_ADMIN_ALLOW_RULES * ADMIN_CIDRS_PER_RULE;
/** The API's error envelope, minus the timestamp a fixed response cannot carry. */
const ADMIN_FORBIDDEN_BODY = JSON.stringify({
  success: false,
  data: null,
  error: { code: 'forbidden', message: 'the admin API is not reachable from this address' },
});

export interface EdgeArgs {
  /** The existing public hosted zone. @example { zone: 'gamificator.click' } */
  zone: string;
  /** The API's public name. @example { domain: 'chapi.gamificator.click' } */
  domain: string;
  /** The certificate's name; must cover `domain`. @example { certificateDomain: '*.gamificator.click' } */
  certificateDomain: string;
  /** The VPC of the target group. */
  vpcId: pulumi.Input<string>;
  /** Where the ALB's nodes live: one public subnet per AZ. */
  publicSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The ALB's security group (`Network.albSecurityGroupId`). */
  albSecurityGroupId: pulumi.Input<string>;
  /**
   * Source CIDRs that may reach `/admin` and `/admin/*`; everyone else gets a 403 from the ALB
   * itself. At most `MAX_ADMIN_ALLOWLIST`, 3 to a rule.
   * @default [] (nobody: operators use the keys CLI as a one-off task)
   */
  adminAllowlist: string[];
  /**
   * Refuse to delete the ALB (a `pulumi destroy` must turn this off first).
   * @default true
   */
  deletionProtection: boolean;
}

/**
 * Certificate, ALB, listeners, target group, DNS.
 *
 * Cost (us-east-1): the ALB is $0.0225/hour (~$16.43/month) plus $0.008 per LCU-hour (~$5.84
 * per always-on LCU); its public IPv4 addresses (one per AZ) are $0.005/hour each (~$7.30/month
 * for two). ACM public certificates are free; the alias record's queries are free.
 *
 * @example
 * const edge = new Edge('chapi', { zone: 'gamificator.click', domain: 'chapi.gamificator.click', … });
 * edge.targetGroupArn; // what the service registers its tasks in
 */
export class Edge extends pulumi.ComponentResource {
  readonly url: string;
  readonly loadBalancerArn: pulumi.Output<string>;
  readonly loadBalancerDnsName: pulumi.Output<string>;
  /** `app/name/id`: the ALB's CloudWatch dimension. */
  readonly loadBalancerArnSuffix: pulumi.Output<string>;
  readonly targetGroupArn: pulumi.Output<string>;
  /** `targetgroup/name/id`: the target group's CloudWatch dimension. */
  readonly targetGroupArnSuffix: pulumi.Output<string>;
  /** The HTTPS listener; the service must not register targets before it exists. */
  readonly httpsListener: aws.lb.Listener;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chapi:edge:Edge', name, {}, opts);
    // Options of every child resource: parented to this component (the SST way).
    const child = { parent: this };

    const zone = aws.route53.getZoneOutput({ name: args.zone, privateZone: false }, child);
    const certificateArn = createCertificate();
    const alb = createLoadBalancer();
    const targetGroup = createTargetGroup();
    const httpsListener = createListeners();
    createAdminRules();
    createAliasRecord();

    this.url = `https://${args.domain}`;
    this.loadBalancerArn = alb.arn;
    this.loadBalancerDnsName = alb.dnsName;
    this.loadBalancerArnSuffix = alb.arnSuffix;
    this.targetGroupArn = targetGroup.arn;
    this.targetGroupArnSuffix = targetGroup.arnSuffix;
    this.httpsListener = httpsListener;
    this.registerOutputs({ url: this.url, loadBalancerDnsName: this.loadBalancerDnsName });

    function createCertificate(): pulumi.Output<string> {
      const certificate = new aws.acm.Certificate(
        `${name}-certificate`,
        { domainName: args.certificateDomain, validationMethod: 'DNS', keyAlgorithm: 'RSA_2048' },
        child,
      );
      // One name, so one validation record: declared directly, not inside an apply(), so that
      // previews show it and the graph orders it.
      const option = certificate.domainValidationOptions.apply((options) => {
        const first = options[0];
        if (first === undefined) throw new Error(`ACM returned no DNS validation record for ${args.certificateDomain}`);
        return first;
      });
      const record = new aws.route53.Record(
        `${name}-certificate-validation`,
        {
          zoneId: zone.zoneId,
          name: option.resourceRecordName,
          type: option.resourceRecordType,
          records: [option.resourceRecordValue],
          ttl: 300,
          // ACM's validation record is the same for every certificate of this name in this
          // account: another certificate's identical record must not block this one.
          allowOverwrite: true,
        },
        child,
      );
      const validation = new aws.acm.CertificateValidation(
        `${name}-certificate`,
        { certificateArn: certificate.arn, validationRecordFqdns: [record.fqdn] },
        child,
      );
      // The listener takes the validated ARN, so it waits until ACM has issued the certificate.
      return validation.certificateArn;
    }

    function createLoadBalancer(): aws.lb.LoadBalancer {
      return new aws.lb.LoadBalancer(
        `${name}-alb`,
        {
          loadBalancerType: 'application',
          internal: false,
          ipAddressType: 'ipv4',
          subnets: args.publicSubnetIds,
          securityGroups: [args.albSecurityGroupId],
          idleTimeout: ALB_IDLE_TIMEOUT_S,
          // Headers with invalid characters are dropped, not forwarded (FSBP ELB.4).
          dropInvalidHeaderFields: true,
          // Requests that look like HTTP desync attempts are blocked (FSBP ELB.12).
          desyncMitigationMode: 'defensive',
          enableDeletionProtection: args.deletionProtection,
          enableHttp2: true,
        },
        child,
      );
    }

    function createTargetGroup(): aws.lb.TargetGroup {
      return new aws.lb.TargetGroup(
        `${name}-api`,
        {
          targetType: 'ip',
          protocol: 'HTTP',
          port: CONTAINER_PORT,
          vpcId: args.vpcId,
          deregistrationDelay: DEREGISTRATION_DELAY_S,
          healthCheck: {
            enabled: true,
            protocol: 'HTTP',
            path: HEALTH_CHECK.path,
            port: 'traffic-port',
            interval: HEALTH_CHECK.intervalSeconds,
            timeout: HEALTH_CHECK.timeoutSeconds,
            healthyThreshold: HEALTH_CHECK.healthyThreshold,
            unhealthyThreshold: HEALTH_CHECK.unhealthyThreshold,
            matcher: '200',
          },
        },
        child,
      );
    }

    function createListeners(): aws.lb.Listener {
      new aws.lb.Listener(
        `${name}-http`,
        {
          loadBalancerArn: alb.arn,
          port: 80,
          protocol: 'HTTP',
          // HTTP exists only to send clients to HTTPS (FSBP ELB.1).
          defaultActions: [{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }],
        },
        child,
      );
      return new aws.lb.Listener(
        `${name}-https`,
        {
          loadBalancerArn: alb.arn,
          port: 443,
          protocol: 'HTTPS',
          sslPolicy: TLS_POLICY,
          certificateArn,
          defaultActions: [{ type: 'forward', targetGroupArn: targetGroup.arn }],
        },
        child,
      );
    }

    function createAdminRules(): void {
      // One allow rule per 3 CIDRs: the path condition spends 2 of the rule's 5 values.
      for (let index = 0; index * ADMIN_CIDRS_PER_RULE < args.adminAllowlist.length; index += 1) {
        const cidrs = args.adminAllowlist.slice(index * ADMIN_CIDRS_PER_RULE, (index + 1) * ADMIN_CIDRS_PER_RULE);
        new aws.lb.ListenerRule(
          `${name}-admin-allow${index === 0 ? '' : `-${index + 1}`}`,
          {
            listenerArn: httpsListener.arn,
            priority: ADMIN_ALLOW_PRIORITY + index,
            conditions: [{ pathPattern: { values: ADMIN_PATHS } }, { sourceIp: { values: cidrs } }],
            actions: [{ type: 'forward', targetGroupArn: targetGroup.arn }],
          },
          child,
        );
      }
      new aws.lb.ListenerRule(
        `${name}-admin-deny`,
        {
          listenerArn: httpsListener.arn,
          priority: ADMIN_DENY_PRIORITY,
          conditions: [{ pathPattern: { values: ADMIN_PATHS } }],
          actions: [
            {
              type: 'fixed-response',
              fixedResponse: { statusCode: '403', contentType: 'application/json', messageBody: ADMIN_FORBIDDEN_BODY },
            },
          ],
        },
        child,
      );
    }

    function createAliasRecord(): void {
      new aws.route53.Record(
        `${name}-alias`,
        {
          zoneId: zone.zoneId,
          name: args.domain,
          type: 'A',
          aliases: [{ name: alb.dnsName, zoneId: alb.zoneId, evaluateTargetHealth: true }],
          // The existing zone may already hold this name (a record from before this stack):
          // take it over (an UPSERT) instead of failing the first deploy. The runbook says so.
          // https://www.pulumi.com/registry/packages/aws/api-docs/route53/record/ (allowOverwrite)
          allowOverwrite: true,
        },
        child,
      );
    }
  }
}
