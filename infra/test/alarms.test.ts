import { expect } from 'chai';
import { prodStack, recordStack, statements, T, type Stack } from './support.js';

const dimensions = { LoadBalancer: 'app/chapi-alb/0123456789abcdef', TargetGroup: 'targetgroup/chapi-api/0123456789abcdef' };
const topic = 'arn:aws:sns:us-east-1:123456789012:topic/chapi-alarms';

describe('alarms and budget', () => {
  let stack: Stack;
  before(async () => {
    stack = await prodStack();
  });

  it('alarms on a 5xx rate above 5 % of requests', () => {
    const alarm = stack.one(T.alarm, 'chapi-5xx-rate').inputs;
    expect(alarm).to.include({ comparisonOperator: 'GreaterThanThreshold', threshold: 5, treatMissingData: 'notBreaching' });
    const queries = alarm.metricQueries as { id: string; expression?: string; returnData: boolean; metric?: { metricName: string } }[];
    expect(queries.filter((query) => query.returnData).map((query) => query.expression)).to.deep.equal([
      '100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests',
    ]);
    expect(queries.map((query) => query.metric?.metricName).filter(Boolean)).to.deep.equal([
      'HTTPCode_Target_5XX_Count',
      'HTTPCode_ELB_5XX_Count',
      'RequestCount',
    ]);
  });

  it('alarms on unhealthy targets and on p95 latency over 500 ms', () => {
    expect(stack.one(T.alarm, 'chapi-unhealthy-hosts').inputs).to.deep.include({
      metricName: 'UnHealthyHostCount',
      dimensions,
      statistic: 'Maximum',
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
    });
    expect(stack.one(T.alarm, 'chapi-p95-latency').inputs).to.deep.include({
      metricName: 'TargetResponseTime',
      dimensions,
      extendedStatistic: 'p95',
      threshold: 0.5,
    });
  });

  it('sends every alarm and its recovery to the SNS topic', () => {
    for (const alarm of stack.all(T.alarm)) {
      expect(alarm.inputs.alarmActions).to.deep.equal([topic]);
      expect(alarm.inputs.okActions).to.deep.equal([topic]);
    }
  });

  it('has a monthly cost budget that notifies the topic at 80 % actual and 100 % forecast', () => {
    const budget = stack.one(T.budget, 'chapi-monthly').inputs;
    expect(budget).to.include({ budgetType: 'COST', timeUnit: 'MONTHLY', limitAmount: '150.00', limitUnit: 'USD' });
    const notifications = budget.notifications as Record<string, unknown>[];
    expect(notifications.map((n) => [n.notificationType, n.threshold, n.subscriberSnsTopicArns])).to.deep.equal([
      ['ACTUAL', 80, [topic]],
      ['FORECASTED', 100, [topic]],
    ]);
  });

  it('creates the budget only after the topic policy that lets Budgets publish to the topic', () => {
    expect(stack.one(T.budget, 'chapi-monthly').dependsOn).to.deep.equal(['aws:sns/topicPolicy:TopicPolicy chapi-alarms']);
  });

  it('lets AWS Budgets and CloudWatch (of this account only) publish to the topic', () => {
    const policy = statements(stack.one(T.topicPolicy, 'chapi-alarms').inputs.policy as string);
    const services = policy.flatMap((statement) => statement.principals?.filter((p) => p.type === 'Service').flatMap((p) => p.identifiers) ?? []);
    expect(services).to.have.members(['budgets.amazonaws.com', 'cloudwatch.amazonaws.com']);
  });

  it('subscribes the alarm e-mail when one is configured, and only then', async () => {
    expect(stack.all(T.subscription)).to.have.length(0);
    const withEmail = await recordStack({ alarmEmail: 'ops@gamificator.click' });
    expect(withEmail.one(T.subscription, 'chapi-alarms-email').inputs).to.include({ protocol: 'email', endpoint: 'ops@gamificator.click', topic });
    const notifications = withEmail.one(T.budget, 'chapi-monthly').inputs.notifications as Record<string, unknown>[];
    for (const notification of notifications) expect(notification.subscriberEmailAddresses).to.deep.equal(['ops@gamificator.click']);
  });
});
