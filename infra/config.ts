/**
 * The stack's configuration, read once, validated, and turned from human units ("0.25 vCPU",
 * "512 MB", "30 days") into the numbers AWS wants. Every component takes its settings from
 * here, never from `pulumi.Config` directly, so a bad value fails before any resource is
 * declared, with one message that names the key and what it accepts.
 *
 * Pulumi hands every config value to the program as a string (lists as JSON), so the parser
 * works on a plain `key → string` lookup: the tests feed it one directly.
 */
import * as pulumi from '@pulumi/pulumi';

/** Thrown for a missing or invalid config value; the message is the one line an operator needs. */
export class StackConfigError extends Error {
  override name = 'StackConfigError';
}

/** The config namespace of this project (`pulumi config set chapi:<key>`). */
export const NAMESPACE = 'chapi';

/**
 * How the private subnets reach the internet (Neon, ECR, Secrets Manager, CloudWatch Logs).
 * - `per-az`: one NAT gateway per AZ: an AZ outage never cuts the other AZ's egress. ~$65/month.
 * - `single`: one NAT gateway shared by both AZs: if its AZ fails, tasks in the other AZ lose
 *   egress until it returns. ~$33/month.
 * - `none`: no NAT; tasks run in the public subnets with a public IP (still reachable only from
 *   the ALB's security group). ~$7/month of public IPv4 for 2 tasks.
 */
export type NatMode = 'per-az' | 'single' | 'none';
export const NAT_MODES: readonly NatMode[] = ['per-az', 'single', 'none'];

/** CPU architecture of the tasks; the image is built for the same one. */
export type Architecture = 'x86_64' | 'arm64';
export const ARCHITECTURES: readonly Architecture[] = ['x86_64', 'arm64'];

/** The API's log levels (api/src/config.ts). */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Fargate task sizes: CPU units by their human name. */
export const FARGATE_CPU: Readonly<Record<string, number>> = {
  '0.25 vCPU': 256,
  '0.5 vCPU': 512,
  '1 vCPU': 1024,
  '2 vCPU': 2048,
  '4 vCPU': 4096,
};

/**
 * The memory sizes (MiB) Fargate accepts for each CPU size.
 * Source: AWS ECS developer guide, "Task CPU and memory" (Fargate).
 */
export const FARGATE_MEMORY: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: [1024, 2048, 3072, 4096],
  1024: [2048, 3072, 4096, 5120, 6144, 7168, 8192],
  2048: Array.from({ length: 13 }, (_, i) => (4 + i) * 1024),
  4096: Array.from({ length: 23 }, (_, i) => (8 + i) * 1024),
};

/** The only retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/**
 * The admin allowlist is split into ALB rules of 3 CIDRs each (a condition takes at most 3
 * values, a rule 5: see `infra/edge.ts`), as many as fit between the allow and deny priorities.
 */
export { MAX_ADMIN_ALLOWLIST } from './edge.js';
import { ADMIN_CIDRS_PER_RULE, MAX_ADMIN_ALLOWLIST } from './edge.js';

/**
 * The client whose generated key the deploy's smoke test uses: the deploy job reads it from
 * Secrets Manager (the stack outputs `smokeKeySecretArn`, `smokeKeyJsonKey`), so no key is
 * ever copied into GitHub by hand. A stack deployed by the workflow lists it in
 * `chapi:serviceClients`; the deploy step says so when it is missing.
 */
export const SMOKE_CLIENT = 'smoke';

/** Client names become key names in the API: 1..100 of `[a-z0-9-]` (the API contract). */
const CLIENT_NAME = /^[a-z0-9-]{1,100}$/;

