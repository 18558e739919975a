import { expect } from 'chai';
import { MOCK_IMAGE_REF } from '../mock-cloud.js';
import { MIGRATIONS_HASH, prodStack, recordStack, T, type ContainerDefinition, type Stack } from './support.js';

const COMPONENT = 'chapi:migration:Migration chapi-migration';

describe('migration', () => {
  let stack: Stack;
  before(async () => {
    stack = await prodStack();
  });

  it('is one component that owns its execution role, its task definition and the run', () => {
    expect(stack.one('chapi:migration:Migration', 'chapi-migration').parent).to.equal('chapi:service:ApiService chapi');
    expect(stack.one(T.role, 'chapi-migrate-execution').parent).to.equal(COMPONENT);
    expect(stack.one(T.taskDefinition, 'chapi-migrate').parent).to.equal(COMPONENT);
    expect(stack.one(T.command, 'chapi-migration').parent).to.equal(COMPONENT);
  });

  it('runs the command the module exports (the image test runs the same one)', async () => {
    const { MIGRATION_COMMAND } = await import('../migration.js');
    const [container] = stack.json<ContainerDefinition[]>(T.taskDefinition, 'chapi-migrate', 'containerDefinitions');
    expect(container?.command).to.deep.equal([...MIGRATION_COMMAND]);
  });

  it('is a command resource that runs the migration task and waits for it (no apply side effects)', () => {
    const run = stack.one(T.command, 'chapi-migration');
    expect(run.inputs.create).to.equal('node --import tsx infra/cli/run-task.ts');
    // No update or delete command: a change reruns create; removing the resource runs nothing.
    expect(run.inputs).not.to.have.any.keys('update', 'delete');
  });

  it('runs the migration task definition in the service network, with its logs and timeout', () => {
    const environment = stack.one(T.command, 'chapi-migration').inputs.environment as Record<string, string>;
    expect(environment.AWS_REGION).to.equal('us-east-1');
    expect(JSON.parse(environment.RUN_TASK_INPUT as string)).to.deep.equal({
      cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/chapi-cluster',
      taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/chapi-migrate:1',
      containerName: 'migrate',
      subnets: ['subnet-private-a', 'subnet-private-b'],
      securityGroups: ['chapi-tasks-id'],
      assignPublicIp: false,
      logGroup: '/ecs/task-api',
      logStreamPrefix: 'migrate',
      timeoutSeconds: 600,
    });
  });

  it('reruns on a new image, new migrations, or a new version of a secret it syncs', () => {
    expect(stack.one(T.command, 'chapi-migration').inputs.triggers).to.deep.equal([
      MOCK_IMAGE_REF,
      MIGRATIONS_HASH,
      'version-chapi-migration-database-url',
      'version-chapi-service-api-keys',
    ]);
  });

  it('follows the migration timeout from config, which reaches it from the config and nowhere else', async () => {
    const slow = await recordStack({ migrationTimeout: '20 minutes' });
    const environment = slow.one(T.command, 'chapi-migration').inputs.environment as Record<string, string>;
    expect(JSON.parse(environment.RUN_TASK_INPUT as string)).to.include({ timeoutSeconds: 1200 });
    // The service component knows nothing of the migration's settings.
    const { readFileSync } = await import('node:fs');
    const service = readFileSync(new URL('../service.ts', import.meta.url), 'utf8');
    expect(service).not.to.match(/migration\w*timeout|timeout\w*migration/i);
  });

  it('is what the service waits for', () => {
    expect(stack.one(T.service, 'chapi-api').dependsOn).to.include(COMPONENT);
  });
});
