import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a command resource's command line from the project root, as the command provider does. */
function run(commandLine: string, env: Record<string, string>) {
  const [program, ...args] = commandLine.split(' ');
  const inputs = new Set(['RUN_TASK_INPUT', 'PUBLISH_IMAGE_INPUT', 'CHECK_ROLLOUT_INPUT']);
  const inherited = Object.entries(process.env).filter(([name]) => !inputs.has(name));
  const environment: NodeJS.ProcessEnv = { ...Object.fromEntries(inherited), AWS_REGION: 'us-east-1', ...env };
  return spawnSync(program === 'node' ? process.execPath : (program as string), args, { cwd: ROOT, env: environment, encoding: 'utf8' });
}

describe('the commands the deploy runs', () => {
  // The command lines come from the program modules, imported after the mocks (setup.ts).
  let commands: { publish: string; runTask: string; checkRollout: string };
  before(async () => {
    const [{ PUBLISH_COMMAND }, { RUN_TASK_COMMAND }, { CHECK_ROLLOUT_COMMAND }] = await Promise.all([
      import('../registry.js'),
      import('../migration.js'),
      import('../service.js'),
    ]);
    commands = { publish: PUBLISH_COMMAND, runTask: RUN_TASK_COMMAND, checkRollout: CHECK_ROLLOUT_COMMAND };
  });

  it('run-task exits 1 with the reason when its input is malformed, before calling AWS', () => {
    const result = run(commands.runTask, { RUN_TASK_INPUT: '{"cluster":"c"}' });
    expect(result.status).to.equal(1);
    expect(result.stderr.trim()).to.equal('RUN_TASK_INPUT.taskDefinition must be a non-empty string');
    expect(result.stdout).to.equal('');
  });

  it('check-rollout exits 1 with the reason when its input is missing', () => {
    const result = run(commands.checkRollout, {});
    expect(result.status).to.equal(1);
    expect(result.stderr.trim()).to.equal('CHECK_ROLLOUT_INPUT must be JSON with cluster, service, taskDefinition and timeoutSeconds');
  });

  it('publish-image exits 1 and prints nothing on stdout (its stdout is the image reference) when its input is missing', () => {
    const result = run(commands.publish, {});
    expect(result.status).to.equal(1);
    expect(result.stderr.trim()).to.equal('PUBLISH_IMAGE_INPUT is required (JSON)');
    expect(result.stdout).to.equal('');
  });
});
