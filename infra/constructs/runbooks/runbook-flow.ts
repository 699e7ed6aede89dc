/**
 * `RunbookFlow`, the builder of a runbook's states (the runbook-steps Tasks, the approval task, the Choices on
 * what the steps return, the SSM wait loop), and the retry policy every one of its Tasks gets.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Choice,
  Condition,
  Fail,
  type IChainable,
  IntegrationPattern,
  JsonPath,
  Succeed,
  TaskInput,
  type TaskStateBase,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { RunbookAction } from '../../../functions/core/runbook';
import { routingComment } from '../../runbook-routing';
import { UnqualifiedLambdaInvoke } from '../unqualified-lambda-invoke';

/**
 * Errors every Task retries (2 s, backoff 2, 3 retries): Lambda's own transient failures, and
 * `TransientError` thrown by the runbook-steps function for a failure worth another try.
 */
export const TRANSIENT_ERRORS: readonly string[] = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'TransientError',
];

/**
 * Lambda runtime failures (a timed-out or crashed invocation) every Task retries, fewer times and slower
 * (5 s, backoff 2, 2 retries): every step is idempotent, so running one again is safe.
 */
export const RUNTIME_ERRORS: readonly string[] = ['Lambda.Unknown', 'Sandbox.Timedout', 'Runtime.ExitError'];

/** Transient errors of the `aws-sdk:ssm:getAutomationExecution` task (`Ssm.` + the SSM exception name). */
export const SSM_TRANSIENT_ERRORS: readonly string[] = [
  'Ssm.InternalServerErrorException',
  'Ssm.ThrottlingException',
];

/**
 * SSM Automation statuses that mean "not finished yet" (the SSM wait loop polls again); `Success` resumes
 * the runbook, anything else marks it failed.
 */
export const SSM_PENDING_STATUSES: readonly string[] = ['InProgress', 'Pending', 'Waiting'];

/** Seconds between two polls of an SSM Automation execution (the `WaitForSsm` state). */
export const SSM_POLL_SECONDS = 10;

/**
 * Builds the states of one runbook in its own scope (state names are construct ids): every Task invokes
 * runbook-steps with `{ action, state }`, its result replaces the state, and the flow branches only on
 * fields the steps set (`$.next`, `$.mode`, `$.resume`). Same retry and catch on every Task.
 */
export class RunbookFlow extends Construct {
  public readonly markFailed: TaskStateBase;
  public readonly done: Succeed;
  public readonly failed: Fail;
  private readonly stepsFunction: IFunction;

  constructor(scope: Construct, id: string, stepsFunction: IFunction) {
    super(scope, id);
    this.stepsFunction = stepsFunction;
    this.done = new Succeed(this, 'Done');
    this.failed = new Fail(this, 'Failed', {
      error: 'RunbookFailed',
      cause:
        'The runbook did not complete: the incident is marked FAILED and the lock is left held for a human ' +
        '(see the incident timeline and this execution history).',
    });
    // MarkFailed is the end of every failure path: no Catch of its own (an error in it fails the
    // execution with that error, which is more telling than Failed).
    this.markFailed = this.invoke('MarkFailed', 'markFailed', { catchToMarkFailed: false });
    this.markFailed.next(this.failed);
  }

  /** A Task that invokes runbook-steps with `{ action, state: $ }`; its result is the new state. */
  public task(name: string, action: RunbookAction): TaskStateBase {
    return this.invoke(name, action, { catchToMarkFailed: true });
  }

  /**
   * The RequestApproval task: `lambda:invoke.waitForTaskToken` with `{ action, state, taskToken }`, its
   * timeout from `$.approvalTimeoutSeconds`, the decision (SendTaskSuccess output) placed at `$.approval`;
   * States.Timeout goes to `expired` with the state unchanged, any other error to MarkFailed.
   */
  public approvalTask(expired: IChainable): TaskStateBase {
    const task = new UnqualifiedLambdaInvoke(this, 'RequestApproval', {
      lambdaFunction: this.stepsFunction,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({
        action: 'requestApproval' satisfies RunbookAction,
        state: JsonPath.entirePayload,
        taskToken: JsonPath.taskToken,
      }),
      taskTimeout: Timeout.at('$.approvalTimeoutSeconds'),
      resultPath: '$.approval',
    });
    this.retryTransient(task);
    task.addCatch(expired, { errors: ['States.Timeout'], resultPath: JsonPath.DISCARD });
    task.addCatch(this.markFailed, { errors: ['States.ALL'], resultPath: '$.error' });
    return task;
  }

