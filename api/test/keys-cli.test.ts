/**
 * `npm run keys`: the real CLI, as its own process (`node --import tsx api/src/cli/keys.ts`),
 * against a real test database.
 */
import { expect } from 'chai';
import { EXIT } from '../src/cli/exit-codes.js';
import { AUDIT_EVENT } from '../src/keys/audit.js';
import { displayPrefix, generateServiceKey, hashServiceKey } from '../src/keys/format.js';
import { findKeyByHash, insertKey } from '../src/keys/sql.js';
import { isKeyUsable } from '../src/keys/status.js';
import { createEmptyDatabase } from './helpers/empty-database.js';
import { jsonLines, runCli, type CliResult } from './helpers/run-cli.js';
import { useTestDatabase } from './helpers/databases.js';

const KEY_PATTERN = /sk_(?:dev|test|prod)_[0-9a-f]{64}/g;
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

describe('keys CLI (npm run keys, a real process)', function () {
  // Each process loads tsx: a second or two alone, several on a machine busy with other tests.
  // A timeout only stops a hung process; no assertion depends on speed.
  this.timeout(180_000);
  const db = useTestDatabase();
  const keys = (...args: string[]): Promise<CliResult> => runCli('keys', args, { DATABASE_URL: db.url });

  async function usable(key: string): Promise<boolean> {
    const row = await findKeyByHash(db.sql, hashServiceKey(key));
    return row !== undefined && isKeyUsable(row, Date.now());
  }

  async function rowsNamed(name: string): Promise<number> {
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from service_api_keys where key_name = ${name}`;
    return row?.n ?? 0;
  }

  /** The audit lines of a run, asserting there is exactly one and that it is about `action`. */
  function auditLine(result: CliResult, action: string): Record<string, unknown> {
    const lines = jsonLines(result.stderr).filter((line) => line.event === AUDIT_EVENT);
    expect(lines, result.stderr).to.have.length(1);
    expect(lines[0]).to.include({ action, actor: 'cli' });
    return lines[0] as Record<string, unknown>;
  }

  it('--help explains every command, the environment and the exit codes', async () => {
    const result = await keys('--help');
    expect(result.code).to.equal(EXIT.ok);
    for (const text of ['create <name> --env dev|test|prod', 'list', 'rotate <name> [--grace 7d]', 'revoke <name>', 'DATABASE_URL', 'Exit codes']) {
      expect(result.stdout).to.include(text);
    }
  });

  it('create prints the key once, stores only its hash, and writes one audit line without it', async () => {
    const result = await keys('create', 'cat-house', '--env', 'prod');
    expect(result.code, result.stderr).to.equal(EXIT.ok);
    const printed = result.stdout.match(KEY_PATTERN) ?? [];
    expect(printed).to.have.length(1);
    const key = printed[0] as string;
    expect(key.startsWith('sk_prod_')).to.equal(true);
    expect(await usable(key)).to.equal(true);
    const stored = await db.sql`select * from service_api_keys where key_name = 'cat-house'`;
    expect(JSON.stringify(stored)).not.to.include(key.slice(8));
    expect(auditLine(result, 'create')).to.include({ key_name: 'cat-house' });
    expect(result.stderr).not.to.include(key.slice(8));
  });

  it('create --json gives the admin route shape', async () => {
    const result = await keys('create', 'json-client', '--env', 'dev', '--json');
    expect(result.code, result.stderr).to.equal(EXIT.ok);
    const body = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(body).sort()).to.deep.equal(['created_at', 'environment', 'id', 'key_name', 'service_key']);
    expect(body).to.include({ key_name: 'json-client', environment: 'dev' });
    expect(await usable(body.service_key as string)).to.equal(true);
  });

  it('a duplicate name is exit 5 and changes nothing', async () => {
    expect((await keys('create', 'twice', '--env', 'test')).code).to.equal(EXIT.ok);
    const result = await keys('create', 'twice', '--env', 'test');
    expect(result.code).to.equal(EXIT.nameTaken);
    expect(result.stderr).to.include('key name "twice" already has an active key');
    expect(result.stdout).not.to.match(KEY_PATTERN);
    expect(await rowsNamed('twice')).to.equal(1);
  });

  it('a bad --env is exit 3 and creates nothing', async () => {
    const result = await keys('create', 'staging-client', '--env', 'staging');
    expect(result.code).to.equal(EXIT.badEnvironment);
    expect(result.stderr).to.include('--env must be dev, test or prod (got "staging")');
    expect(await rowsNamed('staging-client')).to.equal(0);
  });

  it('bad arguments are exit 2 with a message, and change nothing', async () => {
    const cases: [string[], string][] = [
      [[], 'no command given'],
      [['launch'], 'unknown command "launch"'],
      [['create', 'no-env'], 'create needs --env'],
      [['create', 'Bad Name', '--env', 'dev'], '"Bad Name" is not a key name'],
      [['create', 'a', 'b', '--env', 'dev'], 'create takes exactly one key name'],
      [['create', 'x', '--env', 'dev', '--grace', '7d'], 'create takes no --grace'],
      [['list', 'extra'], 'list takes no name'],
      [['rotate'], 'rotate takes exactly one key name'],
      [['rotate', 'x', '--grace', '7'], '--grace "7" is not a duration'],
      [['rotate', 'x', '--grace', '90d'], 'too long'],
      [['revoke', 'x', '--env', 'dev'], 'revoke takes no --env'],
      [['list', '--verbose'], "Unknown option '--verbose'"],
    ];
    const results = await Promise.all(cases.map(([args]) => keys(...args)));
    results.forEach((result, index) => {
      const [args, message] = cases[index] as [string[], string];
      expect(result.code, args.join(' ')).to.equal(EXIT.usage);
      expect(result.stderr, args.join(' ')).to.include(message).and.to.include('--help');
    });
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from service_api_keys where key_name in ('no-env', 'x', 'a')`;
    expect(row?.n).to.equal(0);
  });

  it('rotate prints the new key and when the old one stops; both work until then', async () => {
    const created = await keys('create', 'mobile', '--env', 'prod');
    const old = (created.stdout.match(KEY_PATTERN) ?? [])[0] as string;
    const before = Date.now();
    const result = await keys('rotate', 'mobile', '--grace', '12h');
    const after = Date.now();
    expect(result.code, result.stderr).to.equal(EXIT.ok);
    const printed = result.stdout.match(KEY_PATTERN) ?? [];
    expect(printed).to.have.length(1);
    const fresh = printed[0] as string;
    expect(fresh).not.to.equal(old);
    const until = /keeps working until (\S+) \(12 hours\)/.exec(result.stdout)?.[1];
    const oldRow = await findKeyByHash(db.sql, hashServiceKey(old));
    expect(oldRow?.expires_at?.toISOString()).to.equal(until);
    // 12 h after the moment of the rotation, which lies between `before` and `after`.
    expect(oldRow?.expires_at?.getTime()).to.be.within(before + 12 * HOUR_MS, after + 12 * HOUR_MS);
    expect(await usable(old)).to.equal(true);
    expect(await usable(fresh)).to.equal(true);
    expect(auditLine(result, 'rotate')).to.deep.include({ key_name: 'mobile', detail: { grace_ms: 12 * HOUR_MS } });
    expect(result.stderr).not.to.include(fresh.slice(8));
  });

  it('rotate defaults to a 7-day grace, and --grace 0 stops the old key at once', async () => {
    await keys('create', 'weekly', '--env', 'test');
    const before = Date.now();
    const rotated = await keys('rotate', 'weekly', '--json');
    const after = Date.now();
    expect(rotated.code, rotated.stderr).to.equal(EXIT.ok);
    const body = JSON.parse(rotated.stdout) as { key_name: string; new_key: string; old_key_expires_at: string };
    expect(Object.keys(body).sort()).to.deep.equal(['key_name', 'new_key', 'old_key_expires_at']);
    expect(Date.parse(body.old_key_expires_at)).to.be.within(before + 7 * DAY_MS, after + 7 * DAY_MS);

    const now = await keys('rotate', 'weekly', '--grace', '0');
    expect(now.code, now.stderr).to.equal(EXIT.ok);
    expect(now.stdout).to.include('The old key stopped working now');
    expect(await usable(body.new_key)).to.equal(false);
  });

  it('an unknown name is exit 4 for rotate and revoke', async () => {
    for (const command of ['rotate', 'revoke']) {
      const result = await keys(command, 'nobody');
      expect(result.code, command).to.equal(EXIT.notFound);
      expect(result.stderr).to.include('key name "nobody" has no active key');
      // The refusal is audited too, with its reason.
      expect(auditLine(result, command)).to.deep.include({ key_name: 'nobody', detail: { outcome: 'refused', reason: 'no_active_key' } });
    }
  });

  it('revoke stops every key of the name at once, the one in grace included', async () => {
    const first = ((await keys('create', 'leaked', '--env', 'prod')).stdout.match(KEY_PATTERN) ?? [])[0] as string;
    const second = ((await keys('rotate', 'leaked')).stdout.match(KEY_PATTERN) ?? [])[0] as string;
    const result = await keys('revoke', 'leaked');
    expect(result.code, result.stderr).to.equal(EXIT.ok);
    expect(result.stdout).to.include('Revoked 2 keys named "leaked"');
    expect(await usable(first)).to.equal(false);
    expect(await usable(second)).to.equal(false);
    expect(auditLine(result, 'revoke')).to.deep.include({ key_name: 'leaked', detail: { revoked: 2 } });
  });

  it('list shows names, prefixes and statuses, never a key or a hash', async () => {
    const created = await keys('create', 'listed', '--env', 'test');
    const key = (created.stdout.match(KEY_PATTERN) ?? [])[0] as string;
    const text = await keys('list');
    expect(text.code).to.equal(EXIT.ok);
    expect(text.stdout).to.match(/^NAME\s+ENV\s+PREFIX\s+STATUS\s+MANAGED/);
    expect(text.stdout).to.match(new RegExp(`listed\\s+test\\s+${key.slice(0, 12)}\\s+active\\s+no`));
    expect(text.stdout).not.to.match(KEY_PATTERN);
    const json = await keys('list', '--json');
    const body = JSON.parse(json.stdout) as { keys: Record<string, unknown>[] };
    const listed = body.keys.find((item) => item.key_name === 'listed');
    expect(Object.keys(listed ?? {}).sort()).to.deep.equal(
      ['created_at', 'display_prefix', 'environment', 'expires_at', 'key_name', 'last_used_at', 'managed', 'status'].sort(),
    );
    expect(json.stdout).not.to.match(KEY_PATTERN);
    const hashHex = hashServiceKey(key).toString('hex');
    expect(json.stdout + text.stdout).not.to.include(hashHex);
    // list changes nothing, so it audits nothing.
    expect(jsonLines(json.stderr)).to.deep.equal([]);
  });

  it('a deployment-managed key cannot be rotated or revoked here: exit 6, key untouched', async () => {
    const key = generateServiceKey('prod');
    await insertKey(db.sql, { keyName: 'managed-one', environment: 'prod', hash: hashServiceKey(key), displayPrefix: displayPrefix(key), origin: 'managed' });
    for (const command of ['rotate', 'revoke']) {
      const result = await keys(command, 'managed-one');
      expect(result.code, command).to.equal(EXIT.managedKey);
      expect(result.stderr).to.include('managed by the deployment (SERVICE_API_KEYS): change the secret instead');
    }
    expect(await usable(key)).to.equal(true);
    expect(await rowsNamed('managed-one')).to.equal(1);
  });

  describe('database trouble', () => {
    it('no DATABASE_URL is exit 7', async () => {
      const result = await runCli('keys', ['list'], {});
      expect(result.code).to.equal(EXIT.config);
      expect(result.stderr).to.include('DATABASE_URL is not set');
    });

    it('a refused login is exit 7 and never prints the password', async () => {
      const url = new URL(db.url);
      url.password = 'not-the-password-x9';
      const result = await runCli('keys', ['list'], { DATABASE_URL: url.toString() });
      expect(result.code).to.equal(EXIT.config);
      expect(result.stderr).to.include('the database refused the login');
      expect(result.stdout + result.stderr).not.to.include('not-the-password-x9');
    });

    it('an unreachable database is exit 8 (retry later) and never prints the password', async () => {
      const url = new URL(db.url);
      url.port = '1';
      url.password = 'secret-pw-for-port-1';
      const result = await runCli('keys', ['create', 'x', '--env', 'dev'], { DATABASE_URL: url.toString() });
      expect(result.code).to.equal(EXIT.unavailable);
      expect(result.stderr).to.include('cannot reach the database');
      expect(result.stdout + result.stderr).not.to.include('secret-pw-for-port-1');
    });

    it('an unmigrated database is exit 7 with what to do', async () => {
      const empty = await createEmptyDatabase();
      try {
        const result = await runCli('keys', ['list'], { DATABASE_URL: empty.url });
        expect(result.code).to.equal(EXIT.config);
        expect(result.stderr).to.include('npm run migrate -- up');
      } finally {
        await empty.drop();
      }
    });
  });
});