/** The validated settings of one stack. Numbers are in AWS's units (CPU units, MiB, days, seconds). */
export interface StackConfig {
  /** AWS region, from `aws:region`. */
  region: string;
  /** The existing Route 53 hosted zone, e.g. `gamificator.click`. */
  zone: string;
  /** The API's host name inside the zone, e.g. `chapi`. */
  host: string;
  /** `host.zone`: the public name of the API. */
  domain: string;
  /** The certificate's name: the seed's wildcard `*.zone`, which covers `domain`. */
  certificateDomain: string;
  natMode: NatMode;
  architecture: Architecture;
  /** Fargate CPU units of each task. */
  cpu: number;
  /** Fargate memory of each task, MiB. */
  memoryMiB: number;
  /** Tasks the service starts with; autoscaling moves it between min and max. */
  desiredCount: number;
  autoscaling: {
    min: number;
    max: number;
    /** Average CPU the service is scaled to hold, percent. */
    cpuTargetPercent: number;
    /** ALB requests per task per minute the service is scaled to hold. */
    requestsPerTargetPerMinute: number;
  };
  logRetentionDays: number;
  /** Alarm and budget notifications go to this address too (after it confirms the subscription). */
  alarmEmail: string | undefined;
  /** The monthly AWS budget in US dollars; notifications at 80 % actual and 100 % forecast. */
  monthlyBudgetUsd: number;
  /** Source CIDRs allowed to reach `/admin` and `/admin/*` through the ALB; empty means nobody. */
  adminAllowlist: string[];
  /** `CORS_ORIGINS` of the API. */
  corsOrigins: string[];
  logLevel: LogLevel;
  /** `DB_POOL_MAX` of each API task. */
  dbPoolMax: number;
  /** One generated service key per client, synced into the database by the migration task. */
  serviceClients: string[];
  /** ALB deletion protection. */
  deletionProtection: boolean;
  /** ECR keeps this many most recent images. */
  imageRetentionCount: number;
  /** The migration task must stop within this long, seconds. */
  migrationTimeoutSeconds: number;
  /** ECS Container Insights on the cluster (extra CloudWatch cost: see infra/README.md). */
  containerInsights: boolean;
  /** The API's `RATE_LIMIT_KEY_RPS`: requests per second per service key on each task (0: off). */
  rateLimitKeyRps: number;
  /** AWS WAF on the ALB (`infra/waf.ts`): on or off, and its limit per client IP. */
  waf: { enabled: boolean; requestsPerMinutePerIp: number };
}

/** Raw config: the value Pulumi holds for `chapi:<key>`, or undefined when unset. */
export type RawConfig = (key: string) => string | undefined;

function fail(key: string, message: string): never {
  throw new StackConfigError(`${NAMESPACE}:${key} ${message}`);
}

function text(raw: RawConfig, key: string, fallback?: string): string {
  const value = raw(key)?.trim();
  if (value === undefined || value === '') {
    if (fallback === undefined) fail(key, 'is required (pulumi config set ' + `${NAMESPACE}:${key} <value>)`);
    return fallback;
  }
  return value;
}

function oneOf<T extends string>(raw: RawConfig, key: string, allowed: readonly T[], fallback: T): T {
  const value = text(raw, key, fallback);
  if ((allowed as readonly string[]).includes(value)) return value as T;
  return fail(key, `must be one of ${allowed.join(', ')} (got "${value}")`);
}

function wholeNumber(raw: RawConfig, key: string, fallback: number, min: number, max: number): number {
  const value = text(raw, key, String(fallback));
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
    fail(key, `must be a whole number from ${min} to ${max} (got "${value}")`);
  }
  return parsed;
}

function flag(raw: RawConfig, key: string, fallback: boolean): boolean {
  const value = text(raw, key, String(fallback));
  if (value === 'true') return true;
  if (value === 'false') return false;
  return fail(key, `must be true or false (got "${value}")`);
}

function list(raw: RawConfig, key: string): string[] {
  const value = raw(key)?.trim();
  if (value === undefined || value === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    fail(key, `must be a list of strings (got "${value}")`);
  }
  return parsed as string[];
}

/** `"0.25 vCPU"` → 256. */
export function normalizeCpu(key: string, value: string): number {
  const units = FARGATE_CPU[value];
  if (units === undefined) fail(key, `must be one of ${Object.keys(FARGATE_CPU).join(', ')} (got "${value}")`);
  return units;
}

/** `"512 MB"` or `"0.5 GB"` → 512 MiB, checked against what Fargate allows for that CPU. */
export function normalizeMemory(key: string, value: string, cpu: number): number {
  const match = /^(\d+(?:\.\d+)?)\s*(MB|GB)$/i.exec(value);
  const mib = match === null ? NaN : Number(match[1]) * ((match[2] as string).toUpperCase() === 'GB' ? 1024 : 1);
  const allowed = FARGATE_MEMORY[cpu] ?? [];
  if (!allowed.includes(mib)) {
    fail(key, `must be one of ${allowed.map((m) => `${m} MB`).join(', ')} for this cpu (got "${value}")`);
  }
  return mib;
}

