/**
 * AWS WAF on the ALB (infra/waf.ts): a REGIONAL web ACL with a rate-based rule per client IP and
 * AWS's common rule set, associated with the ALB; `chapi:waf: false` removes it.
 */
import { expect } from 'chai';
import { CRS_COUNT_ONLY_RULES, WAF_EVALUATION_WINDOW_S } from '../waf.js';
import { prodRawConfig, prodStack, recordStack, T, type Stack } from './support.js';

const WEB_ACL = 'aws:wafv2/webAcl:WebAcl';
const ASSOCIATION = 'aws:wafv2/webAclAssociation:WebAclAssociation';

interface Rule {
  name: string;
  priority: number;
  action?: { block?: { customResponse?: { responseCode: number } } };
  overrideAction?: { none?: object };
  statement: {
    rateBasedStatement?: { aggregateKeyType: string; evaluationWindowSec: number; limit: number };
    managedRuleGroupStatement?: { vendorName: string; name: string; ruleActionOverrides: { name: string; actionToUse: { count?: object } }[] };
  };
  visibilityConfig: { cloudwatchMetricsEnabled: boolean; sampledRequestsEnabled: boolean };
}

describe('WAF', () => {
  let stack: Stack;
  before(async () => {
    stack = await prodStack();
  });

  const rules = () => stack.one(WEB_ACL, 'chapi-waf').inputs.rules as Rule[];

  it('is a REGIONAL web ACL that allows by default, with metrics', () => {
    const acl = stack.one(WEB_ACL, 'chapi-waf').inputs;
    expect(acl).to.deep.include({ scope: 'REGIONAL', defaultAction: { allow: {} } });
    expect(acl.visibilityConfig).to.include({ cloudwatchMetricsEnabled: true, sampledRequestsEnabled: true });
  });

  // https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html:
  // windows of 60, 120, 300 or 600 s; a limit of at least 10.
  it('blocks a client IP over the configured requests per minute first (60 s window, answered 429)', () => {
    const [rate] = rules();
    expect(rate?.priority).to.equal(0);
    expect(rate?.statement.rateBasedStatement).to.deep.equal({
      aggregateKeyType: 'IP',
      evaluationWindowSec: WAF_EVALUATION_WINDOW_S,
      limit: Number(prodRawConfig().wafRequestsPerMinutePerIp),
    });
    expect([60, 120, 300, 600]).to.include(WAF_EVALUATION_WINDOW_S);
    expect(rate?.action).to.deep.equal({ block: { customResponse: { responseCode: 429 } } });
    expect(rate?.visibilityConfig.cloudwatchMetricsEnabled).to.equal(true);
  });

  it('never blocks a client that stays within its key\'s own limit on the minimum tasks', () => {
    const raw = prodRawConfig();
    const perKeyPerMinute = Number(raw.rateLimitKeyRps) * Number(raw.minCount) * 60;
    expect(Number(raw.wafRequestsPerMinutePerIp)).to.be.greaterThan(perKeyPerMinute);
  });

  it('runs AWS\'s common rule set, with the body-size and no-User-Agent rules only counting', () => {
    const crs = rules()[1];
    expect(crs?.overrideAction).to.deep.equal({ none: {} });
    const group = crs?.statement.managedRuleGroupStatement;
    expect(group).to.include({ vendorName: 'AWS', name: 'AWSManagedRulesCommonRuleSet' });
    // SizeRestrictions_BODY blocks bodies over 8 KB, below the API's 64 KiB (a long task
    // description): https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
    expect(group?.ruleActionOverrides).to.deep.equal(CRS_COUNT_ONLY_RULES.map((name) => ({ name, actionToUse: { count: {} } })));
    expect(CRS_COUNT_ONLY_RULES).to.include('SizeRestrictions_BODY');
  });

  it('is associated with the ALB', () => {
    const association = stack.one(ASSOCIATION, 'chapi-waf').inputs;
    // The ALB's ARN, as the listeners reference it.
    const albArns = new Set(stack.all(T.listener).map((listener) => listener.inputs.loadBalancerArn));
    expect([...albArns]).to.have.length(1);
    expect(association.resourceArn).to.be.a('string').and.to.equal([...albArns][0]);
    expect(association.webAclArn).to.match(/:webAcl\/chapi-waf$/);
  });

  it('is gone with chapi:waf false', async () => {
    const without = await recordStack({ waf: 'false' });
    expect(without.all(WEB_ACL)).to.have.length(0);
    expect(without.all(ASSOCIATION)).to.have.length(0);
  });
});
