/**
 * The network: a VPC over two AZs with public subnets (the ALB; the tasks too in the no-NAT
 * mode) and private subnets (the tasks), egress through NAT as `natMode` says, and the two
 * security groups that are the only ways in: the internet to the ALB on 443/80, the ALB to
 * the tasks on 8000.
 */
import * as aws from '@pulumi/aws';
import * as awsx from '@pulumi/awsx';
import * as pulumi from '@pulumi/pulumi';
import type { NatMode } from './config.js';
import { serviceTrustPolicy, workloadBoundaryArn } from './iam.js';

/** The container port the ALB forwards to (the image's `PORT`). */
export const CONTAINER_PORT = 8000;
/** Two AZs: the fewest an ALB accepts, and enough for the service to survive one AZ. */
export const AVAILABILITY_ZONES = 2;
/** The VPC's range; each subnet gets a /24 (251 usable addresses, far above 2–6 tasks). */
const VPC_CIDR = '10.0.0.0/16';
const SUBNET_CIDR_MASK = 24;
/** Neon's PostgreSQL port (direct and pooler hosts alike). */
const POSTGRES_PORT = 5432;
const HTTPS_PORT = 443;
const HTTP_PORT = 80;
const ANYWHERE_V4 = '0.0.0.0/0';
const ANYWHERE_V6 = '::/0';

export interface NetworkArgs {
  /**
   * How the tasks reach the internet: `per-az`, `single` or `none` (see `NatMode`).
   * @default 'single'
   * @example { natMode: 'per-az' }
   *
   * Cost (us-east-1): a NAT gateway is $0.045/hour (~$32.85/month) plus $0.045/GB processed,
   * and its Elastic IP $0.005/hour (~$3.65/month). `per-az` ≈ $73/month, `single` ≈ $37/month,
   * `none` $0 here but ~$3.65/month of public IPv4 per running task.
   */
  natMode: NatMode;
  /**
   * Days the VPC flow log (rejected traffic only) is kept.
   * @example { flowLogRetentionDays: 30 }
   */
  flowLogRetentionDays: number;
}

/**
 * VPC, subnets, NAT, security groups and the flow log.
 *
 * @example
 * const network = new Network('chapi', { natMode: 'single', flowLogRetentionDays: 30 });
 * network.taskSubnetIds; // where the service and the migration task run
 */
