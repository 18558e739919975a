import { expect } from 'chai';
import { loadConfig } from '../src/config.js';
import { createSql, normalizeDatabaseUrl, serverSessionSettings, usePreparedStatements } from '../src/db.js';

const NEON_POOLER = 'postgres://app:pw@ep-cool-1234-pooler.us-east-1.aws.neon.tech/chapi?sslmode=require&channel_binding=require';
const NEON_DIRECT = 'postgres://app:pw@ep-cool-1234.us-east-1.aws.neon.tech/chapi?sslmode=require';

/** The options postgres.js resolved for a URL (no connection is opened). */
function resolved(url: string): { ssl: unknown; prepare: boolean; connection: Record<string, unknown> } {
  const sql = createSql(loadConfig({ DATABASE_URL: url }).database);
  return sql.options as unknown as { ssl: unknown; prepare: boolean; connection: Record<string, unknown> };
}

describe('database connection options (db.ts)', () => {
  it("verifies the server's certificate when the URL asks for TLS (sslmode=require, as Neon's URLs do)", () => {
    // postgres.js connects with rejectUnauthorized: false for 'require': anyone on the path
    // could read and change the traffic. 'verify-full' checks the chain and the host name.
    expect(resolved(NEON_POOLER).ssl).to.equal('verify-full');
    expect(resolved(NEON_DIRECT).ssl).to.equal('verify-full');
    expect(new URL(normalizeDatabaseUrl(`${NEON_DIRECT}`.replace('require', 'verify-ca'))).searchParams.get('sslmode')).to.equal('verify-full');
  });

  it('keeps what the URL says otherwise: no TLS locally, an explicit prefer or verify-full as is', () => {
    expect(resolved('postgres://u:p@127.0.0.1:5432/chapi').ssl).to.equal(false);
    expect(new URL(normalizeDatabaseUrl('postgres://u:p@h/db?sslmode=prefer')).searchParams.get('sslmode')).to.equal('prefer');
    expect(new URL(normalizeDatabaseUrl('postgres://u:p@h/db?sslmode=verify-full')).searchParams.get('sslmode')).to.equal('verify-full');
  });

  it('never sends channel_binding to the server as a startup parameter', () => {
    expect(normalizeDatabaseUrl(NEON_POOLER)).not.to.include('channel_binding');
    expect(resolved(NEON_POOLER).connection).not.to.have.property('channel_binding');
  });

  it("behind Neon's pooler: no named prepared statements and no session startup parameters", () => {
    const pooled = loadConfig({ DATABASE_URL: NEON_POOLER }).database;
    expect(usePreparedStatements(pooled)).to.equal(false);
    expect(serverSessionSettings(pooled)).to.deep.equal({});
    expect(resolved(NEON_POOLER).prepare).to.equal(false);
    const direct = loadConfig({ DATABASE_URL: NEON_DIRECT, DB_STATEMENT_TIMEOUT_MS: '5000' }).database;
    expect(usePreparedStatements(direct)).to.equal(true);
    expect(serverSessionSettings(direct).statement_timeout).to.equal('6000');
  });
});