/** `"30 days"` → 30, one of the periods CloudWatch Logs accepts. */
export function normalizeRetention(key: string, value: string): number {
  const match = /^(\d+)\s*days?$/i.exec(value);
  const days = match === null ? NaN : Number(match[1]);
  if (!LOG_RETENTION_DAYS.includes(days)) {
    fail(key, `must be one of ${LOG_RETENTION_DAYS.map((d) => `${d} days`).join(', ')} (got "${value}")`);
  }
  return days;
}

const SECONDS_PER: Readonly<Record<string, number>> = { second: 1, minute: 60, hour: 3600 };

/** `"10 minutes"` → 600, between `min` and `max` seconds. */
export function normalizeDuration(key: string, value: string, min: number, max: number): number {
  const match = /^(\d+)\s*(second|minute|hour)s?$/i.exec(value);
  const seconds = match === null ? NaN : Number(match[1]) * (SECONDS_PER[(match[2] as string).toLowerCase()] ?? NaN);
  if (!(seconds >= min && seconds <= max)) {
    fail(key, `must be a duration like "10 minutes" from ${min} to ${max} seconds (got "${value}")`);
  }
  return seconds;
}

/** An IPv4 or IPv6 CIDR, as the ALB's source-ip condition takes it. */
function isCidr(value: string): boolean {
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (ipv4 !== null) {
    const [, a, b, c, d, bits] = ipv4.map(Number) as number[];
    return [a, b, c, d].every((octet) => (octet as number) <= 255) && (bits as number) <= 32;
  }
  const ipv6 = /^([0-9a-f:]+)\/(\d{1,3})$/i.exec(value);
  return ipv6 !== null && (ipv6[1] as string).includes(':') && Number(ipv6[2]) <= 128;
}

/**
 * Validates the raw config of a stack and normalizes its units.
 * @throws StackConfigError naming the first bad key and what it accepts.
 * @example parseStackConfig((key) => ({ zone: 'gamificator.click', host: 'chapi' })[key], 'us-east-1')
 */
export function parseStackConfig(raw: RawConfig, region: string | undefined): StackConfig {
  if (region === undefined || region === '') {
    throw new StackConfigError('aws:region is required (pulumi config set aws:region us-east-1)');
  }
  const zone = text(raw, 'zone');
  if (!/^([a-z0-9-]+\.)+[a-z]{2,}$/.test(zone)) fail('zone', `must be a DNS zone like gamificator.click (got "${zone}")`);
  const host = text(raw, 'host');
  if (!/^[a-z0-9-]{1,63}$/.test(host)) fail('host', `must be one DNS label like chapi (got "${host}")`);

  const cpu = normalizeCpu('cpu', text(raw, 'cpu', '0.25 vCPU'));
  const memoryMiB = normalizeMemory('memory', text(raw, 'memory', '512 MB'), cpu);

  const desiredCount = wholeNumber(raw, 'desiredCount', 2, 1, 20);
  const min = wholeNumber(raw, 'minCount', desiredCount, 1, 20);
  const max = wholeNumber(raw, 'maxCount', Math.max(min, 6), 1, 50);
  if (max < min) fail('maxCount', `must be at least chapi:minCount (${min}) (got "${max}")`);
  if (desiredCount < min || desiredCount > max) {
    fail('desiredCount', `must lie between chapi:minCount (${min}) and chapi:maxCount (${max}) (got "${desiredCount}")`);
  }

  const adminAllowlist = list(raw, 'adminAllowlist');
  if (adminAllowlist.length > MAX_ADMIN_ALLOWLIST) {
    fail(
      'adminAllowlist',
      `may hold at most ${MAX_ADMIN_ALLOWLIST} CIDRs (${ADMIN_CIDRS_PER_RULE} per ALB rule, rules at priorities 10-19)`,
    );
  }
  for (const cidr of adminAllowlist) {
    if (!isCidr(cidr)) fail('adminAllowlist', `entries must be CIDRs like 203.0.113.7/32 (got "${cidr}")`);
  }

  const corsOrigins = list(raw, 'corsOrigins');
  for (const origin of corsOrigins) {
    // The API refuses "*" in production; refuse it here, before a deploy that would crash-loop.
    if (origin === '*' || !/^https:\/\/[^/]+$/.test(origin)) {
      fail('corsOrigins', `entries must be https origins like https://cathouse.example (got "${origin}")`);
    }
  }

  const serviceClients = list(raw, 'serviceClients');
  if (serviceClients.length === 0) fail('serviceClients', 'must name at least one client (e.g. ["cathouse", "mobile"])');
  for (const client of serviceClients) {
    if (!CLIENT_NAME.test(client)) fail('serviceClients', `entries must be 1..100 of a-z, 0-9, - (got "${client}")`);
  }
  if (new Set(serviceClients).size !== serviceClients.length) fail('serviceClients', 'must not repeat a name');

  const alarmEmail = raw('alarmEmail')?.trim() || undefined;
  if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail)) {
    fail('alarmEmail', `must be an e-mail address (got "${alarmEmail}")`);
  }

  return {
    region,
    zone,
    host,
    domain: `${host}.${zone}`,
    certificateDomain: `*.${zone}`,
    natMode: oneOf(raw, 'natMode', NAT_MODES, 'single'),
    architecture: oneOf(raw, 'architecture', ARCHITECTURES, 'x86_64'),
    cpu,
    memoryMiB,
    desiredCount,
    autoscaling: {
      min,
      max,
      cpuTargetPercent: wholeNumber(raw, 'cpuTargetPercent', 60, 10, 90),
      requestsPerTargetPerMinute: wholeNumber(raw, 'requestsPerTargetPerMinute', 3000, 10, 1_000_000),
    },
    logRetentionDays: normalizeRetention('logRetention', text(raw, 'logRetention', '30 days')),
    alarmEmail,
    monthlyBudgetUsd: wholeNumber(raw, 'monthlyBudgetUsd', 150, 1, 100_000),
    adminAllowlist,
    corsOrigins,
    logLevel: oneOf(raw, 'logLevel', LOG_LEVELS, 'info'),
    dbPoolMax: wholeNumber(raw, 'dbPoolMax', 10, 1, 100),
    serviceClients,
    deletionProtection: flag(raw, 'deletionProtection', true),
    imageRetentionCount: wholeNumber(raw, 'imageRetentionCount', 20, 1, 1000),
    // 1 minute .. 1 hour: a migration slower than that should run as its own operation.
    migrationTimeoutSeconds: normalizeDuration('migrationTimeout', text(raw, 'migrationTimeout', '10 minutes'), 60, 3600),
    containerInsights: flag(raw, 'containerInsights', false),
    rateLimitKeyRps: wholeNumber(raw, 'rateLimitKeyRps', 0, 0, 100_000),
    waf: {
      enabled: flag(raw, 'waf', true),
      // AWS's lowest rate-based limit is 10 (infra/waf.ts cites it).
      requestsPerMinutePerIp: wholeNumber(raw, 'wafRequestsPerMinutePerIp', 30_000, 10, 2_000_000_000),
    },
  };
}