  /**
   * A Choice on `field` (`$.next` by default): each value goes to its state; a missing or unexpected value
   * goes to MarkFailed (with `$.error` unset: the step's `next` tells what it was), never to a
   * States.Runtime failure that would leave the incident open. `routes`: the Task whose result this
   * Choice routes, for a Choice the contract does not name (see infra/runbook-routing.ts).
   */
  public outcome(
    name: string,
    branches: Readonly<Record<string, IChainable>>,
    options: { readonly field?: string; readonly routes?: string } = {},
  ): Choice {
    const field = options.field ?? '$.next';
    const choice = new Choice(this, name, {
      ...(options.routes === undefined ? {} : { comment: routingComment(options.routes, field) }),
    }).when(Condition.isNotPresent(field), this.markFailed);
    for (const [value, next] of Object.entries(branches))
      choice.when(Condition.stringEquals(field, value), next);
    return choice.otherwise(this.markFailed);
  }

  /**
   * The SSM wait loop: WaitForSsm (10 s) → GetSsm (ssm:getAutomationExecution of `$.ssm.executionId`,
   * status at `$.ssm.execution.AutomationExecutionStatus`) → SsmStatus: Success → Resume (Choice on
   * `$.resume` over `resumable`), still running → WaitForSsm, anything else → MarkFailed.
   *
   * @returns the loop's entry state (WaitForSsm)
   */
  public ssmLoop(resumable: Readonly<Record<string, IChainable>>): Wait {
    const waitForSsm = new Wait(this, 'WaitForSsm', {
      time: WaitTime.duration(Duration.seconds(SSM_POLL_SECONDS)),
    });
    const getSsm = new CallAwsService(this, 'GetSsm', {
      service: 'ssm',
      action: 'getAutomationExecution',
      parameters: { AutomationExecutionId: JsonPath.stringAt('$.ssm.executionId') },
      iamAction: 'ssm:GetAutomationExecution',
      // Execution ids are made by SSM when a step starts one, so the grant covers this account's and
      // region's automation executions (read only).
      iamResources: [
        Stack.of(this).formatArn({
          service: 'ssm',
          resource: 'automation-execution',
          resourceName: '*',
          arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
        }),
      ],
      // Only the status: the full response (step outputs, parameters) could outgrow the 256 KB state.
      resultSelector: {
        AutomationExecutionStatus: JsonPath.stringAt('$.AutomationExecution.AutomationExecutionStatus'),
      },
      resultPath: '$.ssm.execution',
    });
    getSsm.addRetry({
      errors: [...SSM_TRANSIENT_ERRORS],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 3,
    });
    getSsm.addCatch(this.markFailed, { errors: ['States.ALL'], resultPath: '$.error' });

    const status = '$.ssm.execution.AutomationExecutionStatus';
    const ssmStatus = new Choice(this, 'SsmStatus', { comment: routingComment('GetSsm', status) })
      .when(
        Condition.stringEquals(status, 'Success'),
        this.outcome('Resume', resumable, { field: '$.resume' }),
      )
      .when(
        Condition.or(...SSM_PENDING_STATUSES.map((value) => Condition.stringEquals(status, value))),
        waitForSsm,
      )
      .otherwise(this.markFailed);
    waitForSsm.next(getSsm);
    getSsm.next(ssmStatus);
    return waitForSsm;
  }

  private invoke(
    name: string,
    action: RunbookAction,
    options: { catchToMarkFailed: boolean },
  ): TaskStateBase {
    const task = new UnqualifiedLambdaInvoke(this, name, {
      lambdaFunction: this.stepsFunction,
      // The function's result IS the new state: Resource is the function ARN, no Payload envelope.
      payloadResponseOnly: true,
      payload: TaskInput.fromObject({ action, state: JsonPath.entirePayload }),
    });
    this.retryTransient(task);
    if (options.catchToMarkFailed) {
      task.addCatch(this.markFailed, { errors: ['States.ALL'], resultPath: '$.error' });
    }
    return task;
  }

  private retryTransient(task: TaskStateBase): void {
    task.addRetry({
      errors: [...TRANSIENT_ERRORS],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 3,
    });
    task.addRetry({
      errors: [...RUNTIME_ERRORS],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 2,
    });
  }
}
