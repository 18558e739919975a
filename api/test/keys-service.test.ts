import { expect } from 'chai';
import { ManualClock } from '../src/clock.js';
import { hashServiceKey, parseServiceKey } from '../src/keys/format.js';
import {
  createKey,
  DEFAULT_ROTATION_GRACE_MS,
  KeyActionError,
  MAX_ROTATION_GRACE_MS,
  listKeys,
  revokeKey,
  rotateKey,
  type AuditEntry,
  type KeyServiceDeps,
} from '../src/keys/service.js';
import { findKeyByHash } from '../src/keys/sql.js';
import { isKeyUsable } from '../src/keys/status.js';
import { useTestDatabase } from './helpers/databases.js';

describe('service key lifecycle (keys/service.ts)', () => {
  const db = useTestDatabase();
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00.000Z'));
  let audit: AuditEntry[];
  let deps: KeyServiceDeps;

  beforeEach(() => {
    audit = [];
    deps = { sql: db.sql, clock, audit: (entry) => audit.push(entry), actor: 'cli' };
  });

  async function usable(key: string): Promise<boolean> {
    const row = await findKeyByHash(db.sql, hashServiceKey(key));
    return row !== undefined && isKeyUsable(row, clock.now());
  }

  it('creates a key, stores only its hash, and audits without the key', async () => {
    const { plaintext, row } = await createKey(deps, { keyName: 'cat-house', environment: 'prod' });
    expect(parseServiceKey(plaintext)).to.equal('prod');
    expect(row.display_prefix).to.equal(plaintext.slice(0, 'sk_prod_'.length + 4));
    const stored = await db.sql`select * from service_api_keys where id = ${row.id}`;
    expect(JSON.stringify(stored)).not.to.include(plaintext.slice(8));
    expect(await usable(plaintext)).to.equal(true);
    expect(audit).to.deep.equal([{ action: 'create', key_name: 'cat-house', actor: 'cli', detail: { environment: 'prod' } }]);
    expect(JSON.stringify(audit)).not.to.include(plaintext);
  });

  it('refuses a second active key for one name (409), even when two creates race', async () => {
    const results = await Promise.allSettled([
      createKey(deps, { keyName: 'racer', environment: 'test' }),
      createKey(deps, { keyName: 'racer', environment: 'test' }),
    ]);
    expect(results.filter((result) => result.status === 'fulfilled')).to.have.length(1);
    const rejected = results.find((result) => result.status === 'rejected');
    expect((rejected as PromiseRejectedResult).reason).to.be.instanceOf(KeyActionError).with.property('code', 'conflict');
  });

  it('rotates: the new key works at once, the old one until the grace period ends', async () => {
    const old = await createKey(deps, { keyName: 'mobile', environment: 'prod' });
    const rotated = await rotateKey(deps, { keyName: 'mobile' });
    expect(rotated.oldKeyExpiresAt.getTime()).to.equal(clock.now() + DEFAULT_ROTATION_GRACE_MS);
    expect(rotated.row.rotated_from).to.equal(old.row.id);
    expect(await usable(rotated.plaintext)).to.equal(true);
    expect(await usable(old.plaintext)).to.equal(true);
    clock.advance(DEFAULT_ROTATION_GRACE_MS + 1);
    expect(await usable(old.plaintext)).to.equal(false);
    expect(await usable(rotated.plaintext)).to.equal(true);
    const statuses = (await listKeys(deps)).filter((key) => key.key_name === 'mobile').map((key) => key.status);
    expect(statuses.sort()).to.deep.equal(['active', 'expired']);
  });

  it('revokes every key of a name, one in its grace period included', async () => {
    const old = await createKey(deps, { keyName: 'to-revoke', environment: 'dev' });
    const rotated = await rotateKey(deps, { keyName: 'to-revoke', graceMs: 60_000 });
    expect(await revokeKey(deps, { keyName: 'to-revoke' })).to.deep.equal({ revoked: 2 });
    expect(await usable(old.plaintext)).to.equal(false);
    expect(await usable(rotated.plaintext)).to.equal(false);
    // All revoked: the name may be reused.
    await createKey(deps, { keyName: 'to-revoke', environment: 'dev' });
  });

  it('tells apart a taken name (409 name_taken) from a missing one (404 no_active_key)', async () => {
    await createKey(deps, { keyName: 'taken', environment: 'test' });
    const taken = await createKey(deps, { keyName: 'taken', environment: 'test' }).catch((thrown: unknown) => thrown);
    expect(taken).to.be.instanceOf(KeyActionError).with.property('reason', 'name_taken');
    const missing = await rotateKey(deps, { keyName: 'missing' }).catch((thrown: unknown) => thrown);
    expect(missing).to.be.instanceOf(KeyActionError).with.property('reason', 'no_active_key');
  });

  it('rotates with no grace: the old key stops at once', async () => {
    const old = await createKey(deps, { keyName: 'no-grace', environment: 'test' });
    const rotated = await rotateKey(deps, { keyName: 'no-grace', graceMs: 0 });
    expect(rotated.oldKeyExpiresAt.getTime()).to.equal(clock.now());
    expect(await usable(old.plaintext)).to.equal(false);
    expect(await usable(rotated.plaintext)).to.equal(true);
  });

  it('refuses a grace period below zero or above the cap, changing nothing', async () => {
    const old = await createKey(deps, { keyName: 'bad-grace', environment: 'test' });
    for (const graceMs of [-1, MAX_ROTATION_GRACE_MS + 1, 1.5, Number.NaN]) {
      const error = await rotateKey(deps, { keyName: 'bad-grace', graceMs }).catch((thrown: unknown) => thrown);
      expect(error, String(graceMs)).to.be.instanceOf(RangeError);
    }
    const rows = await db.sql`select id, expires_at from service_api_keys where key_name = 'bad-grace'`;
    expect(rows).to.deep.equal([{ id: old.row.id, expires_at: null }]);
  });

  it('answers not_found for rotating or revoking a name with no active key', async () => {
    for (const action of [() => rotateKey(deps, { keyName: 'nobody' }), () => revokeKey(deps, { keyName: 'nobody' })]) {
      const error = await action().catch((thrown: unknown) => thrown);
      expect(error).to.be.instanceOf(KeyActionError).with.property('code', 'not_found');
    }
  });

  it('audits a refused action too, with the reason', async () => {
    await createKey(deps, { keyName: 'refusal-taken', environment: 'test' });
    audit.length = 0;
    await createKey(deps, { keyName: 'refusal-taken', environment: 'test' }).catch(() => undefined);
    await rotateKey(deps, { keyName: 'nobody' }).catch(() => undefined);
    await revokeKey(deps, { keyName: 'nobody' }).catch(() => undefined);
    expect(audit).to.deep.equal([
      { action: 'create', key_name: 'refusal-taken', actor: 'cli', detail: { outcome: 'refused', reason: 'name_taken' } },
      { action: 'rotate', key_name: 'nobody', actor: 'cli', detail: { outcome: 'refused', reason: 'no_active_key' } },
      { action: 'revoke', key_name: 'nobody', actor: 'cli', detail: { outcome: 'refused', reason: 'no_active_key' } },
    ]);
  });
});
