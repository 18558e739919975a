/**
 * scripts/lib/embedded-postgres.ts: a start that fails leaves nothing behind (no half-made,
 * postgres-owned data directory, no password file), says why in one error, and a server that
 * dies on its own is noticed (`exited`) and stopped without waiting for ever.
 */
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { startEmbeddedPostgres } from '../../scripts/lib/embedded-postgres.js';

describe('embedded PostgreSQL (scripts/lib/embedded-postgres.ts)', function () {
  this.timeout(120_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'chapi-embedded-pg-test-'));
    await chmod(dir, 0o755);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a first start that fails removes the data directory it made and every secret file', async () => {
    const passwordFiles = async (): Promise<string[]> => (await readdir(tmpdir())).filter((name) => name.startsWith('pg-password-'));
    const before = await passwordFiles();
    const dataDir = path.join(dir, 'pg');
    const failed = await startEmbeddedPostgres({ dataDir, password: 'pw-for-a-failed-start', settings: { max_connections: 'many' } }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failed, 'the start should fail').to.be.instanceOf(Error);
    expect(failed?.message).to.match(/^embedded PostgreSQL failed to start: the server exited during start-up/);
    expect(failed?.message).to.include('max_connections');
    expect(existsSync(dataDir), 'the data directory it made').to.equal(false);
    expect(await readdir(dir)).to.deep.equal([]);
    // Only new files count: other programs on the machine may come and go in the temp directory.
    expect((await passwordFiles()).filter((name) => !before.includes(name))).to.deep.equal([]);
  });

  it('a server killed from outside is noticed, and stop() then returns at once', async () => {
    const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), password: 'pw', ephemeral: true, fast: true });
    const pid = Number((await readFile(path.join(pg.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    expect(await pg.exited).to.deep.equal({ code: null, signal: 'SIGKILL' });
    await pg.stop();
    expect(existsSync(pg.dataDir), 'ephemeral data after stop').to.equal(false);
  });
});
