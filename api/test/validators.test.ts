/**
 * Validators are declared when their modules load and compiled right after the server
 * listens (schemas/validate.ts says why). A schema that ajv's strict mode refuses must still
 * fail loudly: the server's `validatorsReady` rejects (main() exits on it; in a test run it
 * is an unhandled rejection), rather than some route answering 500 in production.
 */
import { expect } from 'chai';
import { compileBody, compileValidators, warmUpValidators } from '../src/schemas/validate.js';
import { startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';

describe('request validators', () => {
  const db = useTestDatabase();

  it('a started server compiles every declared validator, admin routes included, in strict mode', async () => {
    const api = await startTestApi(db.url, { env: { ADMIN_API_KEY: 'admin-key-for-validators-test-0123456789' } });
    try {
      await api.validatorsReady;
      expect(compileValidators(), 'nothing left to compile').to.equal(0);
    } finally {
      await api.stop();
    }
  });

  it('a validator works before the warm-up, compiling itself on its first call', () => {
    const validate = compileBody<{ n: number }>({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false });
    expect(validate({ n: 1 })).to.equal(true);
    expect(validate({ n: 'one' })).to.equal(false);
    expect(validate.errors?.[0]?.instancePath).to.equal('/n');
    expect(compileValidators(), 'already compiled by its call').to.equal(0);
  });

  it('the background warm-up compiles what is declared, letting other work run between schemas', async () => {
    const validators = [1, 2, 3].map((n) => compileBody({ type: 'integer', minimum: n }));
    let otherWorkRan = false;
    const warmUp = warmUpValidators().then((count) => ({ count, otherWorkRan }));
    setImmediate(() => (otherWorkRan = true));
    const { count, otherWorkRan: ranBeforeTheEnd } = await warmUp;
    expect(ranBeforeTheEnd, 'other work ran before the warm-up finished').to.equal(true);
    expect(count).to.equal(3);
    expect(validators.map((validate) => validate(2))).to.deep.equal([true, true, false]);
  });

  it('a schema strict mode refuses throws when compiled', () => {
    compileBody({ type: 'object', properties: { n: { type: 'integer', minimum: 'zero' } } });
    expect(() => compileValidators()).to.throw(/minimum/);
    expect(compileValidators(), 'a refused schema is not retried forever').to.equal(0);
  });
});
