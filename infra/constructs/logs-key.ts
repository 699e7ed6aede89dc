/**
 * The customer-managed KMS key of the Lambda log groups (and of a construct's other log groups): one that
 * CloudWatch Logs may use for the log groups of this account and region only.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/**
 * Creates a customer-managed KMS key (rotation on) that CloudWatch Logs may use for log groups of
 * this account and region only. Share one across the functions of a construct.
 */
export function createLogsKey(scope: Construct, id: string): Key {
  const key = new Key(scope, id, {
    enableKeyRotation: true,
    description: 'replica-sentinel: encrypts Lambda log groups',
  });
  const stack = Stack.of(key);
  // CloudWatch Logs encrypts with the caller-independent service principal; the encryption context
  // condition keeps the key usable only for log groups in this account and region.
  key.addToResourcePolicy(
    new PolicyStatement({
      principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
  return key;
}
