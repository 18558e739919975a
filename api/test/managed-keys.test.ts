import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { ManualClock } from '../src/clock.js';
import { AUDIT_EVENT, auditToLogger } from '../src/keys/audit.js';
import { generateServiceKey, hashServiceKey } from '../src/keys/format.js';
import { ManagedKeysError, parseManagedKeys, syncManagedKeys } from '../src/keys/managed.js';
import { createKey, KeyActionError, revokeKey, rotateKey, type AuditEntry, type KeyServiceDeps } from '../src/keys/service.js';
import { findKeyByHash } from '../src/keys/sql.js';
import { isKeyUsable } from '../src/keys/status.js';
import { useTestDatabase } from './helpers/databases.js';

/** What `parseManagedKeys` throws for `json`, asserting it is a `ManagedKeysError`. */
function parseError(json: string): string {
  try {
    parseManagedKeys(json);
  } catch (error) {
    expect(error).to.be.instanceOf(ManagedKeysError);
    return (error as Error).message;
  }
  throw new Error('expected parseManagedKeys to throw');
}

describe('SERVICE_API_KEYS parsing (keys/managed.ts)', () => {
  const key = generateServiceKey('prod');

  it('reads name → key into hashed entries with the key environment and display prefix', () => {
    const other = generateServiceKey('test');
    const entries = parseManagedKeys(JSON.stringify({ 'cat-house-prod': key, 'mobile-test': other }));
    expect(entries).to.deep.equal([
      { keyName: 'cat-house-prod', environment: 'prod', hash: hashServiceKey(key), displayPrefix: key.slice(0, 12) },
      { keyName: 'mobile-test', environment: 'test', hash: hashServiceKey(other), displayPrefix: other.slice(0, 12) },
    ]);
    expect(parseManagedKeys('{}')).to.deep.equal([]);
  });

  it('refuses malformed JSON without quoting any of it (it holds keys)', () => {
    const message = parseError(`{"cat-house-prod": "${key}",}`);
    expect(message).to.match(/SERVICE_API_KEYS is not valid JSON/);
    expect(message).not.to.include(key.slice(8, 20));
  });

  it('refuses JSON that is not an object of name → key', () => {
    for (const json of ['[]', 'null', '"sk_prod_x"', '42']) expect(parseError(json)).to.match(/must be a JSON object/);
  });

  it('names the entry whose key is malformed, never printing the key', () => {
    const bad = `sk_prod_${'x'.repeat(10)}`;
    const message = parseError(JSON.stringify({ 'cat-house-prod': key, 'mobile-prod': bad }));
    expect(message).to.include('entry "mobile-prod"').and.to.include('not a well-formed service key');
    expect(message).not.to.include(bad);
    expect(parseError(JSON.stringify({ 'mobile-prod': 42 }))).to.include('entry "mobile-prod": the value must be a string');
    expect(parseError(JSON.stringify({ 'mobile-prod': `sk_staging_${'a'.repeat(64)}` }))).to.include('entry "mobile-prod"');
  });

  it('names an entry with a bad name, but not when the "name" looks like a key pasted in its place', () => {
    expect(parseError(JSON.stringify({ 'Cat House': key }))).to.include('entry "Cat House": a key name is');
    const message = parseError(JSON.stringify({ 'ok-name': key, [generateServiceKey('prod')]: 'cat-house' }));
    expect(message).to.include('entry #2').and.not.to.match(/sk_prod_[0-9a-f]{8}/);
  });

  it('can require one environment (production accepts only sk_prod_ keys)', () => {
    const test = generateServiceKey('test');
    expect(() => parseManagedKeys(JSON.stringify({ 'cat-house-prod': key }), { environment: 'prod' })).not.to.throw();
    try {
      parseManagedKeys(JSON.stringify({ 'cat-house-prod': key, 'mobile-test': test }), { environment: 'prod' });
      expect.fail('a sk_test_ key was accepted');
    } catch (error) {
      expect(error).to.be.instanceOf(ManagedKeysError);
      expect((error as Error).message).to.equal(
        'SERVICE_API_KEYS entry "mobile-test": a sk_test_ key, but only sk_prod_ keys authenticate here',
      );
    }
  });

  it('refuses two entries with the same key', () => {
    expect(parseError(JSON.stringify({ a: key, b: key }))).to.equal(
      'SERVICE_API_KEYS entries "a" and "b" hold the same key: each needs its own',
    );
  });
});

