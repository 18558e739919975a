/**
 * What tells a human something is wrong: CloudWatch alarms on the ALB's view of the API (5xx
 * rate, unhealthy targets, p95 latency) and a monthly AWS Budget, all to one SNS topic (and an
 * e-mail address, when configured).
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

/** Alarm when more than this share of requests ends in a 5xx (the ALB's own and the API's). */
export const ERROR_RATE_PERCENT = 5;
/** The contract's latency target: p95 under 500 ms. */
export const P95_LATENCY_SECONDS = 0.5;
/** One-minute periods; an alarm needs this many bad minutes in a row (a blip is not a page). */
const PERIOD_S = 60;
const EVALUATION_PERIODS = 5;
/** Budget notifications: actual spend past 80 %, forecast past 100 %. */
export const BUDGET_ACTUAL_PERCENT = 80;
export const BUDGET_FORECAST_PERCENT = 100;

export interface AlarmsArgs {
  /** `app/…/…` of the ALB and `targetgroup/…/…` of the API's target group (CloudWatch dimensions). */
  loadBalancerArnSuffix: pulumi.Input<string>;
  targetGroupArnSuffix: pulumi.Input<string>;
  /**
   * Also notify this address (AWS sends a confirmation e-mail first).
   * @default undefined (the topic only)
   * @example { alarmEmail: 'ops@gamificator.click' }
   */
  alarmEmail: string | undefined;
  /**
   * Monthly cost budget in US dollars.
   * @example { monthlyBudgetUsd: 150 }
   */
  monthlyBudgetUsd: number;
}

/**
 * SNS topic, three alarms, one budget.
 *
 * Cost (us-east-1): standard alarms $0.10 each per month (the metric-math 5xx alarm counts
 * its three metrics: $0.30); SNS e-mail is free for the first 1,000; the first two budgets
 * of an account are free.
 *
 * @example
 * new Alarms('chapi', { loadBalancerArnSuffix: edge.loadBalancerArnSuffix, …, monthlyBudgetUsd: 150 });
 */
export class Alarms extends pulumi.ComponentResource {
  readonly topicArn: pulumi.Output<string>;

