/**
 * `node --import tsx infra/cli/run-task.ts`: runs one ECS task to completion (see
 * `infra/ecs-run-task.ts`). The migration resource (`infra/migration.ts`) runs it during
 * `pulumi up` with the task described in `RUN_TASK_INPUT` (JSON) and `AWS_REGION`; a non-zero
 * exit fails the resource, and with it the deploy, before the service rolls.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { pathToFileURL } from 'node:url';
import { runTaskToCompletion, type RunTaskInput } from '../ecs-run-task.js';

/** Thrown for a malformed `RUN_TASK_INPUT`: a bug in the program, never an operator's input. */
export class RunTaskInputError extends Error {
  override name = 'RunTaskInputError';
}

const STRING_FIELDS = ['cluster', 'taskDefinition', 'containerName', 'logGroup', 'logStreamPrefix'] as const;

/** Parses and checks `RUN_TASK_INPUT`. */
export function parseRunTaskInput(json: string | undefined): RunTaskInput {
  if (json === undefined || json === '') throw new RunTaskInputError('RUN_TASK_INPUT is required (JSON)');
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new RunTaskInputError('RUN_TASK_INPUT is not valid JSON');
  }
  for (const field of STRING_FIELDS) {
    if (typeof value[field] !== 'string' || value[field] === '') throw new RunTaskInputError(`RUN_TASK_INPUT.${field} must be a non-empty string`);
  }
  for (const field of ['subnets', 'securityGroups'] as const) {
    const list = value[field];
    if (!Array.isArray(list) || list.length === 0 || !list.every((item) => typeof item === 'string')) {
      throw new RunTaskInputError(`RUN_TASK_INPUT.${field} must be a non-empty list of ids`);
    }
  }
  if (typeof value.assignPublicIp !== 'boolean') throw new RunTaskInputError('RUN_TASK_INPUT.assignPublicIp must be true or false');
  if (typeof value.timeoutSeconds !== 'number' || !(value.timeoutSeconds > 0)) {
    throw new RunTaskInputError('RUN_TASK_INPUT.timeoutSeconds must be a positive number');
  }
  return value as unknown as RunTaskInput;
}

async function main(): Promise<void> {
  const input = parseRunTaskInput(process.env.RUN_TASK_INPUT);
  const ecs = new ECSClient({ region: process.env.AWS_REGION });
  console.log(`running ${input.taskDefinition} on ${input.cluster} (timeout ${input.timeoutSeconds} s)`);
  const result = await runTaskToCompletion(ecs, input);
  console.log(`task ${result.taskArn} exited 0; logs: ${result.logs}`);
}

// Run only as a command, not when a test imports the parser.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
