import { DescribeTasksCommand, ECSClient, RunTaskCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { expect } from 'chai';
import { parseRunTaskInput, RunTaskInputError } from '../cli/run-task.js';
import { logStreamName, runTaskToCompletion, TaskRunError, type PollOptions, type RunTaskInput } from '../ecs-run-task.js';

const TASK_ARN = 'arn:aws:ecs:us-east-1:123456789012:task/chapi/0123456789abcdef0123456789abcdef';
const LOGS = '/ecs/task-api migrate/migrate/0123456789abcdef0123456789abcdef';
const input: RunTaskInput = {
  cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/chapi',
  taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/chapi-migrate:7',
  containerName: 'migrate',
  subnets: ['subnet-a', 'subnet-b'],
  securityGroups: ['sg-tasks'],
  assignPublicIp: false,
  logGroup: '/ecs/task-api',
  logStreamPrefix: 'migrate',
  timeoutSeconds: 60,
};
/** Polls as fast as the SDK waiter allows: the tests count calls, never time. */
const FAST: PollOptions = { minDelaySeconds: 0.001, maxDelaySeconds: 0.002 };

const task = (lastStatus: string, container: Record<string, unknown> = {}, extra: Partial<Task> = {}): Task => ({
  taskArn: TASK_ARN,
  lastStatus,
  containers: [{ name: 'migrate', ...container }],
  ...extra,
});

/**
 * What every look at the task must ask for: this task, in this cluster. The mocks answer only
 * calls with exactly this input (aws-sdk-client-mock resolves an unmatched call to nothing), so
 * a look-up of anything else (the task definition, another cluster) fails the test instead of
 * being answered as if ECS had found the task.
 */
const DESCRIBE_THIS_TASK = { cluster: input.cluster, tasks: [TASK_ARN] };
const STOP_THIS_TASK = { cluster: input.cluster, task: TASK_ARN };

async function failure(promise: Promise<unknown>): Promise<TaskRunError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(TaskRunError);
    return error as TaskRunError;
  }
  throw new Error('expected the run to fail');
}