/** The two database URLs (stack secrets), checked without ever printing them. */
export interface DatabaseUrls {
  /** Neon's `-pooler` host (PgBouncer, transaction mode): the API's `DATABASE_URL`. */
  pooled: pulumi.Output<string>;
  /** Neon's direct host: only the migration task's `MIGRATION_DATABASE_URL` (advisory lock needs a session). */
  direct: pulumi.Output<string>;
}

/**
 * Checks a database URL's shape. The message names the key, never the value (it holds a password).
 * @throws StackConfigError
 */
export function checkDatabaseUrl(key: string, value: string, pooled: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(key, 'must be a postgres:// URL (the value is not printed: it is a secret)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    fail(key, 'must start with postgres:// or postgresql://');
  }
  const isPooler = url.hostname.split('.')[0]?.endsWith('-pooler') ?? false;
  if (pooled && !isPooler) fail(key, "must use Neon's -pooler host (the API connects through PgBouncer)");
  if (!pooled && isPooler) {
    fail(key, "must use Neon's direct host, not -pooler (migrations hold a session advisory lock)");
  }
  return value;
}

/** Reads `chapi:databaseUrl` and `chapi:migrationDatabaseUrl` as secrets and checks their shape. */
export function loadDatabaseUrls(config: pulumi.Config): DatabaseUrls {
  const secretUrl = (key: string, pooled: boolean): pulumi.Output<string> => {
    const value = config.getSecret(key);
    if (value === undefined) {
      fail(key, `is required: pulumi config set --secret ${NAMESPACE}:${key} 'postgres://…'`);
    }
    return pulumi.secret(value.apply((url) => checkDatabaseUrl(key, url, pooled)));
  };
  return { pooled: secretUrl('databaseUrl', true), direct: secretUrl('migrationDatabaseUrl', false) };
}

/** Reads and validates the current stack's config (what `infra/index.ts` runs). */
export function loadStackConfig(): StackConfig {
  const config = new pulumi.Config(NAMESPACE);
  return parseStackConfig((key) => config.get(key), new pulumi.Config('aws').get('region'));
}
