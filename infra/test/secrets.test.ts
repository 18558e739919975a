import { expect } from 'chai';
import { isSecretValue, MOCK_GENERATED, unsecret } from '../mock-cloud.js';
import { PLAN_SECRETS } from '../plan.js';
import { prodStack, recordStack, T, type Stack } from './support.js';

/**
 * The characters a `random.RandomPassword` may produce from its inputs: upper, lower, numeric
 * and special each default to true, the special set to `!@#$%&*()-_=+[]{}<>:?` unless
 * overridden (https://www.pulumi.com/registry/packages/random/api-docs/randompassword/).
 */
function alphabetOf(inputs: Record<string, unknown>): string {
  const allowed = (name: string) => inputs[name] !== false;
  return [
    allowed('upper') ? 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' : '',
    allowed('lower') ? 'abcdefghijklmnopqrstuvwxyz' : '',
    allowed('numeric') && allowed('number') ? '0123456789' : '',
    allowed('special') ? ((inputs.overrideSpecial as string | undefined) ?? '!@#$%&*()-_=+[]{}<>:?') : '',
  ].join('');
}

/** Results of the password's length that between them use every character it may produce. */
function samplesOf(inputs: Record<string, unknown>): string[] {
  const alphabet = alphabetOf(inputs);
  const length = inputs.length as number;
  const samples: string[] = [];
  for (let start = 0; start < alphabet.length; start += length) {
    samples.push(Array.from({ length }, (_, i) => alphabet[(start + i) % alphabet.length]).join(''));
  }
  return samples;
}

describe('secrets', () => {
  let stack: Stack;
  before(async () => {
    stack = await prodStack();
  });

  it('keeps four secrets under chapi/prod/', () => {
    expect(stack.all(T.secret).map((secret) => secret.inputs.name)).to.have.members([
      'chapi/prod/database-url',
      'chapi/prod/migration-database-url',
      'chapi/prod/admin-api-key',
      'chapi/prod/service-api-keys',
    ]);
  });

  it('stores the pooled URL for the API and the direct URL for migrations, as secrets', () => {
    const pooled = stack.one(T.secretVersion, 'chapi-database-url').inputs.secretString;
    const direct = stack.one(T.secretVersion, 'chapi-migration-database-url').inputs.secretString;
    expect(isSecretValue(pooled)).to.equal(true);
    expect(isSecretValue(direct)).to.equal(true);
    expect(unsecret(pooled)).to.equal(PLAN_SECRETS['chapi:databaseUrl']);
    expect(unsecret(direct)).to.equal(PLAN_SECRETS['chapi:migrationDatabaseUrl']);
  });

  it('generates the admin key and one sk_prod_ key per client at deploy time', () => {
    for (const password of stack.all(T.password)) {
      expect(password.inputs).to.include({ length: 64, special: false });
    }
    expect(stack.all(T.password).map((password) => password.name)).to.have.members([
      'chapi-admin-api-key',
      'chapi-service-key-cathouse',
      'chapi-service-key-mobile',
      'chapi-service-key-smoke',
    ]);
    expect(unsecret(stack.one(T.secretVersion, 'chapi-admin-api-key').inputs.secretString)).to.equal(MOCK_GENERATED);
    const serviceKeys = stack.one(T.secretVersion, 'chapi-service-api-keys').inputs.secretString;
    expect(isSecretValue(serviceKeys)).to.equal(true);
    expect(JSON.parse(unsecret(serviceKeys) as string)).to.deep.equal({
      cathouse: `sk_prod_${MOCK_GENERATED}`,
      mobile: `sk_prod_${MOCK_GENERATED}`,
      smoke: `sk_prod_${MOCK_GENERATED}`,
    });
  });

  it('generates keys the API accepts: every character the password resources may produce', async () => {
    const { SERVICE_KEY_PATTERN } = await import('../../api/src/keys/format.js');
    const { MIN_ADMIN_KEY_LENGTH } = await import('../../api/src/config.js');
    for (const password of stack.all(T.password)) expect(password.inputs.length).to.be.at.least(MIN_ADMIN_KEY_LENGTH);
    // The recorded secret holds `sk_prod_<result>` per client; each result becomes every sample
    // its password resource's inputs allow, so a pattern narrower than what the provider makes
    // (hex only, say) fails here rather than refusing every deployed key.
    const recorded = JSON.parse(unsecret(stack.one(T.secretVersion, 'chapi-service-api-keys').inputs.secretString) as string) as Record<string, string>;
    for (const [client, key] of Object.entries(recorded)) {
      const password = stack.one(T.password, `chapi-service-key-${client}`);
      for (const sample of samplesOf(password.inputs)) {
        const deployed = key.replace(MOCK_GENERATED, sample);
        expect(SERVICE_KEY_PATTERN.test(deployed), `${client}: ${deployed}`).to.equal(true);
      }
    }
  });

  it('has no unused secret: each is read by exactly one task definition (FSBP SecretsManager.3)', () => {
    const definitions = stack.all(T.taskDefinition).map((definition) => definition.inputs.containerDefinitions as string);
    for (const secret of stack.all(T.secret)) {
      const readers = definitions.filter((text) => text.includes(`secret:${String(secret.inputs.name)}-`));
      expect(readers, String(secret.inputs.name)).to.have.length(1);
    }
  });

  it('adds a key for each configured client', async () => {
    const more = await recordStack({ serviceClients: JSON.stringify(['cathouse', 'mobile', 'partner-x']) });
    const keys = JSON.parse(unsecret(more.one(T.secretVersion, 'chapi-service-api-keys').inputs.secretString) as string) as Record<string, string>;
    expect(Object.keys(keys)).to.deep.equal(['cathouse', 'mobile', 'partner-x']);
  });
});
