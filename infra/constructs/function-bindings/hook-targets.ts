/**
 * {@link SentinelFunction}'s bindings to what recovery hooks run: Lambda functions to invoke, SSM Automation
 * documents to start, and the IAM roles those automations run as.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { SentinelFunction } from '../sentinel-function';

/** {@link SentinelFunction.bindInvokeFunctions}: see there. */
export function bindInvokeFunctions(target: SentinelFunction, functionArns: readonly string[]): void {
  if (functionArns.length === 0) return;
  target.role.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [...functionArns] }),
  );
}

/** {@link SentinelFunction.bindAutomationDocuments}: see there. */
export function bindAutomationDocuments(target: SentinelFunction, documentNames: readonly string[]): void {
  if (documentNames.length === 0) return;
  const stack = Stack.of(target);
  const arn = (resource: string, name: string, resourceName: string) =>
    stack.formatArn({
      service: 'ssm',
      resource,
      resourceName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      ...(/^(aws|amazon|amzn)/i.test(name) ? { account: '' } : {}),
    });
  target.role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['ssm:StartAutomationExecution'],
      resources: documentNames.flatMap((name) => [
        arn('document', name, name),
        arn('automation-definition', name, `${name}:$DEFAULT`),
      ]),
    }),
  );
}

/** {@link SentinelFunction.bindAutomationRoles}: see there. */
export function bindAutomationRoles(target: SentinelFunction, roleArns: readonly string[]): void {
  if (roleArns.length === 0) return;
  target.role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [...roleArns],
      conditions: { StringEquals: { 'iam:PassedToService': 'ssm.amazonaws.com' } },
    }),
  );
}