  constructor(name: string, args: AlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chapi:alarms:Alarms', name, {}, opts);
    // Options of every child resource: parented to this component (the SST way).
    const child = { parent: this };
    const dimensions = { LoadBalancer: args.loadBalancerArnSuffix, TargetGroup: args.targetGroupArnSuffix };

    const { topic, policy } = createTopic();
    createErrorRateAlarm();
    createUnhealthyHostsAlarm();
    createLatencyAlarm();
    createBudget();

    this.topicArn = topic.arn;
    this.registerOutputs({ topicArn: this.topicArn });

    function createTopic(): { topic: aws.sns.Topic; policy: aws.sns.TopicPolicy } {
      const created = new aws.sns.Topic(`${name}-alarms`, {}, child);
      // CloudWatch alarms publish to a same-account topic with no policy; AWS Budgets needs one.
      const identity = aws.getCallerIdentityOutput({}, child);
      const topicPolicy = new aws.sns.TopicPolicy(
        `${name}-alarms`,
        {
          arn: created.arn,
          policy: aws.iam.getPolicyDocumentOutput({
            statements: [
              {
                sid: 'AccountOwnerManages',
                principals: [{ type: 'AWS', identifiers: [pulumi.interpolate`arn:aws:iam::${identity.accountId}:root`] }],
                actions: ['sns:GetTopicAttributes', 'sns:SetTopicAttributes', 'sns:Subscribe', 'sns:Publish'],
                resources: [created.arn],
              },
              {
                sid: 'CloudWatchAlarmsPublish',
                principals: [{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com'] }],
                actions: ['sns:Publish'],
                resources: [created.arn],
                conditions: [{ test: 'StringEquals', variable: 'aws:SourceAccount', values: [identity.accountId] }],
              },
              {
                sid: 'BudgetsPublish',
                principals: [{ type: 'Service', identifiers: ['budgets.amazonaws.com'] }],
                actions: ['sns:Publish'],
                resources: [created.arn],
                conditions: [{ test: 'StringEquals', variable: 'aws:SourceAccount', values: [identity.accountId] }],
              },
            ],
          }).json,
        },
        child,
      );
      if (args.alarmEmail !== undefined) {
        new aws.sns.TopicSubscription(
          `${name}-alarms-email`,
          { topic: created.arn, protocol: 'email', endpoint: args.alarmEmail },
          child,
        );
      }
      return { topic: created, policy: topicPolicy };
    }

    function alarm(id: string, description: string, settings: Omit<aws.cloudwatch.MetricAlarmArgs, 'alarmDescription'>): void {
      new aws.cloudwatch.MetricAlarm(
        `${name}-${id}`,
        {
          alarmDescription: description,
          alarmActions: [topic.arn],
          okActions: [topic.arn],
          // No traffic is not an outage: missing data never raises an alarm.
          treatMissingData: 'notBreaching',
          evaluationPeriods: EVALUATION_PERIODS,
          ...settings,
        },
        child,
      );
    }

    function createErrorRateAlarm(): void {
      const metric = (id: string, metricName: string, metricDimensions: Record<string, pulumi.Input<string>>) => ({
        id,
        returnData: false,
        metric: { namespace: 'AWS/ApplicationELB', metricName, dimensions: metricDimensions, period: PERIOD_S, stat: 'Sum' },
      });
      const alb = { LoadBalancer: args.loadBalancerArnSuffix };
      alarm('5xx-rate', `more than ${ERROR_RATE_PERCENT} % of requests answered 5xx for ${EVALUATION_PERIODS} minutes`, {
        comparisonOperator: 'GreaterThanThreshold',
        threshold: ERROR_RATE_PERCENT,
        metricQueries: [
          metric('target5xx', 'HTTPCode_Target_5XX_Count', dimensions),
          metric('elb5xx', 'HTTPCode_ELB_5XX_Count', alb),
          metric('requests', 'RequestCount', alb),
          {
            id: 'rate',
            label: '5xx percent',
            returnData: true,
            expression: '100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests',
          },
        ],
      });
    }

    function createUnhealthyHostsAlarm(): void {
      alarm('unhealthy-hosts', `a task failed the ALB health check for ${EVALUATION_PERIODS} minutes`, {
        namespace: 'AWS/ApplicationELB',
        metricName: 'UnHealthyHostCount',
        dimensions,
        statistic: 'Maximum',
        period: PERIOD_S,
        comparisonOperator: 'GreaterThanThreshold',
        threshold: 0,
      });
    }

    function createLatencyAlarm(): void {
      alarm('p95-latency', `p95 response time above ${P95_LATENCY_SECONDS * 1000} ms for ${EVALUATION_PERIODS} minutes`, {
        namespace: 'AWS/ApplicationELB',
        metricName: 'TargetResponseTime',
        dimensions,
        extendedStatistic: 'p95',
        period: PERIOD_S,
        comparisonOperator: 'GreaterThanThreshold',
        threshold: P95_LATENCY_SECONDS,
      });
    }

    function createBudget(): void {
      const subscribers = {
        subscriberSnsTopicArns: [topic.arn],
        ...(args.alarmEmail === undefined ? {} : { subscriberEmailAddresses: [args.alarmEmail] }),
      };
      new aws.budgets.Budget(
        `${name}-monthly`,
        {
          budgetType: 'COST',
          timeUnit: 'MONTHLY',
          limitAmount: args.monthlyBudgetUsd.toFixed(2),
          limitUnit: 'USD',
          notifications: [
            { notificationType: 'ACTUAL', comparisonOperator: 'GREATER_THAN', threshold: BUDGET_ACTUAL_PERCENT, thresholdType: 'PERCENTAGE', ...subscribers },
            { notificationType: 'FORECASTED', comparisonOperator: 'GREATER_THAN', threshold: BUDGET_FORECAST_PERCENT, thresholdType: 'PERCENTAGE', ...subscribers },
          ],
        },
        // Budgets can only publish to the topic once its policy allows budgets.amazonaws.com
        // (BudgetsPublish above): the budget is created after the policy, never before it.
        { ...child, dependsOn: [policy] },
      );
    }
  }
}
