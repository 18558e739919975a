/**
 * AWS WAF in front of the ALB: a REGIONAL web ACL with a rate-based rule per client IP and
 * AWS's managed common rule set, associated with the ALB. The API's own limits
 * (`api/src/rate-limit.ts`) work per task and per key; this one stops a flood from one address
 * at the edge, before it costs a task anything.
 *
 * - Rate-based rule: counts each client IP's requests over the evaluation window and blocks
 *   the rest (answered 429 here) until the rate falls under the limit. Window 60 s, the
 *   shortest AWS allows (60, 120, 300, 600); the limit must be at least 10
 *   (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html).
 *   AWS applies it near the limit and checks "frequently", not per request: a burst above it
 *   gets through before the block starts.
 * - AWSManagedRulesCommonRuleSet (the core rule set: OWASP-style XSS, LFI, bad bots'
 *   headers…), with two of its rules only counting, because they would refuse legitimate
 *   calls: SizeRestrictions_BODY blocks bodies over 8 KB, and a create may carry a 10,000
 *   character description (the API takes up to 64 KiB and answers 413 beyond); and
 *   NoUserAgent_HEADER blocks requests without User-Agent, which server-to-server clients
 *   need not send (https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html).
 *
 * Cost (infra/README.md, "Monthly cost"): $5 per web ACL and $1 per rule a month, $0.60 per
 * million requests (https://aws.amazon.com/waf/pricing/); a managed rule group counts as one
 * rule. `chapi:waf: false` removes it all.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

/** Seconds the rate-based rule looks back; the shortest AWS offers. */
export const WAF_EVALUATION_WINDOW_S = 60;
/** AWS's lowest rate limit. */
export const WAF_MIN_RATE_LIMIT = 10;
/** Rules of the common rule set that only count (see the file comment for why). */
export const CRS_COUNT_ONLY_RULES = ['SizeRestrictions_BODY', 'NoUserAgent_HEADER'] as const;

export interface WafArgs {
  /** The ALB the web ACL protects. */
  loadBalancerArn: pulumi.Input<string>;
  /** Requests one client IP may send per minute before the rate-based rule blocks it. */
  requestsPerMinutePerIp: number;
}

function visibility(metricName: string) {
  return { cloudwatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true };
}

export class Waf extends pulumi.ComponentResource {
  readonly webAclArn: pulumi.Output<string>;

  constructor(name: string, args: WafArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chapi:waf:Waf', name, {}, opts);
    const child = { parent: this };
    if (args.requestsPerMinutePerIp < WAF_MIN_RATE_LIMIT) {
      throw new Error(`the WAF rate limit must be at least ${WAF_MIN_RATE_LIMIT} requests per window`);
    }

    const acl = new aws.wafv2.WebAcl(
      `${name}-waf`,
      {
        scope: 'REGIONAL',
        description: 'chapi: a rate limit per client IP and the AWS common rule set',
        defaultAction: { allow: {} },
        visibilityConfig: visibility(`${name}-waf`),
        rules: [
          {
            name: 'rate-per-ip',
            priority: 0,
            action: { block: { customResponse: { responseCode: 429 } } },
            statement: {
              rateBasedStatement: {
                aggregateKeyType: 'IP',
                evaluationWindowSec: WAF_EVALUATION_WINDOW_S,
                limit: Math.round((args.requestsPerMinutePerIp * WAF_EVALUATION_WINDOW_S) / 60),
              },
            },
            visibilityConfig: visibility(`${name}-waf-rate-per-ip`),
          },
          {
            name: 'aws-common-rule-set',
            priority: 1,
            overrideAction: { none: {} },
            statement: {
              managedRuleGroupStatement: {
                vendorName: 'AWS',
                name: 'AWSManagedRulesCommonRuleSet',
                ruleActionOverrides: CRS_COUNT_ONLY_RULES.map((rule) => ({ name: rule, actionToUse: { count: {} } })),
              },
            },
            visibilityConfig: visibility(`${name}-waf-common-rule-set`),
          },
        ],
      },
      child,
    );
    new aws.wafv2.WebAclAssociation(`${name}-waf`, { resourceArn: args.loadBalancerArn, webAclArn: acl.arn }, child);

    this.webAclArn = acl.arn;
    this.registerOutputs({ webAclArn: this.webAclArn });
  }
}