describe('managed-key sync (keys/managed.ts)', () => {
  const db = useTestDatabase();
  const clock = new ManualClock(Date.parse('2026-04-01T00:00:00.000Z'));
  let audit: AuditEntry[];
  let deps: KeyServiceDeps;

  beforeEach(async () => {
    audit = [];
    deps = { sql: db.sql, clock, audit: (entry) => audit.push(entry), actor: 'migrate' };
    // Each test starts from no keys at all.
    await db.sql`delete from service_api_keys`;
  });

  const sync = (secret: Record<string, string>) => syncManagedKeys(deps, parseManagedKeys(JSON.stringify(secret)));

  async function usable(key: string): Promise<boolean> {
    const row = await findKeyByHash(db.sql, hashServiceKey(key));
    return row !== undefined && isKeyUsable(row, clock.now());
  }

  async function rowCount(): Promise<number> {
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from service_api_keys`;
    return row?.n ?? 0;
  }

  it('adds new entries as managed keys that authenticate, and audits each by name only', async () => {
    const a = generateServiceKey('prod');
    const b = generateServiceKey('prod');
    expect(await sync({ 'cat-house-prod': a, 'mobile-prod': b })).to.deep.equal({
      added: ['cat-house-prod', 'mobile-prod'],
      replaced: [],
      revoked: [],
      unchanged: [],
    });
    expect(await usable(a)).to.equal(true);
    expect(await usable(b)).to.equal(true);
    const rows = await db.sql`select key_name, origin, environment from service_api_keys order by key_name`;
    expect(rows).to.deep.equal([
      { key_name: 'cat-house-prod', origin: 'managed', environment: 'prod' },
      { key_name: 'mobile-prod', origin: 'managed', environment: 'prod' },
    ]);
    expect(audit).to.deep.equal([
      { action: 'sync', key_name: 'cat-house-prod', actor: 'migrate', detail: { change: 'added' } },
      { action: 'sync', key_name: 'mobile-prod', actor: 'migrate', detail: { change: 'added' } },
    ]);
    expect(JSON.stringify(audit)).not.to.include(a.slice(8)).and.not.to.include(b.slice(8));
  });

  it('is idempotent: the same secret again changes no row and audits nothing', async () => {
    const secret = { 'cat-house-prod': generateServiceKey('prod') };
    await sync(secret);
    const before = await db.sql`select * from service_api_keys order by id`;
    audit = [];
    expect(await sync(secret)).to.deep.equal({ added: [], replaced: [], revoked: [], unchanged: ['cat-house-prod'] });
    expect(await db.sql`select * from service_api_keys order by id`).to.deep.equal(before);
    expect(audit).to.deep.equal([]);
  });

  it('a changed key replaces the old one: the old stops at once, the new works', async () => {
    const old = generateServiceKey('prod');
    const fresh = generateServiceKey('prod');
    await sync({ 'cat-house-prod': old });
    expect(await sync({ 'cat-house-prod': fresh })).to.deep.equal({
      added: [],
      replaced: ['cat-house-prod'],
      revoked: [],
      unchanged: [],
    });
    expect(await usable(old)).to.equal(false);
    expect(await usable(fresh)).to.equal(true);
    const oldRow = await findKeyByHash(db.sql, hashServiceKey(old));
    expect(oldRow?.revoked_at?.getTime()).to.equal(clock.now());
    expect(audit.at(-1)).to.deep.equal({ action: 'sync', key_name: 'cat-house-prod', actor: 'migrate', detail: { change: 'replaced' } });
  });

  it('an entry removed from the secret is revoked', async () => {
    const a = generateServiceKey('prod');
    const b = generateServiceKey('prod');
    await sync({ 'cat-house-prod': a, 'mobile-prod': b });
    expect(await sync({ 'cat-house-prod': a })).to.deep.equal({
      added: [],
      replaced: [],
      revoked: ['mobile-prod'],
      unchanged: ['cat-house-prod'],
    });
    expect(await usable(b)).to.equal(false);
    expect(await usable(a)).to.equal(true);
    // An empty secret revokes every managed key.
    expect((await sync({})).revoked).to.deep.equal(['cat-house-prod']);
    expect(await usable(a)).to.equal(false);
  });

  it('never touches hand-made keys, whatever the secret says', async () => {
    const handMade = await createKey({ ...deps, actor: 'cli' }, { keyName: 'ops-tool', environment: 'prod' });
    const managed = generateServiceKey('prod');
    await sync({ 'cat-house-prod': managed });
    await sync({});
    expect(await usable(handMade.plaintext)).to.equal(true);
    const [row] = await db.sql`select origin, revoked_at, expires_at from service_api_keys where id = ${handMade.row.id}`;
    expect(row).to.deep.equal({ origin: 'created', revoked_at: null, expires_at: null });
  });

  it('refuses an entry whose name has a hand-made key, and applies nothing of that secret', async () => {
    await createKey({ ...deps, actor: 'cli' }, { keyName: 'cat-house-prod', environment: 'prod' });
    const before = await rowCount();
    audit = [];
    const error = await sync({ 'a-first': generateServiceKey('prod'), 'cat-house-prod': generateServiceKey('prod') }).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).to.be.instanceOf(ManagedKeysError);
    expect((error as Error).message).to.include('entry "cat-house-prod": the name already has a hand-made key');
    // One transaction: "a-first", synced before the failure, was rolled back with it.
    expect(await rowCount()).to.equal(before);
    expect(audit).to.deep.equal([]);
  });

  it('never brings back a revoked key, nor takes one stored under another name', async () => {
    const key = generateServiceKey('prod');
    await sync({ 'mobile-prod': key });
    await sync({});
    const revived = await sync({ 'mobile-prod': key }).catch((thrown: unknown) => thrown);
    expect((revived as Error).message).to.include('entry "mobile-prod": this key is already stored under this name (revoked)');
    expect(await usable(key)).to.equal(false);

    const handMade = await createKey({ ...deps, actor: 'cli' }, { keyName: 'ops-tool', environment: 'prod' });
    const stolen = await sync({ 'thief-prod': handMade.plaintext }).catch((thrown: unknown) => thrown);
    expect((stolen as Error).message).to.include('entry "thief-prod": this key is already stored under the name "ops-tool" (active)');
    expect((stolen as Error).message).not.to.include(handMade.plaintext);
  });

  it('two syncs at once end with one managed key per name', async () => {
    const secret = parseManagedKeys(JSON.stringify({ 'cat-house-prod': generateServiceKey('prod'), 'mobile-prod': generateServiceKey('prod') }));
    const results = await Promise.all([syncManagedKeys(deps, secret), syncManagedKeys(deps, secret)]);
    expect(results.map((result) => result.added.length).sort()).to.deep.equal([0, 2]);
    const rows = await db.sql`select key_name from service_api_keys where origin = 'managed' and revoked_at is null order by key_name`;
    expect(rows.map((row) => row.key_name)).to.deep.equal(['cat-house-prod', 'mobile-prod']);
  });

  it('managed keys cannot be rotated or revoked through keys/service.ts (the CLI and admin routes)', async () => {
    const key = generateServiceKey('prod');
    await sync({ 'cat-house-prod': key });
    for (const action of [() => rotateKey(deps, { keyName: 'cat-house-prod' }), () => revokeKey(deps, { keyName: 'cat-house-prod' })]) {
      const error = await action().catch((thrown: unknown) => thrown);
      expect(error).to.be.instanceOf(KeyActionError).with.property('code', 'conflict');
      expect(error).to.have.property('reason', 'managed');
    }
    expect(await usable(key)).to.equal(true);
    expect(await rowCount()).to.equal(1);
  });
});

describe('audit lines (keys/audit.ts)', () => {
  it('writes one JSON line per entry: event, action, key name, actor, detail', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const audit = auditToLogger(pino({ level: 'info' }, sink));
    audit({ action: 'rotate', key_name: 'cat-house', actor: 'cli', detail: { grace_ms: 1000 } });
    audit({ action: 'create', key_name: 'mobile', actor: 'request:abc' });
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed).to.have.length(2);
    expect(parsed[0]).to.include({ event: AUDIT_EVENT, action: 'rotate', key_name: 'cat-house', actor: 'cli' });
    expect(parsed[0]?.detail).to.deep.equal({ grace_ms: 1000 });
    expect(parsed[1]).to.include({ event: AUDIT_EVENT, action: 'create', key_name: 'mobile', actor: 'request:abc' });
    expect(parsed[1]).not.to.have.property('detail');
  });
});
