/**
 * Validators are declared when their modules load and compiled right after the server
 * listens (schemas/validate.ts says why). A schema that ajv's strict mode refuses must still
 * fail loudly: here, in the suite, rather than on some request in production.
 */
import { expect } from 'chai';
import { appRoutes } from '../src/app.js';
import { compileBody, compileValidators, warmUpValidators } from '../src/schemas/validate.js';

describe('request validators', () => {
  it('every validator the routes declare compiles in strict mode', () => {
    // Importing the app declared every route's validators; admin routes included.
    expect(appRoutes({ adminApiKey: 'present' }).length).to.be.greaterThan(10);
    compileValidators();
    expect(compileValidators(), 'nothing left to compile').to.equal(0);
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
