/**
 * The Task that invokes runbook-steps from a runbook state machine: CDK's `LambdaInvoke` with a narrower grant
 * and without its own retry.
 */
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LambdaInvoke, type LambdaInvokeProps } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * `LambdaInvoke` with a narrower grant. LambdaInvoke grants `lambda:InvokeFunction` on the function and on
 * `<function>:*` (every version and alias; cdk-nag IAM5); the runbooks invoke the unqualified function, so
 * that is the only resource this grants. Its own retry of Lambda service errors is off: every runbook task
 * gets the contract's retry (functions/core/runbook.ts) instead.
 */
export class StepsInvoke extends LambdaInvoke {
  protected override readonly taskPolicies: PolicyStatement[];

  constructor(scope: Construct, id: string, props: LambdaInvokeProps) {
    super(scope, id, { ...props, retryOnServiceExceptions: false });
    this.taskPolicies = [
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [props.lambdaFunction.functionArn],
      }),
    ];
  }
}
