import * as pulumi from '@pulumi/pulumi';
import { expect } from 'chai';
import { checkDatabaseUrl, loadDatabaseUrls, parseStackConfig, StackConfigError } from '../config.js';
import { prodRawConfig } from './support.js';

const parse = (overrides: Record<string, string | undefined> = {}, region: string | undefined = 'us-east-1') => {
  const raw: Record<string, string | undefined> = { ...prodRawConfig(), ...overrides };
  return parseStackConfig((key) => raw[key], region);
};
const failsWith = (overrides: Record<string, string | undefined>, message: string | RegExp) =>
  expect(() => parse(overrides)).to.throw(StackConfigError, message);

describe('stack config', () => {
  it('reads Pulumi.prod.yaml into AWS units', () => {
    expect(parse()).to.deep.equal({
      region: 'us-east-1',
      zone: 'gamificator.click',
      host: 'chapi',
      domain: 'chapi.gamificator.click',
      certificateDomain: '*.gamificator.click',
      natMode: 'single',
      architecture: 'x86_64',
      cpu: 256,
      memoryMiB: 512,
      desiredCount: 2,
      autoscaling: { min: 2, max: 6, cpuTargetPercent: 60, requestsPerTargetPerMinute: 3000 },
      logRetentionDays: 30,
      alarmEmail: undefined,
      monthlyBudgetUsd: 150,
      adminAllowlist: [],
      corsOrigins: [],
      logLevel: 'info',
      dbPoolMax: 10,
      serviceClients: ['cathouse', 'mobile', 'smoke'],
      deletionProtection: true,
      imageRetentionCount: 20,
      migrationTimeoutSeconds: 600,
      containerInsights: false,
      rateLimitKeyRps: 200,
      waf: { enabled: true, requestsPerMinutePerIp: 30_000 },
    });
  });

  it('takes the API\'s per-key rate limit and the WAF settings, with the API\'s and AWS\'s bounds', () => {
    expect(parse({ rateLimitKeyRps: '0', waf: 'false' })).to.deep.include({ rateLimitKeyRps: 0, waf: { enabled: false, requestsPerMinutePerIp: 30_000 } });
    // AWS's lowest rate-based limit is 10:
    // https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html
    expect(() => parse({ wafRequestsPerMinutePerIp: '9' })).to.throw(StackConfigError, 'chapi:wafRequestsPerMinutePerIp');
    expect(() => parse({ rateLimitKeyRps: '-1' })).to.throw(StackConfigError, 'chapi:rateLimitKeyRps');
    expect(() => parse({ waf: 'yes' })).to.throw(StackConfigError, 'chapi:waf');
  });

  it('normalizes human units', () => {
    expect(parse({ cpu: '1 vCPU', memory: '2 GB' })).to.include({ cpu: 1024, memoryMiB: 2048 });
    expect(parse({ memory: '0.5 GB' }).memoryMiB).to.equal(512);
    expect(parse({ logRetention: '1 day' }).logRetentionDays).to.equal(1);
    expect(parse({ migrationTimeout: '90 seconds' }).migrationTimeoutSeconds).to.equal(90);
    expect(parse({ migrationTimeout: '1 hour' }).migrationTimeoutSeconds).to.equal(3600);
  });

  it('applies defaults to everything but the zone and host', () => {
    const minimal = parseStackConfig((key) => ({ zone: 'example.com', host: 'api', serviceClients: '["one"]' })[key], 'eu-west-1');
    expect(minimal).to.include({ natMode: 'single', cpu: 256, memoryMiB: 512, desiredCount: 2, logRetentionDays: 30, deletionProtection: true });
    expect(minimal.autoscaling).to.deep.equal({ min: 2, max: 6, cpuTargetPercent: 60, requestsPerTargetPerMinute: 3000 });
  });

  describe('refuses a bad value with one message naming the key and what it accepts', () => {
    it('natMode', () => failsWith({ natMode: 'two' }, 'chapi:natMode must be one of per-az, single, none (got "two")'));
    it('architecture', () => failsWith({ architecture: 'amd64' }, 'chapi:architecture must be one of x86_64, arm64 (got "amd64")'));
    it('cpu', () => failsWith({ cpu: '0.3 vCPU' }, /^chapi:cpu must be one of 0\.25 vCPU, 0\.5 vCPU, 1 vCPU, 2 vCPU, 4 vCPU/));
    it('memory for the cpu', () => failsWith({ memory: '4 GB' }, 'chapi:memory must be one of 512 MB, 1024 MB, 2048 MB for this cpu (got "4 GB")'));
    it('log retention', () => failsWith({ logRetention: '31 days' }, /^chapi:logRetention must be one of 1 days, 3 days, .*3653 days \(got "31 days"\)$/));
    it('migration timeout', () => failsWith({ migrationTimeout: 'soon' }, 'chapi:migrationTimeout must be a duration like "10 minutes" from 60 to 3600 seconds (got "soon")'));
    it('a missing zone', () => failsWith({ zone: undefined }, 'chapi:zone is required (pulumi config set chapi:zone <value>)'));
    it('a host that is not one label', () => failsWith({ host: 'api.chapi' }, 'chapi:host must be one DNS label like chapi (got "api.chapi")'));
    it('whole numbers', () => failsWith({ desiredCount: '2.5' }, 'chapi:desiredCount must be a whole number from 1 to 20 (got "2.5")'));
    it('max below min', () => failsWith({ minCount: '3', maxCount: '2', desiredCount: '3' }, 'chapi:maxCount must be at least chapi:minCount (3) (got "2")'));
    it('desired outside min..max', () => failsWith({ desiredCount: '8' }, 'chapi:desiredCount must lie between chapi:minCount (2) and chapi:maxCount (6) (got "8")'));
    it('a flag', () => failsWith({ deletionProtection: 'yes' }, 'chapi:deletionProtection must be true or false (got "yes")'));
    it('a list that is not one', () => failsWith({ corsOrigins: 'https://a.example' }, 'chapi:corsOrigins must be a list of strings (got "https://a.example")'));
    it('a wildcard CORS origin', () => failsWith({ corsOrigins: '["*"]' }, 'chapi:corsOrigins entries must be https origins like https://cathouse.example (got "*")'));
    it('an admin CIDR', () => failsWith({ adminAllowlist: '["10.0.0.300/32"]' }, 'chapi:adminAllowlist entries must be CIDRs like 203.0.113.7/32 (got "10.0.0.300/32")'));
    it('more admin CIDRs than the ALB rules between the allow and deny priorities hold (10 rules of 3)', () => {
      const cidrs = (count: number) => JSON.stringify(Array.from({ length: count }, (_, i) => `10.0.${i}.1/32`));
      expect(parse({ adminAllowlist: cidrs(30) }).adminAllowlist).to.have.length(30);
      failsWith({ adminAllowlist: cidrs(31) }, /^chapi:adminAllowlist may hold at most 30 CIDRs \(3 per ALB rule/);
    });
    it('a client name the API would refuse', () => failsWith({ serviceClients: '["Cat House"]' }, 'chapi:serviceClients entries must be 1..100 of a-z, 0-9, - (got "Cat House")'));
    it('no clients', () => failsWith({ serviceClients: '[]' }, /^chapi:serviceClients must name at least one client/));
    it('a repeated client', () => failsWith({ serviceClients: '["a","a"]' }, 'chapi:serviceClients must not repeat a name'));
    it('an e-mail address', () => failsWith({ alarmEmail: 'ops' }, 'chapi:alarmEmail must be an e-mail address (got "ops")'));
    it('no region', () => expect(() => parseStackConfig((key) => prodRawConfig()[key], undefined)).to.throw(StackConfigError, 'aws:region is required'));
  });

  describe('database URLs', () => {
    const pooled = 'postgres://u:pw-SECRET@ep-x-123-pooler.us-east-1.aws.neon.tech/db?sslmode=require';
    const direct = 'postgres://u:pw-SECRET@ep-x-123.us-east-1.aws.neon.tech/db?sslmode=require';

    it("takes Neon's pooler host for the API and the direct host for migrations", () => {
      expect(checkDatabaseUrl('databaseUrl', pooled, true)).to.equal(pooled);
      expect(checkDatabaseUrl('migrationDatabaseUrl', direct, false)).to.equal(direct);
    });

    it('refuses the wrong host or a non-postgres URL without printing the value', () => {
      const attempts: [string, string, boolean, RegExp][] = [
        ['databaseUrl', direct, true, /chapi:databaseUrl must use Neon's -pooler host/],
        ['migrationDatabaseUrl', pooled, false, /chapi:migrationDatabaseUrl must use Neon's direct host, not -pooler/],
        ['databaseUrl', 'mysql://u:pw-SECRET@host/db', true, /chapi:databaseUrl must start with postgres:\/\//],
        ['databaseUrl', 'pw-SECRET', true, /chapi:databaseUrl must be a postgres:\/\/ URL/],
      ];
      for (const [key, value, isPooled, message] of attempts) {
        let error: unknown;
        try {
          checkDatabaseUrl(key, value, isPooled);
        } catch (caught) {
          error = caught;
        }
        expect(error).to.be.instanceOf(StackConfigError);
        expect((error as Error).message).to.match(message);
        expect((error as Error).message).not.to.include('SECRET');
      }
    });

    it('reads both from secret stack config, and names a missing one', async () => {
      pulumi.runtime.setAllConfig({ 'chapi:databaseUrl': pooled }, ['chapi:databaseUrl']);
      expect(() => loadDatabaseUrls(new pulumi.Config('chapi'))).to.throw(StackConfigError, /^chapi:migrationDatabaseUrl is required: pulumi config set --secret/);
      pulumi.runtime.setAllConfig({ 'chapi:databaseUrl': pooled, 'chapi:migrationDatabaseUrl': direct }, ['chapi:databaseUrl', 'chapi:migrationDatabaseUrl']);
      const urls = loadDatabaseUrls(new pulumi.Config('chapi'));
      expect(await pulumi.isSecret(urls.pooled)).to.equal(true);
      expect(await pulumi.isSecret(urls.direct)).to.equal(true);
      const value = await new Promise((resolve) => urls.direct.apply(resolve));
      expect(value).to.equal(direct);
    });
  });
});
