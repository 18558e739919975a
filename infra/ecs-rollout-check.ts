/**
 * Checks that a service rollout really completed on the requested task definition.
 *
 * Why: the ECS service resource waits for a steady state, and a deployment the circuit breaker
 * rolled back also ends in a steady state — on the *previous* revision — so `pulumi up` would
 * report success for a failed deploy (hashicorp/terraform-provider-aws#20858). This check
 * runs after the service update and fails the deploy when the primary deployment is not the
 * requested revision or its rollout failed, with the service's latest events as the reason.
 *
 * Pure logic over an injected ECS client; `infra/cli/check-rollout.ts` is the entry.
 */
import { DescribeServicesCommand, waitUntilServicesStable, type ECSClient } from '@aws-sdk/client-ecs';
import type { PollOptions } from './ecs-run-task.js';

export interface RolloutInput {
  cluster: string;
  service: string;
  /** The task definition revision this deploy asked for. */
  taskDefinition: string;
  /** How long to wait for a rollout still in progress, seconds. */
  timeoutSeconds: number;
}

/** The deploy did not end on the requested revision. */
export class RolloutError extends Error {
  override name = 'RolloutError';
}

/** How many of the service's latest events to quote in a failure. */
const EVENTS_SHOWN = 3;

async function describe(ecs: ECSClient, input: RolloutInput) {
  const { services } = await ecs.send(new DescribeServicesCommand({ cluster: input.cluster, services: [input.service] }));
  const service = services?.[0];
  if (service === undefined) throw new RolloutError(`service ${input.service} not found in ${input.cluster}`);
  return service;
}

/**
 * Resolves when the primary deployment runs `taskDefinition` and its rollout completed.
 * @throws RolloutError when the circuit breaker rolled back or the rollout failed.
 */
export async function verifyRollout(ecs: ECSClient, input: RolloutInput, poll: PollOptions): Promise<void> {
  let service = await describe(ecs, input);
  const primary = () => service.deployments?.find((deployment) => deployment.status === 'PRIMARY');
  if (primary()?.rolloutState === 'IN_PROGRESS') {
    await waitUntilServicesStable(
      { client: ecs, maxWaitTime: input.timeoutSeconds, minDelay: poll.minDelaySeconds, maxDelay: poll.maxDelaySeconds },
      { cluster: input.cluster, services: [input.service] },
    );
    service = await describe(ecs, input);
  }
  const deployment = primary();
  const events = (service.events ?? [])
    .slice(0, EVENTS_SHOWN)
    .map((event) => event.message)
    .filter(Boolean)
    .join(' | ');
  if (deployment?.taskDefinition !== input.taskDefinition) {
    throw new RolloutError(
      `the service runs ${deployment?.taskDefinition ?? 'no deployment'}, not ${input.taskDefinition}: the deployment circuit breaker rolled it back. Latest events: ${events || 'none'}`,
    );
  }
  if (deployment.rolloutState !== 'COMPLETED') {
    throw new RolloutError(
      `the rollout of ${input.taskDefinition} is ${deployment.rolloutState ?? 'in an unknown state'}${deployment.rolloutStateReason ? ` (${deployment.rolloutStateReason})` : ''}. Latest events: ${events || 'none'}`,
    );
  }
}
