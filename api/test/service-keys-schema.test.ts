import { expect } from 'chai';
import { generateServiceKey, hashServiceKey } from '../src/keys/format.js';
import { useTestDatabase } from './helpers/databases.js';

describe('service_api_keys constraints (the table refuses what the code never writes)', () => {
  const db = useTestDatabase();

  /** Inserts a row with `overrides`; returns the SQLSTATE and constraint it failed on, or 'ok'. */
  async function insert(overrides: Record<string, unknown>): Promise<string> {
    const key = generateServiceKey('prod');
    const row = {
      key_name: 'schema-check',
      environment: 'prod',
      key_hash: hashServiceKey(key),
      display_prefix: key.slice(0, 12),
      origin: 'created',
      ...overrides,
    };
    try {
      await db.sql`insert into service_api_keys ${db.sql(row)}`;
      await db.sql`delete from service_api_keys where key_name = 'schema-check'`;
      return 'ok';
    } catch (error) {
      const failure = error as { code?: string; constraint_name?: string };
      return `${failure.code ?? '?'} ${failure.constraint_name ?? ''}`.trim();
    }
  }

  it("stores SHA-256 of the key's UTF-8 bytes, as PostgreSQL's sha256() computes it (imported keys may be any printable text)", async () => {
    for (const key of [generateServiceKey('prod'), generateServiceKey('dev'), 'legacy-key-0123456789', 'clé-héritée-😀-0123456789']) {
      const [row] = await db.sql<{ hash: Buffer }[]>`select sha256(convert_to(${key}, 'UTF8')) as hash`;
      expect(hashServiceKey(key).equals(row?.hash as Buffer), key).to.equal(true);
    }
  });

  it('accepts a well-formed row', async () => {
    expect(await insert({})).to.equal('ok');
  });

  it('refuses a display prefix long enough to be a key', async () => {
    expect(await insert({ display_prefix: generateServiceKey('prod') })).to.equal('23514 service_api_keys_display_prefix_short');
  });

  it('refuses a hash that is not SHA-256, a bad name, environment or origin', async () => {
    expect(await insert({ key_hash: Buffer.alloc(16) })).to.equal('23514 service_api_keys_key_hash_sha256');
    expect(await insert({ key_name: 'Cat House' })).to.equal('23514 service_api_keys_key_name_format');
    expect(await insert({ environment: 'staging' })).to.equal('23514 service_api_keys_environment_valid');
    expect(await insert({ origin: 'cloned' })).to.equal('23514 service_api_keys_origin_valid');
  });

  it('refuses a rotated key with no source, and a managed key with an expiry', async () => {
    expect(await insert({ origin: 'rotated' })).to.equal('23514 service_api_keys_rotated_has_source');
    expect(await insert({ origin: 'managed', expires_at: new Date() })).to.equal('23514 service_api_keys_managed_no_expiry');
  });

  it('refuses a second current key for one name', async () => {
    const first = generateServiceKey('prod');
    await db.sql`insert into service_api_keys ${db.sql({
      key_name: 'one-current', environment: 'prod', key_hash: hashServiceKey(first), display_prefix: first.slice(0, 12), origin: 'created',
    })}`;
    expect(await insert({ key_name: 'one-current' })).to.equal('23505 service_api_keys_one_current_per_name');
  });
});
