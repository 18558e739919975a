/**
 * Runs one ECS task to completion, the way `copilot task run --follow` does: start it, wait
 * until it has STOPPED (not merely RUNNING: a migration with nothing to do exits between two
 * polls), then let the container's exit code decide. Every failure names the CloudWatch log
 * stream to read.
 *
 * Pure logic over an injected ECS client, so the tests drive it with aws-sdk-client-mock;
 * `infra/cli/run-task.ts` is the command-line entry that the migration resource runs.
 */
import {
  DescribeTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  waitUntilTasksStopped,
  type ECSClient,
  type Task,
} from '@aws-sdk/client-ecs';

/** What to run and where: the same network and logs as the service. */
export interface RunTaskInput {
  cluster: string;
  /** Task definition ARN (a pinned revision, so the task runs exactly the deployed image). */
  taskDefinition: string;
  /** The container whose exit code decides, and whose log stream is named on failure. */
  containerName: string;
  subnets: string[];
  securityGroups: string[];
  /** Only in the no-NAT network mode, where tasks need a public IP to reach the internet. */
  assignPublicIp: boolean;
  /** The awslogs group and stream prefix of the task definition. */
  logGroup: string;
  logStreamPrefix: string;
  /** The task must stop within this long; after it, the task is stopped and the run fails. */
  timeoutSeconds: number;
  /** Shown in the ECS console's "started by" column. @default 'chapi-deploy' */
  startedBy?: string;
}

/**
 * How often to ask ECS whether the task stopped, seconds (the SDK waiter backs off from
 * min to max with jitter). ECS's own default is 6 s; a migration takes 20–60 s of which
 * most is the image pull, so polling every 3..15 s finds the end promptly.
 */
export interface PollOptions {
  minDelaySeconds: number;
  maxDelaySeconds: number;
}
export const DEFAULT_POLL: PollOptions = { minDelaySeconds: 3, maxDelaySeconds: 15 };

export interface RunTaskResult {
  taskArn: string;
  exitCode: number;
  /** `group stream` of the container's logs. */
  logs: string;
}

/** Why a run failed: it never started, it exited non-zero, or it did not stop in time. */
export type TaskRunFailure = 'failed-to-start' | 'non-zero-exit' | 'timeout';

/** A failed run; the message names the log stream. */
export class TaskRunError extends Error {
  override name = 'TaskRunError';
  readonly failure: TaskRunFailure;
  /** `group stream` to read, when the task got far enough to have one. */
  readonly logs: string | undefined;
  constructor(failure: TaskRunFailure, message: string, logs?: string) {
    super(logs === undefined ? message : `${message}; logs: ${logs}`);
    this.failure = failure;
    this.logs = logs;
  }
}

/** The awslogs driver names a stream `prefix/container/task-id`. */
export function logStreamName(prefix: string, containerName: string, taskArn: string): string {
  const taskId = taskArn.split('/').at(-1) ?? taskArn;
  return `${prefix}/${containerName}/${taskId}`;
}

async function describe(ecs: ECSClient, cluster: string, taskArn: string): Promise<Task | undefined> {
  const { tasks } = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }));
  return tasks?.[0];
}

/**
 * Starts the task and waits for it to stop.
 * @returns the task's ARN, its container's exit code (always 0) and its log stream.
 * @throws TaskRunError when the task fails to start, exits non-zero, or outlives the timeout.
 */
export async function runTaskToCompletion(
  ecs: ECSClient,
  input: RunTaskInput,
  poll: PollOptions = DEFAULT_POLL,
): Promise<RunTaskResult> {
  const started = await ecs.send(
    new RunTaskCommand({
      cluster: input.cluster,
      taskDefinition: input.taskDefinition,
      launchType: 'FARGATE',
      count: 1,
      startedBy: input.startedBy ?? 'chapi-deploy',
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: input.subnets,
          securityGroups: input.securityGroups,
          assignPublicIp: input.assignPublicIp ? 'ENABLED' : 'DISABLED',
        },
      },
    }),
  );
  const taskArn = started.tasks?.[0]?.taskArn;
  if (taskArn === undefined) {
    const reasons = (started.failures ?? []).map((f) => [f.reason, f.detail].filter(Boolean).join(': '));
    throw new TaskRunError('failed-to-start', `task ${input.taskDefinition} failed to start: ${reasons.join('; ') || 'no task returned'}`);
  }
  const logs = `${input.logGroup} ${logStreamName(input.logStreamPrefix, input.containerName, taskArn)}`;

  try {
    await waitUntilTasksStopped(
      { client: ecs, maxWaitTime: input.timeoutSeconds, minDelay: poll.minDelaySeconds, maxDelay: poll.maxDelaySeconds },
      { cluster: input.cluster, tasks: [taskArn] },
    );
  } catch (error) {
    // Timed out (or the waiter gave up): stop the task so it cannot finish half-way later.
    await ecs.send(new StopTaskCommand({ cluster: input.cluster, task: taskArn, reason: 'chapi deploy: timed out' }));
    const why = error instanceof Error && error.name === 'TimeoutError' ? `did not stop within ${input.timeoutSeconds} s` : `could not be watched (${String(error)})`;
    throw new TaskRunError('timeout', `task ${taskArn} ${why}; it was stopped`, logs);
  }

  const task = await describe(ecs, input.cluster, taskArn);
  const container = task?.containers?.find((c) => c.name === input.containerName);
  const exitCode = container?.exitCode;
  if (exitCode === undefined) {
    // Stopped without running the command: image pull, secrets or network failed.
    const reason = [task?.stopCode, task?.stoppedReason, container?.reason].filter(Boolean).join(': ');
    throw new TaskRunError('failed-to-start', `task ${taskArn} stopped before its command ran: ${reason || 'no reason given'}`, logs);
  }
  if (exitCode !== 0) {
    throw new TaskRunError('non-zero-exit', `task ${taskArn} exited with code ${exitCode}`, logs);
  }
  return { taskArn, exitCode, logs };
}
