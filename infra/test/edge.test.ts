import { expect } from 'chai';
import { prodStack, recordStack, T, type Stack } from './support.js';

describe('edge: certificate, load balancer, DNS', () => {
  let stack: Stack;
  before(async () => {
    stack = await prodStack();
  });

  it('requests the wildcard certificate with DNS validation in the existing zone', () => {
    // DNS validation lets ACM renew on its own (FSBP ACM.1); RSA 2048 is ACM.2's floor.
    expect(stack.one(T.certificate, 'chapi-certificate').inputs).to.include({ domainName: '*.gamificator.click', validationMethod: 'DNS', keyAlgorithm: 'RSA_2048' });
    const record = stack.one(T.record, 'chapi-certificate-validation').inputs;
    expect(record).to.include({ zoneId: 'Z0123456789MOCK', name: '_validation.gamificator.click.', type: 'CNAME' });
    expect(record.records).to.deep.equal(['_token.acm-validations.aws.']);
    expect(stack.one(T.certificateValidation, 'chapi-certificate').inputs).to.deep.include({
      certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/chapi-certificate',
      validationRecordFqdns: ['_validation.gamificator.click.'],
    });
  });

  it('points chapi.gamificator.click at the ALB with an alias A record', () => {
    const alias = stack.one(T.record, 'chapi-alias').inputs;
    expect(alias).to.include({ zoneId: 'Z0123456789MOCK', name: 'chapi.gamificator.click', type: 'A' });
    expect(alias.aliases).to.deep.equal([{ name: 'chapi-alb.us-east-1.elb.amazonaws.com', zoneId: 'Z35SXDOTRQ7X7K', evaluateTargetHealth: true }]);
  });

  it('takes over a record of the same name the existing zone already holds (allowOverwrite), instead of failing the first deploy', () => {
    expect(stack.one(T.record, 'chapi-alias').inputs.allowOverwrite).to.equal(true);
  });

  it('puts a public ALB in the public subnets that drops invalid headers, resists desync and cannot be deleted', () => {
    const alb = stack.one(T.alb, 'chapi-alb').inputs;
    expect(alb).to.include({
      loadBalancerType: 'application',
      internal: false,
      dropInvalidHeaderFields: true,
      desyncMitigationMode: 'defensive',
      enableDeletionProtection: true,
      idleTimeout: 60,
    });
    expect(alb.subnets).to.deep.equal(['subnet-public-a', 'subnet-public-b']);
    expect(alb.securityGroups).to.deep.equal(['chapi-alb-id']);
  });

  it('keeps the ALB idle timeout below the API keep-alive timeout', async () => {
    const { ALB_IDLE_TIMEOUT_S } = await import('../edge.js');
    const { KEEP_ALIVE_TIMEOUT_MS } = await import('../../api/src/server.js');
    expect(ALB_IDLE_TIMEOUT_S * 1000).to.be.below(KEEP_ALIVE_TIMEOUT_MS);
  });

  it('serves HTTPS on 443 with a TLS 1.2+/1.3 policy and the validated certificate', () => {
    const https = stack.one(T.listener, 'chapi-https').inputs;
    expect(https).to.include({
      port: 443,
      protocol: 'HTTPS',
      sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/chapi-certificate',
    });
    expect(https.defaultActions).to.deep.equal([{ type: 'forward', targetGroupArn: 'arn:aws:lb:us-east-1:123456789012:targetGroup/chapi-api' }]);
  });

  it('answers HTTP on 80 only with a 301 to HTTPS (FSBP ELB.1)', () => {
    const http = stack.one(T.listener, 'chapi-http').inputs;
    expect(http).to.include({ port: 80, protocol: 'HTTP' });
    expect(http.defaultActions).to.deep.equal([{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }]);
  });

  it('sends traffic to the tasks by IP on 8000 with the seed health check', () => {
    const group = stack.one(T.targetGroup, 'chapi-api').inputs;
    expect(group).to.include({ targetType: 'ip', protocol: 'HTTP', port: 8000 });
    expect(group.healthCheck).to.include({ path: '/health', interval: 30, timeout: 5, healthyThreshold: 2, unhealthyThreshold: 3, matcher: '200' });
  });

  it('drains deregistered tasks for 30-60 s, never less than the API takes to drain', async () => {
    const { APP_DRAIN_MS } = await import('../service.js');
    const delay = stack.one(T.targetGroup, 'chapi-api').inputs.deregistrationDelay as number;
    expect(delay).to.be.within(30, 60);
    expect(delay * 1000).to.be.at.least(APP_DRAIN_MS);
  });

  it('answers 403 for /admin/* at the ALB when the allowlist is empty', () => {
    expect(stack.all(T.listenerRule).map((rule) => rule.name)).to.deep.equal(['chapi-admin-deny']);
    const deny = stack.one(T.listenerRule, 'chapi-admin-deny').inputs;
    expect(deny.conditions).to.deep.equal([{ pathPattern: { values: ['/admin', '/admin/*'] } }]);
    const [action] = deny.actions as { type: string; fixedResponse: { statusCode: string; messageBody: string } }[];
    expect(action?.type).to.equal('fixed-response');
    expect(action?.fixedResponse.statusCode).to.equal('403');
    expect(JSON.parse(action?.fixedResponse.messageBody ?? '')).to.deep.include({ success: false, data: null });
  });

  it('forwards /admin and /admin/* from allowlisted addresses, before the 403 rule', async () => {
    const allowed = await recordStack({ adminAllowlist: JSON.stringify(['203.0.113.7/32', '2001:db8::/48']) });
    const allow = allowed.one(T.listenerRule, 'chapi-admin-allow').inputs;
    const deny = allowed.one(T.listenerRule, 'chapi-admin-deny').inputs;
    expect(allow.priority as number).to.be.below(deny.priority as number);
    expect(allow.conditions).to.deep.equal([
      { pathPattern: { values: ['/admin', '/admin/*'] } },
      { sourceIp: { values: ['203.0.113.7/32', '2001:db8::/48'] } },
    ]);
    expect(allow.actions).to.deep.equal([{ type: 'forward', targetGroupArn: 'arn:aws:lb:us-east-1:123456789012:targetGroup/chapi-api' }]);
  });

  // "up to three match evaluations per condition … up to five match evaluations per rule":
  // https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html
  it('splits the allowlist into rules of at most 3 CIDRs and 5 condition values, all before the 403', async () => {
    const cidrs = Array.from({ length: 7 }, (_, i) => `198.51.100.${i}/32`);
    const allowed = await recordStack({ adminAllowlist: JSON.stringify(cidrs) });
    const rules = allowed
      .all(T.listenerRule)
      .filter((rule) => rule.name.startsWith('chapi-admin-allow'))
      .sort((a, b) => (a.inputs.priority as number) - (b.inputs.priority as number));
    expect(rules.map((rule) => rule.name)).to.deep.equal(['chapi-admin-allow', 'chapi-admin-allow-2', 'chapi-admin-allow-3']);
    const deny = allowed.one(T.listenerRule, 'chapi-admin-deny').inputs.priority as number;
    const covered: string[] = [];
    for (const rule of rules) {
      const conditions = rule.inputs.conditions as { pathPattern?: { values: string[] }; sourceIp?: { values: string[] } }[];
      const values = conditions.map((condition) => (condition.pathPattern ?? condition.sourceIp)?.values ?? []);
      for (const list of values) expect(list.length).to.be.within(1, 3);
      expect(values.flat().length).to.be.at.most(5);
      expect(rule.inputs.priority as number).to.be.below(deny);
      covered.push(...(conditions.find((condition) => condition.sourceIp)?.sourceIp?.values ?? []));
    }
    expect(covered).to.deep.equal(cidrs);
    expect(new Set(rules.map((rule) => rule.inputs.priority)).size).to.equal(rules.length);
  });
});
