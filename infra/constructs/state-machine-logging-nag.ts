import { Validations } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';

/**
 * The cdk-nag acknowledgement every state machine's role needs: Step Functions' logging and tracing actions
 * have no resource-level permissions, so CDK grants them on "*".
 */
export function acknowledgeLoggingWildcard(role: IRole): void {
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'Only what Step Functions needs for logging and tracing uses "*": the CloudWatch Logs log-delivery actions ' +
      '(logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, ' +
      'DescribeResourcePolicies, DescribeLogGroups), which have no resource-level permissions, and the X-Ray actions ' +
      '(PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets), which have none either.',
  });
}
