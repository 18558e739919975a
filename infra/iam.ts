/**
 * Shared IAM shapes of the program.
 */
import type * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

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
