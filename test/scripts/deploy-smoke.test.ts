import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = path.join(ROOT, 'scripts', 'deploy-smoke.sh');
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:chapi/prod/service-api-keys-AbCdEf';

/**
 * Runs scripts/deploy-smoke.sh with stand-ins for `aws` (answers get-secret-value with the
 * given secret string, and records its arguments) and `npm` (prints what the smoke test got).
 */
function run(secretString: string, env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const bin = mkdtempSync(path.join(tmpdir(), 'chapi-deploy-smoke-'));
  try {
    writeFileSync(path.join(bin, 'aws'), `#!/usr/bin/env bash\necho "aws $*" >&2\nprintf '%s\\n' "$FAKE_SECRET"\n`);
    writeFileSync(path.join(bin, 'npm'), '#!/usr/bin/env bash\necho "npm $* key=${SMOKE_API_KEY:-none}"\n');
    chmodSync(path.join(bin, 'aws'), 0o755);
    chmodSync(path.join(bin, 'npm'), 0o755);
    const result = spawnSync(SCRIPT, ['--base-url', 'https://chapi.example'], {
      encoding: 'utf8',
      env: { PATH: `${bin}:${process.env.PATH ?? ''}`, FAKE_SECRET: secretString, SMOKE_KEY_SECRET_ARN: ARN, SMOKE_KEY_JSON_KEY: 'smoke', ...env },
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

describe('scripts/deploy-smoke.sh (the deploy\'s smoke step)', () => {
  it('reads the key from the secret the stack names, masks it first, and hands it to the smoke test only', () => {
    const key = `sk_prod_${'k'.repeat(64)}`;
    const result = run(JSON.stringify({ cathouse: 'sk_prod_other', smoke: key }));
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.include(`aws secretsmanager get-secret-value --secret-id ${ARN} --query SecretString --output text`);
    const lines = result.stdout.trim().split('\n');
    // The mask comes before any other output, so the key can never appear unmasked.
    expect(lines[0]).to.equal(`::add-mask::${key}`);
    expect(lines[1]).to.equal(`npm run --silent smoke -- --base-url https://chapi.example key=${key}`);
    expect(result.stdout).not.to.include('sk_prod_other');
  });

  it('fails with an annotation, and runs nothing, when the secret has no smoke key', () => {
    const result = run(JSON.stringify({ cathouse: 'sk_prod_other' }));
    expect(result.code).to.equal(1);
    expect(result.stdout).to.include('::error title=No smoke test key::the secret has no "smoke" key');
    expect(result.stdout).not.to.include('npm ');
    expect(result.stdout).not.to.include('sk_prod_other');
  });

  it('refuses to run without the stack outputs that name the secret', () => {
    const result = run('{}', { SMOKE_KEY_SECRET_ARN: '' });
    expect(result.code).not.to.equal(0);
    expect(result.stderr).to.include('smokeKeySecretArn is required');
  });
});
