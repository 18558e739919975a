/**
 * Shared IAM shapes of the program.
 */
import type * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { WORKLOAD_BOUNDARY_NAME } from './bootstrap/settings.js';

/**
 * The permissions boundary of every role the program creates: a managed policy the bootstrap
 * stack makes (infra/bootstrap), named the same in every account. The deploy role may create
 * and change roles only with it attached.
 */
export function workloadBoundaryArn(accountId: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.interpolate`arn:aws:iam::${accountId}:policy/${WORKLOAD_BOUNDARY_NAME}`;
}

/**
 * A role trust policy for an AWS service principal, limited to requests made on behalf of
 * this account (`aws:SourceAccount`): the cross-service confused-deputy guard AWS recommends.
 *
 * @example
 * assumeRolePolicy: serviceTrustPolicy('ecs-tasks.amazonaws.com', identity.accountId)
 */
export function serviceTrustPolicy(service: string, accountId: pulumi.Input<string>): pulumi.Output<aws.iam.PolicyDocument> {
  return pulumi.output(accountId).apply(
    (account): aws.iam.PolicyDocument => ({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: service },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': account } },
        },
      ],
    }),
  );
}
