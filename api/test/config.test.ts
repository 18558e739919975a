import { expect } from 'chai';
import { ConfigError, loadConfig } from '../src/config.js';

const BASE = { DATABASE_URL: 'postgres://chapi:s3cret-password@db.example:5432/chapi' };

describe('config', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(BASE);
    expect(config.port).to.equal(8000);
    expect(config.nodeEnv).to.equal('development');
    expect(config.database.poolMax).to.equal(10);
    expect(config.corsOrigins).to.deep.equal([]);
    expect(config.adminApiKey).to.equal(undefined);
  });

  it('names the variable and the allowed values in one line', () => {
    expect(() => loadConfig({ ...BASE, PORT: 'eighty' })).to.throw(ConfigError, /^PORT must be a whole number from 0 to 65535/);
    expect(() => loadConfig({ ...BASE, LOG_LEVEL: 'loud' })).to.throw(ConfigError, /LOG_LEVEL must be one of fatal, error/);
    expect(() => loadConfig({})).to.throw(ConfigError, /^DATABASE_URL is required/);
  });

  it('never prints a secret value', () => {
    const leaks = [
      () => loadConfig({ DATABASE_URL: 'not a url s3cret-password' }),
      () => loadConfig({ ...BASE, ADMIN_API_KEY: 'short-s3cret' }),
    ];
    for (const load of leaks) {
      expect(load).to.throw(ConfigError);
      try {
        load();
      } catch (error) {
        expect((error as Error).message).not.to.include('s3cret');
      }
    }
  });

  it('refuses a wildcard CORS origin in production, and malformed origins anywhere', () => {
    expect(() => loadConfig({ ...BASE, NODE_ENV: 'production', CORS_ORIGINS: '*' })).to.throw(ConfigError, /CORS_ORIGINS/);
    expect(() => loadConfig({ ...BASE, CORS_ORIGINS: 'https://a.example/path' })).to.throw(ConfigError, /CORS_ORIGINS/);
    expect(loadConfig({ ...BASE, CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).corsOrigins).to.deep.equal([
      'https://a.example',
      'http://localhost:3000',
    ]);
  });

  it('requires an admin key of at least 32 characters', () => {
    expect(() => loadConfig({ ...BASE, ADMIN_API_KEY: 'x'.repeat(31) })).to.throw(ConfigError, /ADMIN_API_KEY must be at least 32/);
    expect(loadConfig({ ...BASE, ADMIN_API_KEY: 'x'.repeat(32) }).adminApiKey).to.have.length(32);
  });
});
