/**
 * `UnqualifiedLambdaInvoke`: the Task with which a state machine of this stack (the sweep machine, the
 * runbooks) invokes one of its functions, granted on the unqualified function only and without CDK's retry.
 */
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LambdaInvoke, type LambdaInvokeProps } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * `LambdaInvoke` with a narrower grant: LambdaInvoke grants `lambda:InvokeFunction` on the function and on
 * `<function>:*` (every version and alias; cdk-nag IAM5). The state machines invoke the unqualified
 * function, so that is the only resource this grants. Its own retry of Lambda service errors is off: each
 * state machine retries its way instead (the sweep machine within its window, every runbook task with the
 * contract's retry, functions/core/runbook.ts).
 */
export class UnqualifiedLambdaInvoke extends LambdaInvoke {
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
