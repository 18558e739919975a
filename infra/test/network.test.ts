import { expect } from 'chai';
import { prodStack, recordStack, statements, T, type Stack } from './support.js';

describe('network', () => {
  let stack: Stack;
  before(async () => {
    stack = await prodStack();
  });

  it('is a VPC over 2 AZs with public and private subnets and the configured NAT strategy', () => {
    const vpc = stack.one(T.vpc, 'chapi-vpc').inputs;
    expect(vpc.numberOfAvailabilityZones).to.equal(2);
    expect(vpc.natGateways).to.deep.equal({ strategy: 'Single' });
    expect(vpc.subnetSpecs).to.deep.equal([
      { type: 'Public', cidrMask: 24 },
      { type: 'Private', cidrMask: 24 },
    ]);
  });

  it('puts one NAT gateway in each AZ in the per-az mode', async () => {
    const perAz = await recordStack({ natMode: 'per-az' });
    expect(perAz.one(T.vpc, 'chapi-vpc').inputs.natGateways).to.deep.equal({ strategy: 'OnePerAz' });
    expect(perAz.one(T.service, 'chapi-api').inputs.networkConfiguration).to.include({ assignPublicIp: false });
  });

  it('runs the tasks in public subnets with a public IP, still behind the ALB group, in the no-NAT mode', async () => {
    const noNat = await recordStack({ natMode: 'none' });
    const vpc = noNat.one(T.vpc, 'chapi-vpc').inputs;
    expect(vpc.natGateways).to.deep.equal({ strategy: 'None' });
    expect(vpc.subnetSpecs).to.deep.equal([{ type: 'Public', cidrMask: 24 }]);
    const network = noNat.one(T.service, 'chapi-api').inputs.networkConfiguration as Record<string, unknown>;
    expect(network).to.deep.equal({
      assignPublicIp: true,
      securityGroups: ['chapi-tasks-id'],
      subnets: ['subnet-public-a', 'subnet-public-b'],
    });
    const taskIngress = noNat.all(T.ingress).filter((rule) => rule.inputs.securityGroupId === 'chapi-tasks-id');
    expect(taskIngress.map((rule) => rule.inputs.referencedSecurityGroupId)).to.deep.equal(['chapi-alb-id']);
  });

  it('lets the internet reach the ALB on 443 and 80 only, over IPv4 and IPv6', () => {
    const albIngress = stack.all(T.ingress).filter((rule) => rule.inputs.securityGroupId === 'chapi-alb-id');
    const seen = albIngress.map((rule) => `${String(rule.inputs.fromPort)}-${String(rule.inputs.toPort)} ${String(rule.inputs.cidrIpv4 ?? rule.inputs.cidrIpv6)}`);
    expect(seen.sort()).to.deep.equal(['443-443 0.0.0.0/0', '443-443 ::/0', '80-80 0.0.0.0/0', '80-80 ::/0']);
    for (const rule of albIngress) expect(rule.inputs.ipProtocol).to.equal('tcp');
  });

  it('lets only the ALB group reach the tasks, on 8000', () => {
    const taskIngress = stack.all(T.ingress).filter((rule) => rule.inputs.securityGroupId === 'chapi-tasks-id');
    expect(taskIngress).to.have.length(1);
    expect(taskIngress[0]?.inputs).to.include({ fromPort: 8000, toPort: 8000, ipProtocol: 'tcp', referencedSecurityGroupId: 'chapi-alb-id' });
    expect(taskIngress[0]?.inputs).not.to.have.any.keys('cidrIpv4', 'cidrIpv6');
  });

  it('has no other way in: every ingress rule is one of those five', () => {
    expect(stack.all(T.ingress)).to.have.length(5);
    for (const group of stack.all(T.sg)) expect(group.inputs).not.to.have.any.keys('ingress', 'egress');
  });

  it('lets the ALB out only to the tasks, and the tasks out only on 443 and 5432', () => {
    const egress = stack.all(T.egress).map((rule) => [rule.inputs.securityGroupId, rule.inputs.fromPort, rule.inputs.referencedSecurityGroupId ?? rule.inputs.cidrIpv4]);
    expect(egress).to.have.deep.members([
      ['chapi-alb-id', 8000, 'chapi-tasks-id'],
      ['chapi-tasks-id', 443, '0.0.0.0/0'],
      ['chapi-tasks-id', 5432, '0.0.0.0/0'],
    ]);
  });

  it("empties the VPC's default security group (FSBP EC2.2)", () => {
    const defaultGroup = stack.one(T.defaultSg, 'chapi-default').inputs;
    expect(defaultGroup.ingress).to.deep.equal([]);
    expect(defaultGroup.egress).to.deep.equal([]);
  });

  it('logs rejected traffic to a log group that expires (FSBP EC2.6)', () => {
    expect(stack.one(T.flowLog, 'chapi-flow-log').inputs).to.include({ trafficType: 'REJECT', logDestinationType: 'cloud-watch-logs' });
    expect(stack.one(T.logGroup, 'chapi-flow-log').inputs.retentionInDays).to.equal(30);
    const trust = stack.one(T.role, 'chapi-flow-log').inputs.assumeRolePolicy as { Statement: Record<string, unknown>[] };
    expect(trust.Statement).to.deep.equal([
      {
        Effect: 'Allow',
        Principal: { Service: 'vpc-flow-logs.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
      },
    ]);
  });

  // The flow log role's permissions: https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
  it('lets the flow log write its own group and describe the log groups, as AWS documents for the role', () => {
    const inline = stack.one(T.role, 'chapi-flow-log').inputs.inlinePolicies as { policy: string }[];
    expect(statements((inline[0] as { policy: string }).policy)).to.deep.equal([
      {
        sid: 'WriteFlowLog',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: ['arn:aws:logs:us-east-1:123456789012:log-group:/vpc/chapi/flow-log:*'],
      },
      { sid: 'FindLogGroups', actions: ['logs:DescribeLogGroups'], resources: ['arn:aws:logs:us-east-1:123456789012:log-group:*'] },
    ]);
  });
});