export class Network extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  readonly publicSubnetIds: pulumi.Output<string[]>;
  /** Private subnets, or the public ones in the no-NAT mode. */
  readonly taskSubnetIds: pulumi.Output<string[]>;
  /** True only in the no-NAT mode: tasks need a public IP to reach ECR, Secrets Manager and Neon. */
  readonly assignPublicIp: boolean;
  readonly albSecurityGroupId: pulumi.Output<string>;
  readonly taskSecurityGroupId: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chapi:network:Network', name, {}, opts);
    // Options of every child resource: parented to this component (the SST way).
    const child = { parent: this };
    const noNat = args.natMode === 'none';

    const vpc = createVpc();
    lockDownDefaultSecurityGroup();
    createFlowLog();
    const albSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-alb`,
      { vpcId: vpc.vpcId, description: 'chapi ALB: HTTPS (and HTTP to redirect) from anywhere' },
      child,
    );
    const taskSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-tasks`,
      { vpcId: vpc.vpcId, description: `chapi tasks: ${CONTAINER_PORT} from the ALB only` },
      child,
    );
    createAlbRules();
    createTaskRules();

    this.vpcId = vpc.vpcId;
    this.publicSubnetIds = vpc.publicSubnetIds;
    this.taskSubnetIds = noNat ? vpc.publicSubnetIds : vpc.privateSubnetIds;
    this.assignPublicIp = noNat;
    this.albSecurityGroupId = albSecurityGroup.id;
    this.taskSecurityGroupId = taskSecurityGroup.id;
    this.registerOutputs({ vpcId: this.vpcId, taskSubnetIds: this.taskSubnetIds });

    function createVpc(): awsx.ec2.Vpc {
      // awsx earns its place here: subnets, route tables, the internet gateway and the NAT
      // gateways with their Elastic IPs, laid out per AZ from two settings.
      const strategy = { 'per-az': 'OnePerAz', single: 'Single', none: 'None' } as const;
      return new awsx.ec2.Vpc(
        `${name}-vpc`,
        {
          cidrBlock: VPC_CIDR,
          numberOfAvailabilityZones: AVAILABILITY_ZONES,
          enableDnsHostnames: true,
          enableDnsSupport: true,
          natGateways: { strategy: strategy[args.natMode] },
          subnetStrategy: 'Auto',
          // awsx refuses private subnets without NAT: the no-NAT mode has public subnets only.
          subnetSpecs: noNat
            ? [{ type: 'Public', cidrMask: SUBNET_CIDR_MASK }]
            : [
                { type: 'Public', cidrMask: SUBNET_CIDR_MASK },
                { type: 'Private', cidrMask: SUBNET_CIDR_MASK },
              ],
        },
        child,
      );
    }

    function lockDownDefaultSecurityGroup(): void {
      // Adopting the default group with no rules removes its allow-all rules (FSBP EC2.2):
      // nothing can join it by accident and talk to everything else in it.
      new aws.ec2.DefaultSecurityGroup(`${name}-default`, { vpcId: vpc.vpcId, ingress: [], egress: [] }, child);
    }

    function createFlowLog(): void {
      // Rejected traffic only (FSBP EC2.6): what a probe or a misconfigured rule looks like,
      // at a fraction of the cost of logging every accepted packet.
      const logGroup = new aws.cloudwatch.LogGroup(
        `${name}-flow-log`,
        { name: `/vpc/${name}/flow-log`, retentionInDays: args.flowLogRetentionDays },
        child,
      );
      const accountId = aws.getCallerIdentityOutput({}, child).accountId;
      const role = new aws.iam.Role(
        `${name}-flow-log`,
        {
          assumeRolePolicy: serviceTrustPolicy('vpc-flow-logs.amazonaws.com', accountId),
          permissionsBoundary: workloadBoundaryArn(accountId),
          inlinePolicies: [
            {
              name: 'write-flow-log',
              policy: aws.iam.getPolicyDocumentOutput({
                // The permissions AWS documents for a flow log role (less CreateLogGroup: the
                // group is declared here). DescribeLogGroups lists groups, so it is granted on
                // this account's log groups in this region rather than on one group.
                // https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
                statements: [
                  {
                    sid: 'WriteFlowLog',
                    actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
                    resources: [pulumi.interpolate`${logGroup.arn}:*`],
                  },
                  {
                    sid: 'FindLogGroups',
                    actions: ['logs:DescribeLogGroups'],
                    resources: [logGroup.arn.apply((arn) => arn.replace(/:log-group:.*$/, ':log-group:*'))],
                  },
                ],
              }).json,
            },
          ],
        },
        child,
      );
      new aws.ec2.FlowLog(
        `${name}-flow-log`,
        {
          vpcId: vpc.vpcId,
          trafficType: 'REJECT',
          logDestinationType: 'cloud-watch-logs',
          logDestination: logGroup.arn,
          iamRoleArn: role.arn,
        },
        child,
      );
    }

    function createAlbRules(): void {
      // The ALB is IPv4-only today (the VPC has no IPv6 range); the ::/0 rules are there so a
      // dual-stack ALB (and an AAAA alias) needs no security group change.
      for (const [port, label] of [
        [HTTPS_PORT, 'https'],
        [HTTP_PORT, 'http'],
      ] as const) {
        for (const [cidr, family] of [
          [ANYWHERE_V4, 'v4'],
          [ANYWHERE_V6, 'v6'],
        ] as const) {
          new aws.vpc.SecurityGroupIngressRule(
            `${name}-alb-${label}-${family}`,
            {
              securityGroupId: albSecurityGroup.id,
              ipProtocol: 'tcp',
              fromPort: port,
              toPort: port,
              ...(family === 'v4' ? { cidrIpv4: cidr } : { cidrIpv6: cidr }),
              description: port === HTTP_PORT ? 'HTTP, only redirected to HTTPS' : 'HTTPS',
            },
            child,
          );
        }
      }
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-alb-to-tasks`,
        {
          securityGroupId: albSecurityGroup.id,
          ipProtocol: 'tcp',
          fromPort: CONTAINER_PORT,
          toPort: CONTAINER_PORT,
          referencedSecurityGroupId: taskSecurityGroup.id,
          description: 'requests and health checks to the tasks',
        },
        child,
      );
    }

    function createTaskRules(): void {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-tasks-from-alb`,
        {
          securityGroupId: taskSecurityGroup.id,
          ipProtocol: 'tcp',
          fromPort: CONTAINER_PORT,
          toPort: CONTAINER_PORT,
          referencedSecurityGroupId: albSecurityGroup.id,
          description: 'from the ALB only',
        },
        child,
      );
      // Out: HTTPS (ECR, S3 layers, Secrets Manager, CloudWatch Logs) and PostgreSQL (Neon).
      // Neon's addresses are not fixed, so the destination is anywhere; the port is not.
      // DNS to the VPC resolver is not subject to security groups.
      for (const [port, label] of [
        [HTTPS_PORT, 'https'],
        [POSTGRES_PORT, 'postgres'],
      ] as const) {
        new aws.vpc.SecurityGroupEgressRule(
          `${name}-tasks-${label}-out`,
          {
            securityGroupId: taskSecurityGroup.id,
            ipProtocol: 'tcp',
            fromPort: port,
            toPort: port,
            cidrIpv4: ANYWHERE_V4,
            description: label === 'https' ? 'AWS APIs (ECR, Secrets Manager, Logs)' : 'Neon PostgreSQL',
          },
          child,
        );
      }
    }
  }
}
