/**
 * The deploy role's permissions, as a table: for every resource type the prod stack declares
 * (`infra/plan.prod.json`), the IAM actions that create, read, update, delete and tag it.
 * The deploy role's policy is built from the rows of the types in the plan
 * (`./policy.ts`), and the bootstrap tests fail when the plan has a type this table lacks: an
 * infrastructure change cannot outgrow the role unnoticed.
 *
 * Each service's actions are those of the IAM Service Authorization Reference (the page is the
 * row's `reference`); the update and tag columns follow what the Pulumi AWS provider calls for
 * each property the program sets, and the tag column covers `aws:defaultTags`, which tags every
 * taggable resource on create. Reads of EC2 and ELB use their `Describe*` families: the provider
 * reads many attributes of each resource (VPC attributes, network interfaces before deleting a
 * subnet, listener and target-group attributes), every one of them read-only, and a missing
 * one fails a deploy half-way.
 */

/** IAM Service Authorization Reference, one page per service. */
const REF = 'https://docs.aws.amazon.com/service-authorization/latest/reference';
export const REFERENCE = {
  ec2: `${REF}/list_amazonec2.html`,
  elasticloadbalancing: `${REF}/list_awselasticloadbalancingv2.html`,
  acm: `${REF}/list_awscertificatemanager.html`,
  route53: `${REF}/list_amazonroute53.html`,
  ecr: `${REF}/list_amazonelasticcontainerregistry.html`,
  ecs: `${REF}/list_amazonelasticcontainerservice.html`,
  iam: `${REF}/list_awsidentityandaccessmanagementiam.html`,
  secretsmanager: `${REF}/list_awssecretsmanager.html`,
  logs: `${REF}/list_amazoncloudwatchlogs.html`,
  cloudwatch: `${REF}/list_amazoncloudwatch.html`,
  sns: `${REF}/list_amazonsns.html`,
  budgets: `${REF}/list_awsbudgetservice.html`,
  'application-autoscaling': `${REF}/list_applicationautoscaling.html`,
  wafv2: `${REF}/list_awswafv2.html`,
  s3: `${REF}/list_amazons3.html`,
  kms: `${REF}/list_awskeymanagementservice.html`,
} as const;
export type Service = keyof typeof REFERENCE;

/**
 * Which resources a row's actions may touch. `any`: the service's resources cannot be named in
 * advance (generated ids) or the actions take no resource. The others are narrowed to this
 * stack's names in `./policy.ts`. (A row's actions belong to the services of `REFERENCE`; the
 * tests check that every action's prefix has its reference page here.)
 */
export type Scope = 'any' | 'program-roles' | 'stack-secrets' | 'log-groups' | 'stack-repository' | 'hosted-zone' | 'budgets';

export interface Permissions {
  scope: Scope;
  create: string[];
  read: string[];
  update: string[];
  delete: string[];
  tag: string[];
}

const EC2_READ = ['ec2:Describe*'];
const EC2_TAG = ['ec2:CreateTags', 'ec2:DeleteTags'];
const ELB_READ = ['elasticloadbalancing:Describe*'];
const ELB_TAG = ['elasticloadbalancing:AddTags', 'elasticloadbalancing:RemoveTags'];
const ecs = (create: string[], update: string[], del: string[], read: string[]): Permissions => ({
  scope: 'any',
  create,
  read: [...read, 'ecs:ListTagsForResource'],
  update,
  delete: del,
  tag: ['ecs:TagResource', 'ecs:UntagResource'],
});
const ec2 = (create: string[], update: string[], del: string[]): Permissions => ({
  scope: 'any',
  create,
  read: EC2_READ,
  update,
  delete: del,
  tag: EC2_TAG,
});
const elb = (create: string[], update: string[], del: string[]): Permissions => ({
  scope: 'any',
  create,
  read: ELB_READ,
  update,
  delete: del,
  tag: ELB_TAG,
});
const SG_RULES = [
  'ec2:AuthorizeSecurityGroupIngress',
  'ec2:AuthorizeSecurityGroupEgress',
  'ec2:RevokeSecurityGroupIngress',
  'ec2:RevokeSecurityGroupEgress',
];

