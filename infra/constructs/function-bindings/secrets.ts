/**
 * {@link SentinelFunction}'s bindings to Secrets Manager: the secrets a function may read (by complete ARN, or
 * by name prefix for secrets not known at synth) and `kms:Decrypt` on their keys through Secrets Manager only.
 */
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { SentinelFunction } from '../sentinel-function';

/** A secret a function may read: its complete ARN and, when it has one, its customer-managed KMS key. */
export interface SecretGrant {
  readonly arn: string;
  readonly keyArn?: string;
}

/** {@link SentinelFunction.bindSecret}: see there. */
export function bindSecret(
  target: SentinelFunction,
  variable: string,
  secret: ISecret,
  description: string,
): void {
  const arn = secret.secretFullArn;
  if (arn === undefined) {
    throw new Error(
      `${target.node.path}: ${description} needs its complete ARN (with the 6-character suffix) ` +
        'so that the grant names exactly one secret',
    );
  }
  target.fn.addEnvironment(variable, arn);
  bindSecretValues(target, [{ arn, keyArn: secret.encryptionKey?.keyArn }]);
}

/** {@link SentinelFunction.bindSecretValues}: see there. */
export function bindSecretValues(target: SentinelFunction, secrets: readonly SecretGrant[]): void {
  const arns = [...new Set(secrets.map((secret) => secret.arn))];
  if (arns.length === 0) return;
  target.role.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: arns }),
  );
  bindSecretKeys(
    target,
    secrets.flatMap((secret) => secret.keyArn ?? []),
  );
}

/** {@link SentinelFunction.bindSecretsNamed}: see there. */
export function bindSecretsNamed(target: SentinelFunction, prefix: string, keyArns: readonly string[]): void {
  const stack = Stack.of(target);
  target.role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['secretsmanager:GetSecretValue'],
      resources: [
        stack.formatArn({
          service: 'secretsmanager',
          resource: 'secret',
          resourceName: `${prefix}*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    }),
  );
  Validations.of(target.role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${stack.region}:<AWS::AccountId>:secret:${prefix}*]`,
    reason:
      `Secrets of clusters applied with watch --stack are not known at synth: the function may read the secrets ` +
      `whose name starts with ${prefix} (a documented naming convention, context value clusterSecretNamePrefix), ` +
      'in this account and region, and nothing else by pattern.',
  });
  bindSecretKeys(target, keyArns);
}

/** `kms:Decrypt` on these keys, only through Secrets Manager in this region. */
function bindSecretKeys(target: SentinelFunction, keyArns: readonly string[]): void {
  const unique = [...new Set(keyArns)];
  if (unique.length === 0) return;
  target.role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: unique,
      conditions: {
        StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(target).region}.amazonaws.com` },
      },
    }),
  );
}