describe('running a task to completion', () => {
  const ecs = mockClient(ECSClient);
  const client = new ECSClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const describeTask = () => ecs.on(DescribeTasksCommand, DESCRIBE_THIS_TASK, true);
  beforeEach(() => {
    ecs.reset();
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK_ARN, lastStatus: 'PROVISIONING' }], failures: [] });
  });

  it('starts the task in the given network and waits through RUNNING until it has STOPPED with exit 0', async () => {
    describeTask()
      .resolvesOnce({ tasks: [task('PROVISIONING')] })
      .resolvesOnce({ tasks: [task('RUNNING')] })
      .resolvesOnce({ tasks: [task('RUNNING')] })
      .resolves({ tasks: [task('STOPPED', { exitCode: 0 })] });
    const result = await runTaskToCompletion(client, input, FAST);
    expect(result).to.deep.equal({ taskArn: TASK_ARN, exitCode: 0, logs: LOGS });
    const [run] = ecs.commandCalls(RunTaskCommand);
    expect(run?.args[0].input).to.deep.include({
      cluster: input.cluster,
      taskDefinition: input.taskDefinition,
      launchType: 'FARGATE',
      count: 1,
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-tasks'], assignPublicIp: 'DISABLED' } },
    });
    // Did not stop at RUNNING: it kept asking until STOPPED.
    expect(ecs.commandCalls(DescribeTasksCommand).length).to.be.at.least(4);
    expect(ecs.commandCalls(StopTaskCommand)).to.have.length(0);
  });

  it('succeeds when the task has already stopped at the first look (a fast no-op migration)', async () => {
    describeTask().resolves({ tasks: [task('STOPPED', { exitCode: 0 })] });
    const result = await runTaskToCompletion(client, input, FAST);
    expect(result.exitCode).to.equal(0);
  });

  it('fails on a non-zero exit code, naming the log stream', async () => {
    describeTask().resolves({ tasks: [task('STOPPED', { exitCode: 1 })] });
    const error = await failure(runTaskToCompletion(client, input, FAST));
    expect(error.failure).to.equal('non-zero-exit');
    expect(error.message).to.equal(`task ${TASK_ARN} exited with code 1; logs: ${LOGS}`);
  });

  it('fails when ECS cannot place the task', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:ENI', detail: 'no free addresses' }] });
    const error = await failure(runTaskToCompletion(client, input, FAST));
    expect(error.failure).to.equal('failed-to-start');
    expect(error.message).to.include('failed to start: RESOURCE:ENI: no free addresses');
    expect(ecs.commandCalls(DescribeTasksCommand)).to.have.length(0);
  });

  it('fails when the task stops before its command ran (image pull, secrets), with the reason', async () => {
    describeTask().resolves({
      tasks: [
        task('STOPPED', { reason: 'ResourceInitializationError: unable to pull secrets' }, {
          stopCode: 'TaskFailedToStart',
          stoppedReason: 'Task failed to start',
        }),
      ],
    });
    const error = await failure(runTaskToCompletion(client, input, FAST));
    expect(error.failure).to.equal('failed-to-start');
    expect(error.message).to.include('stopped before its command ran: TaskFailedToStart: Task failed to start: ResourceInitializationError');
    expect(error.logs).to.equal(LOGS);
  });

  it('stops the task and fails when it outlives the timeout', async () => {
    describeTask().resolves({ tasks: [task('RUNNING')] });
    ecs.on(StopTaskCommand, STOP_THIS_TASK).resolves({});
    const error = await failure(runTaskToCompletion(client, { ...input, timeoutSeconds: 0.05 }, FAST));
    expect(error.failure).to.equal('timeout');
    expect(error.message).to.equal(`task ${TASK_ARN} did not stop within 0.05 s; it was stopped; logs: ${LOGS}`);
    expect(ecs.commandCalls(StopTaskCommand, STOP_THIS_TASK)).to.have.length(1);
  });

  it('asks for a public IP only in the no-NAT mode', async () => {
    describeTask().resolves({ tasks: [task('STOPPED', { exitCode: 0 })] });
    await runTaskToCompletion(client, { ...input, assignPublicIp: true }, FAST);
    const [run] = ecs.commandCalls(RunTaskCommand);
    expect(run?.args[0].input.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).to.equal('ENABLED');
  });

  it('names log streams the way the awslogs driver does', () => {
    expect(logStreamName('api', 'api', 'arn:aws:ecs:us-east-1:1:task/chapi/abc')).to.equal('api/api/abc');
  });
});

describe('the run-task command input', () => {
  it('parses the JSON the migration resource writes', () => {
    expect(parseRunTaskInput(JSON.stringify(input))).to.deep.equal(input);
  });

  it('refuses a missing, malformed or incomplete input', () => {
    expect(() => parseRunTaskInput(undefined)).to.throw(RunTaskInputError, 'RUN_TASK_INPUT is required');
    expect(() => parseRunTaskInput('{')).to.throw(RunTaskInputError, 'not valid JSON');
    expect(() => parseRunTaskInput(JSON.stringify({ ...input, cluster: '' }))).to.throw(RunTaskInputError, 'RUN_TASK_INPUT.cluster');
    expect(() => parseRunTaskInput(JSON.stringify({ ...input, subnets: [] }))).to.throw(RunTaskInputError, 'RUN_TASK_INPUT.subnets');
    expect(() => parseRunTaskInput(JSON.stringify({ ...input, assignPublicIp: 'no' }))).to.throw(RunTaskInputError, 'assignPublicIp');
    expect(() => parseRunTaskInput(JSON.stringify({ ...input, timeoutSeconds: 0 }))).to.throw(RunTaskInputError, 'timeoutSeconds');
  });
});