/** Resource type → the actions on it. */
export const RESOURCE_PERMISSIONS: Readonly<Record<string, Permissions>> = {
  // The network: awsx's VPC children, the security groups, the flow log.
  'aws:ec2/vpc:Vpc': ec2(['ec2:CreateVpc', 'ec2:ModifyVpcAttribute'], ['ec2:ModifyVpcAttribute'], ['ec2:DeleteVpc']),
  'aws:ec2/subnet:Subnet': ec2(['ec2:CreateSubnet', 'ec2:ModifySubnetAttribute'], ['ec2:ModifySubnetAttribute'], ['ec2:DeleteSubnet']),
  'aws:ec2/routeTable:RouteTable': ec2(['ec2:CreateRouteTable'], [], ['ec2:DeleteRouteTable']),
  'aws:ec2/routeTableAssociation:RouteTableAssociation': ec2(
    ['ec2:AssociateRouteTable'],
    ['ec2:ReplaceRouteTableAssociation'],
    ['ec2:DisassociateRouteTable'],
  ),
  'aws:ec2/route:Route': ec2(['ec2:CreateRoute'], ['ec2:ReplaceRoute'], ['ec2:DeleteRoute']),
  'aws:ec2/internetGateway:InternetGateway': ec2(
    ['ec2:CreateInternetGateway', 'ec2:AttachInternetGateway'],
    [],
    ['ec2:DetachInternetGateway', 'ec2:DeleteInternetGateway'],
  ),
  'aws:ec2/natGateway:NatGateway': ec2(['ec2:CreateNatGateway'], [], ['ec2:DeleteNatGateway']),
  'aws:ec2/eip:Eip': ec2(['ec2:AllocateAddress'], [], ['ec2:DisassociateAddress', 'ec2:ReleaseAddress']),
  'aws:ec2/securityGroup:SecurityGroup': ec2(['ec2:CreateSecurityGroup', ...SG_RULES], SG_RULES, ['ec2:DeleteSecurityGroup']),
  'aws:ec2/defaultSecurityGroup:DefaultSecurityGroup': ec2(SG_RULES, SG_RULES, []),
  'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule': ec2(
    ['ec2:AuthorizeSecurityGroupIngress'],
    ['ec2:ModifySecurityGroupRules', 'ec2:UpdateSecurityGroupRuleDescriptionsIngress'],
    ['ec2:RevokeSecurityGroupIngress'],
  ),
  'aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule': ec2(
    ['ec2:AuthorizeSecurityGroupEgress'],
    ['ec2:ModifySecurityGroupRules', 'ec2:UpdateSecurityGroupRuleDescriptionsEgress'],
    ['ec2:RevokeSecurityGroupEgress'],
  ),
  // Creating a flow log also passes its role (the PassRole statement of ./policy.ts).
  'aws:ec2/flowLog:FlowLog': ec2(['ec2:CreateFlowLogs'], [], ['ec2:DeleteFlowLogs']),

  // The edge.
  'aws:acm/certificate:Certificate': {
    scope: 'any',
    create: ['acm:RequestCertificate'],
    read: ['acm:DescribeCertificate', 'acm:ListTagsForCertificate'],
    update: [],
    delete: ['acm:DeleteCertificate'],
    tag: ['acm:AddTagsToCertificate', 'acm:RemoveTagsFromCertificate'],
  },
  'aws:acm/certificateValidation:CertificateValidation': {
    scope: 'any',
    create: [],
    read: ['acm:DescribeCertificate'],
    update: [],
    delete: [],
    tag: [],
  },
  // Records are not taggable. Creating one waits for the change to be INSYNC (GetChange, in
  // ./policy.ts with the zone lookups).
  'aws:route53/record:Record': {
    scope: 'hosted-zone',
    create: ['route53:ChangeResourceRecordSets'],
    // The zone lookup (getZone) reads the zone and its tags.
    read: ['route53:ListResourceRecordSets', 'route53:GetHostedZone', 'route53:ListTagsForResource'],
    update: ['route53:ChangeResourceRecordSets'],
    delete: ['route53:ChangeResourceRecordSets'],
    tag: [],
  },
  'aws:lb/loadBalancer:LoadBalancer': elb(
    ['elasticloadbalancing:CreateLoadBalancer', 'elasticloadbalancing:ModifyLoadBalancerAttributes'],
    [
      'elasticloadbalancing:ModifyLoadBalancerAttributes',
      'elasticloadbalancing:SetSecurityGroups',
      'elasticloadbalancing:SetSubnets',
      'elasticloadbalancing:SetIpAddressType',
    ],
    ['elasticloadbalancing:DeleteLoadBalancer'],
  ),
  'aws:lb/targetGroup:TargetGroup': elb(
    ['elasticloadbalancing:CreateTargetGroup', 'elasticloadbalancing:ModifyTargetGroupAttributes'],
    ['elasticloadbalancing:ModifyTargetGroup', 'elasticloadbalancing:ModifyTargetGroupAttributes'],
    ['elasticloadbalancing:DeleteTargetGroup'],
  ),
  'aws:lb/listener:Listener': elb(
    ['elasticloadbalancing:CreateListener'],
    ['elasticloadbalancing:ModifyListener', 'elasticloadbalancing:ModifyListenerAttributes'],
    ['elasticloadbalancing:DeleteListener'],
  ),
  'aws:lb/listenerRule:ListenerRule': elb(
    ['elasticloadbalancing:CreateRule'],
    ['elasticloadbalancing:ModifyRule', 'elasticloadbalancing:SetRulePriorities'],
    ['elasticloadbalancing:DeleteRule'],
  ),

  // The registry.
  'aws:ecr/repository:Repository': {
    scope: 'stack-repository',
    create: ['ecr:CreateRepository'],
    read: ['ecr:DescribeRepositories', 'ecr:ListTagsForResource'],
    update: ['ecr:PutImageTagMutability', 'ecr:PutImageScanningConfiguration'],
    delete: ['ecr:DeleteRepository'],
    tag: ['ecr:TagResource', 'ecr:UntagResource'],
  },
  'aws:ecr/lifecyclePolicy:LifecyclePolicy': {
    scope: 'stack-repository',
    create: ['ecr:PutLifecyclePolicy'],
    read: ['ecr:GetLifecyclePolicy'],
    update: ['ecr:PutLifecyclePolicy'],
    delete: ['ecr:DeleteLifecyclePolicy'],
    tag: [],
  },

  // Secrets. GetSecretValue: the provider reads a version back on refresh, and the deploy job
  // reads the smoke test's key with it.
  'aws:secretsmanager/secret:Secret': {
    scope: 'stack-secrets',
    create: ['secretsmanager:CreateSecret'],
    read: ['secretsmanager:DescribeSecret', 'secretsmanager:GetResourcePolicy'],
    update: ['secretsmanager:UpdateSecret'],
    delete: ['secretsmanager:DeleteSecret'],
    tag: ['secretsmanager:TagResource', 'secretsmanager:UntagResource'],
  },
  'aws:secretsmanager/secretVersion:SecretVersion': {
    scope: 'stack-secrets',
    create: ['secretsmanager:PutSecretValue'],
    read: ['secretsmanager:GetSecretValue', 'secretsmanager:ListSecretVersionIds', 'secretsmanager:DescribeSecret'],
    update: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
    delete: ['secretsmanager:UpdateSecretVersionStage'],
    tag: [],
  },

  // The service.
  'aws:ecs/cluster:Cluster': ecs(['ecs:CreateCluster'], ['ecs:UpdateCluster', 'ecs:UpdateClusterSettings'], ['ecs:DeleteCluster'], ['ecs:DescribeClusters']),
  // Registering passes the execution role (the PassRole statement of ./policy.ts).
  'aws:ecs/taskDefinition:TaskDefinition': ecs(
    ['ecs:RegisterTaskDefinition'],
    [],
    ['ecs:DeregisterTaskDefinition'],
    ['ecs:DescribeTaskDefinition'],
  ),
  'aws:ecs/service:Service': ecs(['ecs:CreateService'], ['ecs:UpdateService'], ['ecs:DeleteService'], ['ecs:DescribeServices']),
  'aws:cloudwatch/logGroup:LogGroup': {
    scope: 'log-groups',
    create: ['logs:CreateLogGroup', 'logs:PutRetentionPolicy'],
    read: ['logs:DescribeLogGroups', 'logs:ListTagsForResource', 'logs:ListTagsLogGroup'],
    update: ['logs:PutRetentionPolicy', 'logs:DeleteRetentionPolicy'],
    delete: ['logs:DeleteLogGroup'],
    // The current tagging API and the log-group one the provider still calls on some paths.
    tag: ['logs:TagResource', 'logs:UntagResource', 'logs:TagLogGroup', 'logs:UntagLogGroup'],
  },
  // Creating a role, writing its policy and setting its boundary are granted only with the
  // workload boundary on the role (./policy.ts).
  'aws:iam/role:Role': {
    scope: 'program-roles',
    create: ['iam:CreateRole', 'iam:PutRolePolicy'],
    read: ['iam:GetRole', 'iam:GetRolePolicy', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies', 'iam:ListRoleTags'],
    update: [
      'iam:UpdateRole',
      'iam:UpdateRoleDescription',
      'iam:UpdateAssumeRolePolicy',
      'iam:PutRolePolicy',
      'iam:DeleteRolePolicy',
      'iam:PutRolePermissionsBoundary',
    ],
    delete: ['iam:DeleteRole', 'iam:DeleteRolePolicy', 'iam:ListInstanceProfilesForRole'],
    tag: ['iam:TagRole', 'iam:UntagRole'],
  },
  'aws:appautoscaling/target:Target': {
    scope: 'any',
    create: ['application-autoscaling:RegisterScalableTarget'],
    read: ['application-autoscaling:DescribeScalableTargets', 'application-autoscaling:ListTagsForResource'],
    update: ['application-autoscaling:RegisterScalableTarget'],
    delete: ['application-autoscaling:DeregisterScalableTarget'],
    tag: ['application-autoscaling:TagResource', 'application-autoscaling:UntagResource'],
  },
  // Target tracking manages its own CloudWatch alarms; ECS lists the alarm actions among those
  // a caller needs for service auto scaling
  // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/auto-scaling-IAM.html).
  'aws:appautoscaling/policy:Policy': {
    scope: 'any',
    create: ['application-autoscaling:PutScalingPolicy', 'cloudwatch:PutMetricAlarm'],
    read: ['application-autoscaling:DescribeScalingPolicies', 'cloudwatch:DescribeAlarms'],
    update: ['application-autoscaling:PutScalingPolicy', 'cloudwatch:PutMetricAlarm'],
    delete: ['application-autoscaling:DeleteScalingPolicy', 'cloudwatch:DeleteAlarms'],
    tag: [],
  },

  // Alarms and budget.
  'aws:sns/topic:Topic': {
    scope: 'any',
    create: ['sns:CreateTopic', 'sns:SetTopicAttributes'],
    read: ['sns:GetTopicAttributes', 'sns:ListTagsForResource'],
    update: ['sns:SetTopicAttributes'],
    delete: ['sns:DeleteTopic'],
    tag: ['sns:TagResource', 'sns:UntagResource'],
  },
  'aws:sns/topicPolicy:TopicPolicy': {
    scope: 'any',
    create: ['sns:SetTopicAttributes'],
    read: ['sns:GetTopicAttributes'],
    update: ['sns:SetTopicAttributes'],
    delete: ['sns:SetTopicAttributes'],
    tag: [],
  },
  // Only with chapi:alarmEmail set (not in the prod plan today).
  'aws:sns/topicSubscription:TopicSubscription': {
    scope: 'any',
    create: ['sns:Subscribe'],
    read: ['sns:GetSubscriptionAttributes'],
    update: ['sns:SetSubscriptionAttributes'],
    delete: ['sns:Unsubscribe'],
    tag: [],
  },
  'aws:cloudwatch/metricAlarm:MetricAlarm': {
    scope: 'any',
    create: ['cloudwatch:PutMetricAlarm'],
    read: ['cloudwatch:DescribeAlarms', 'cloudwatch:ListTagsForResource'],
    update: ['cloudwatch:PutMetricAlarm'],
    delete: ['cloudwatch:DeleteAlarms'],
    tag: ['cloudwatch:TagResource', 'cloudwatch:UntagResource'],
  },
  // CreateBudget is authorized by budgets:ModifyBudget, and by budgets:TagResource when it
  // carries tags (aws:defaultTags): the Budgets page of the reference maps both.
  'aws:budgets/budget:Budget': {
    scope: 'budgets',
    create: ['budgets:ModifyBudget'],
    read: ['budgets:ViewBudget', 'budgets:ListTagsForResource'],
    update: ['budgets:ModifyBudget'],
    delete: ['budgets:ModifyBudget'],
    tag: ['budgets:TagResource', 'budgets:UntagResource'],
  },

  // A web ACL in front of the ALB (the WAF module): associating one also needs the ALB side.
  'aws:wafv2/webAcl:WebAcl': {
    scope: 'any',
    create: ['wafv2:CreateWebACL'],
    read: ['wafv2:GetWebACL', 'wafv2:ListTagsForResource'],
    update: ['wafv2:UpdateWebACL'],
    delete: ['wafv2:DeleteWebACL'],
    tag: ['wafv2:TagResource', 'wafv2:UntagResource'],
  },
  'aws:wafv2/webAclAssociation:WebAclAssociation': {
    scope: 'any',
    create: ['wafv2:AssociateWebACL', 'elasticloadbalancing:SetWebAcl'],
    read: ['wafv2:GetWebACLForResource'],
    update: [],
    delete: ['wafv2:DisassociateWebACL', 'elasticloadbalancing:SetWebAcl'],
    tag: [],
  },

  // The deploy's own steps (infra/cli/): publish the image (ECR API and `docker push`), run
  // the migration task and watch it, check the rollout.
  'command:local:Command': {
    scope: 'any',
    create: [
      'ecr:GetAuthorizationToken',
      'ecr:DescribeImages',
      'ecr:BatchCheckLayerAvailability',
      'ecr:BatchGetImage',
      'ecr:GetDownloadUrlForLayer',
      'ecr:InitiateLayerUpload',
      'ecr:UploadLayerPart',
      'ecr:CompleteLayerUpload',
      'ecr:PutImage',
      'ecs:RunTask',
      'ecs:DescribeTasks',
      'ecs:StopTask',
      'ecs:DescribeServices',
    ],
    read: [],
    update: [],
    delete: [],
    tag: [],
  },
  // Generated in the engine; no AWS call.
  'random:index/randomPassword:RandomPassword': { scope: 'any', create: [], read: [], update: [], delete: [], tag: [] },
};

/**
 * Components: no AWS call of their own. The project's components declare their children in
 * the plan; awsx's VPC is a remote component whose children the plan cannot show, so they are
 * listed here (what `awsx.ec2.Vpc` creates for public and private subnets with NAT gateways).
 */
export const COMPONENT_CHILDREN: Readonly<Record<string, readonly string[]>> = {
  'awsx:ec2:Vpc': [
    'aws:ec2/vpc:Vpc',
    'aws:ec2/subnet:Subnet',
    'aws:ec2/routeTable:RouteTable',
    'aws:ec2/routeTableAssociation:RouteTableAssociation',
    'aws:ec2/route:Route',
    'aws:ec2/internetGateway:InternetGateway',
    'aws:ec2/natGateway:NatGateway',
    'aws:ec2/eip:Eip',
  ],
};

/** The project's own components (`chapi:<module>:<Class>`): their children are in the plan. */
export const isProjectComponent = (type: string): boolean => type.startsWith('chapi:');

/** Every AWS resource type a plan's types stand for, components expanded. */
export function resourceTypes(planTypes: Iterable<string>): string[] {
  const types = new Set<string>();
  for (const type of planTypes) {
    if (isProjectComponent(type)) continue;
    const children = COMPONENT_CHILDREN[type];
    if (children === undefined) types.add(type);
    else for (const child of children) types.add(child);
  }
  return [...types].sort();
}

/** The types of a plan the table has no row for (what the role-vs-plan test reports). */
export function missingTypes(planTypes: Iterable<string>): string[] {
  return resourceTypes(planTypes).filter((type) => RESOURCE_PERMISSIONS[type] === undefined);
}
