import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PLAN_FILE, renderPlan } from '../plan.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the offline plan', () => {
  it('matches what the program declares for the prod stack (run `npm run infra:plan` after an infra change)', function () {
    // Its own process: the plan runs the real entry, infra/index.ts, with its own config.
    this.timeout(120_000);
    const check = spawnSync(process.execPath, ['--import', 'tsx', 'infra/plan.ts', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(check.status, check.stderr).to.equal(0);
    expect(check.stdout).to.include('is up to date');
  });

  it('lists every resource with its inputs and never a secret value', () => {
    const plan = JSON.parse(readFileSync(PLAN_FILE, 'utf8')) as { resourceCount: number; resources: { type: string; inputs: Record<string, unknown> }[] };
    expect(plan.resources).to.have.length(plan.resourceCount);
    const text = readFileSync(PLAN_FILE, 'utf8');
    expect(text).not.to.include('PLAN-PLACEHOLDER');
    expect(text).not.to.include('generated000');
    const versions = plan.resources.filter((resource) => resource.type === 'aws:secretsmanager/secretVersion:SecretVersion');
    expect(versions).to.have.length(4);
    for (const version of versions) expect(version.inputs.secretString).to.equal('[secret]');
  });

  it('renders deterministically: sorted, JSON strings expanded, hashes replaced', () => {
    const recording = {
      resources: [
        { type: 't:b', name: 'b', parent: undefined, inputs: { policy: '{"z":1,"a":"HASH"}' }, dependsOn: [], ignoreChanges: [] },
        { type: 't:a', name: 'a', parent: 'p', inputs: { z: 1, a: 2 }, dependsOn: ['y', 'x'], ignoreChanges: ['z'] },
      ],
      outputs: { url: 'u' },
    };
    const text = renderPlan(recording, new Map([['HASH', '<hash>']]));
    expect(JSON.parse(text)).to.deep.equal({
      stack: 'prod',
      resourceCount: 2,
      resources: [
        { name: 'a', type: 't:a', parent: 'p', dependsOn: ['x', 'y'], ignoreChanges: ['z'], inputs: { a: 2, z: 1 } },
        { name: 'b', type: 't:b', inputs: { policy: { a: '<hash>', z: 1 } } },
      ],
      outputs: { url: 'u' },
    });
    expect(renderPlan(recording, new Map([['HASH', '<hash>']]))).to.equal(text);
  });
});
