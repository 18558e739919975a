import { DescribeServicesCommand, ECSClient, type Deployment } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { expect } from 'chai';
import { parseRolloutInput } from '../cli/check-rollout.js';
import { RolloutError, verifyRollout, type RolloutInput } from '../ecs-rollout-check.js';

const NEW = 'arn:aws:ecs:us-east-1:123456789012:task-definition/chapi-api:8';
const OLD = 'arn:aws:ecs:us-east-1:123456789012:task-definition/chapi-api:7';
const input: RolloutInput = { cluster: 'chapi', service: 'chapi-api', taskDefinition: NEW, timeoutSeconds: 60 };
const FAST = { minDelaySeconds: 0.001, maxDelaySeconds: 0.002 };
const serviceWith = (deployments: Deployment[], events: string[] = []) => ({
  services: [
    {
      serviceName: 'chapi-api',
      status: 'ACTIVE',
      desiredCount: 2,
      runningCount: 2,
      deployments,
      events: events.map((message) => ({ message })),
    },
  ],
});

/**
 * The one question every look at the service must ask: this service, in this cluster. The mocks
 * answer only calls with exactly this input and refuse any other, so a waiter or a look-up
 * pointed at another service fails the test.
 */
const DESCRIBE_THIS_SERVICE = { cluster: input.cluster, services: [input.service] };

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('checking a rollout', () => {
  const ecs = mockClient(ECSClient);
  const client = new ECSClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const describeService = () => ecs.on(DescribeServicesCommand, DESCRIBE_THIS_SERVICE, true);
  beforeEach(() => {
    ecs.reset();
    // Any other call is refused at once, rather than answered with nothing for the waiter to
    // poll until it times out.
    ecs.onAnyCommand().rejects(new Error('an ECS call this test did not expect'));
  });

  it('passes when the primary deployment runs the requested revision and completed', async () => {
    describeService().resolves(serviceWith([{ status: 'PRIMARY', taskDefinition: NEW, rolloutState: 'COMPLETED' }]));
    await verifyRollout(client, input, FAST);
    expect(ecs.commandCalls(DescribeServicesCommand)).to.have.length(1);
  });

  it('fails when the circuit breaker rolled back to the previous revision, quoting the events', async () => {
    describeService().resolves(
      serviceWith(
        [{ status: 'PRIMARY', taskDefinition: OLD, rolloutState: 'COMPLETED' }],
        ['(service chapi-api) rolling back to deployment ecs-svc/1', '(service chapi-api) deployment failed: tasks failed to start'],
      ),
    );
    const error = await rejection(verifyRollout(client, input, FAST));
    expect(error).to.be.instanceOf(RolloutError);
    expect(error.message).to.include(`the service runs ${OLD}, not ${NEW}: the deployment circuit breaker rolled it back`);
    expect(error.message).to.include('rolling back to deployment ecs-svc/1 | (service chapi-api) deployment failed');
  });

  it('fails when the rollout of the requested revision failed', async () => {
    describeService().resolves(
      serviceWith([{ status: 'PRIMARY', taskDefinition: NEW, rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' }]),
    );
    const error = await rejection(verifyRollout(client, input, FAST));
    expect(error.message).to.include(`the rollout of ${NEW} is FAILED (ECS deployment circuit breaker: tasks failed to start.)`);
  });

  it('waits for a rollout still in progress, then judges its end', async () => {
    const inProgress = serviceWith([
      { status: 'PRIMARY', taskDefinition: NEW, rolloutState: 'IN_PROGRESS', desiredCount: 2, runningCount: 1 },
      { status: 'ACTIVE', taskDefinition: OLD, desiredCount: 0, runningCount: 2 },
    ]);
    const done = serviceWith([{ status: 'PRIMARY', taskDefinition: NEW, rolloutState: 'COMPLETED', desiredCount: 2, runningCount: 2 }]);
    describeService().resolvesOnce(inProgress).resolvesOnce(inProgress).resolvesOnce(inProgress).resolves(done);
    // A short wait: four polls take milliseconds, and a waiter asking about the wrong service
    // (refused every time) gives up in 2 s rather than the input's 60.
    await verifyRollout(client, { ...input, timeoutSeconds: 2 }, FAST);
    expect(ecs.commandCalls(DescribeServicesCommand).length).to.be.at.least(4);
  });

  it('reads its input from CHECK_ROLLOUT_INPUT', () => {
    expect(parseRolloutInput(JSON.stringify(input))).to.deep.equal(input);
    expect(() => parseRolloutInput(undefined)).to.throw('CHECK_ROLLOUT_INPUT must be JSON');
    expect(() => parseRolloutInput(JSON.stringify({ ...input, service: '' }))).to.throw('CHECK_ROLLOUT_INPUT must be JSON');
  });
});
