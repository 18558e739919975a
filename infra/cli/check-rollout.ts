/**
 * `node --import tsx infra/cli/check-rollout.ts`: fails when the service did not end its
 * rollout on the requested task definition (see `infra/ecs-rollout-check.ts`). Run by the
 * service's rollout check resource after each service update, with `CHECK_ROLLOUT_INPUT`
 * (JSON: cluster, service, taskDefinition, timeoutSeconds) and `AWS_REGION`.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { pathToFileURL } from 'node:url';
import { DEFAULT_POLL } from '../ecs-run-task.js';
import { verifyRollout, type RolloutInput } from '../ecs-rollout-check.js';

/** Parses and checks `CHECK_ROLLOUT_INPUT`. */
export function parseRolloutInput(json: string | undefined): RolloutInput {
  let value: Partial<RolloutInput> | undefined;
  try {
    value = json === undefined ? undefined : (JSON.parse(json) as Partial<RolloutInput>);
  } catch {
    value = undefined;
  }
  const complete =
    value !== undefined &&
    [value.cluster, value.service, value.taskDefinition].every((field) => typeof field === 'string' && field !== '') &&
    typeof value.timeoutSeconds === 'number' &&
    value.timeoutSeconds > 0;
  if (!complete) throw new Error('CHECK_ROLLOUT_INPUT must be JSON with cluster, service, taskDefinition and timeoutSeconds');
  return value as RolloutInput;
}

async function main(): Promise<void> {
  const input = parseRolloutInput(process.env.CHECK_ROLLOUT_INPUT);
  await verifyRollout(new ECSClient({ region: process.env.AWS_REGION }), input, DEFAULT_POLL);
  console.log(`${input.service} runs ${input.taskDefinition}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
