/**
 * {@link SentinelFunction}'s bindings to Step Functions state machines: starting their executions, answering
 * their callback tasks' task tokens, and seeing and stopping their executions.
 */
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { SentinelFunction } from '../sentinel-function';

/** The state machines of {@link SentinelFunction.bindExecutionControl}, by runbook name, each with its name. */
export type ExecutionControlTargets = Readonly<
  Record<string, { readonly stateMachine: IStateMachine; readonly name: string }>
>;

/** {@link SentinelFunction.bindStateMachines}: see there. */
export function bindStateMachines(
  target: SentinelFunction,
  stateMachines: Readonly<Record<string, IStateMachine>>,
): void {
  for (const [variable, stateMachine] of Object.entries(stateMachines)) {
    target.fn.addEnvironment(variable, stateMachine.stateMachineArn);
    target.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [stateMachine.stateMachineArn],
      }),
    );
  }
}

/** {@link SentinelFunction.bindTaskResponses}: see there. */
export function bindTaskResponses(target: SentinelFunction, stateMachines: readonly IStateMachine[]): void {
  if (stateMachines.length === 0) return;
  target.role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
      resources: stateMachines.map((stateMachine) => stateMachine.stateMachineArn),
    }),
  );
}

/** {@link SentinelFunction.bindExecutionControl}: see there. */
export function bindExecutionControl(target: SentinelFunction, stateMachines: ExecutionControlTargets): void {
  const stack = Stack.of(target);
  target.fn.addEnvironment(
    'RUNBOOK_STATE_MACHINE_ARNS',
    stack.toJsonString(
      Object.fromEntries(
        Object.entries(stateMachines).map(([runbook, sm]) => [runbook, sm.stateMachine.stateMachineArn]),
      ),
    ),
  );
  const executions = Object.values(stateMachines).map(({ name }) =>
    stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${name}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    }),
  );
  target.role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['states:DescribeExecution', 'states:StopExecution'],
      resources: executions,
    }),
  );
  for (const arn of executions) {
    Validations.of(target.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${arn.replace(/\$\{Token\[AWS\.(\w+)\.\d+\]\}/g, '<AWS::$1>')}]`,
      reason:
        'DescribeExecution and StopExecution on the executions of one runbook state machine: an execution is named by ' +
        'its incident id at run time, so the grant names the state machine and leaves the execution name open.',
    });
  }
}
