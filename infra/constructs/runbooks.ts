import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  type IChainable,
  IntegrationPattern,
  JsonPath,
  LogLevel,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  type TaskStateBase,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, LambdaInvoke, type LambdaInvokeProps } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { RunbookAction } from '../../functions/core/runbook';
import {
  FAILOVER_FLOW,
  type Flow,
  type FlowState,
  RECOVERY_FLOW,
  SWITCHOVER_FLOW,
} from '../../functions/core/runbook-flows';
import { functionEntry } from '../paths';
import { routingComment } from '../runbook-routing';
import { createLogsKey } from './logs-key';
import { SentinelFunction } from './sentinel-function';
import { importVpcPlacement, type NetworkIds } from './vpc-placement';

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

/** Longest stack name for which `<stack>-replica-recovery` is a valid state machine name (80 characters). */
export const MAX_STACK_NAME_LENGTH = 80 - '-primary-switchover'.length;

/** Seconds between two polls of an SSM Automation execution (the `WaitForSsm` state). */
export const SSM_POLL_SECONDS = 10;

/** Network placement of the runbook-steps function (built-in hooks reach private database servers). */
export type RunbookNetwork = NetworkIds;

/** Props of {@link Runbooks}. */
export interface RunbooksProps {
  /** The node-state table (StateStore.table): cluster, node and incident items. */
  readonly table: ITableV2;
  /**
   * The table's KMS key.
   *
   * @default - `table.encryptionKey`
   */
  readonly tableKey?: IKey;
  /** The alerts topic (Notifications.topic) the steps publish runbook progress to. */
  readonly alertsTopic: ITopic;
  /**
   * The alerts topic's KMS key.
   *
   * @default - `alertsTopic.masterKey`
   */
  readonly alertsTopicKey?: IKey;
  /**
   * ARNs of the Lambda functions that clusters use as hooks (`{ type: 'lambda' }` in their hooks):
   * runbook-steps may invoke exactly these.
   *
   * @default - none: no Lambda hook can be invoked
   */
  readonly hookFunctionArns?: readonly string[];
  /**
   * Names of the SSM Automation documents (of this account and region) that clusters use as hooks:
   * runbook-steps may start executions of exactly these, at their default version.
   *
   * @default - none: no SSM hook can be started
   */
  readonly hookSsmDocuments?: readonly string[];
  /**
   * ARNs of the IAM roles the SSM hooks run as (their `assumeRoleArn`, sent as `AutomationAssumeRole`):
   * runbook-steps may pass exactly these to SSM (`iam:PassRole`).
   *
   * @default - none: SSM hooks run with runbook-steps' own role
   */
  readonly hookSsmRoleArns?: readonly string[];
  /**
   * Complete ARN of the Secrets Manager secret with the database credentials the built-in hooks use
   * (`DATABASE_SECRET_ARN` of runbook-steps).
   *
   * @default - no secret: built-in hooks connect with the credentials in the node URLs only
   */
  readonly databaseSecretArn?: string;
  /**
   * The database secret's customer-managed KMS key, if it has one (kms:Decrypt through Secrets Manager).
   *
   * @default - none
   */
  readonly databaseSecretKeyArn?: string;
  /**
   * Run runbook-steps in these subnets so that built-in hooks reach private database servers.
   *
   * @default - not in a VPC
   */
  readonly network?: RunbookNetwork;
  /**
   * Key for the log groups (the function, the state machines); needs the CloudWatch Logs key
   * policy of `createLogsKey()`.
   *
   * @default - one new key from `createLogsKey()`
   */
  readonly logKey?: IKey;
  /**
   * Retention of the state machines' execution logs (incident evidence: Step Functions keeps a Standard
   * execution's history 90 days only).
   *
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays;
}

/**
 * `LambdaInvoke` with a narrower grant. LambdaInvoke grants `lambda:InvokeFunction` on the function and on
 * `<function>:*` (every version and alias; cdk-nag IAM5); the runbooks invoke the unqualified function, so
 * that is the only resource this grants. Its own retry of Lambda service errors is off: every runbook task
 * gets the contract's retry (functions/core/runbook.ts) instead.
 */
class StepsInvoke extends LambdaInvoke {
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

/**
 * Builds the states of one runbook in its own scope (state names are construct ids): every Task invokes
 * runbook-steps with `{ action, state }`, its result replaces the state, and the flow branches only on
 * fields the steps set (`$.next`, `$.mode`, `$.resume`). Same retry and catch on every Task.
 */
class RunbookFlow extends Construct {
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
    const task = new StepsInvoke(this, 'RequestApproval', {
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
    const task = new StepsInvoke(this, name, {
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

/**
 * Recovery (docs/DESIGN.md §5): the two runbooks as Standard state machines and the runbook-steps function
 * every Task invokes (a human approves or rejects a runbook waiting in RequestApproval through the operator
 * API, infra/constructs/operator-api.ts). The flows are exactly the contract in functions/core/runbook.ts; decisions are made in
 * the steps, the state machines only branch on what the steps return.
 *
 * - State machines `<stack>-primary-failover` and `<stack>-replica-recovery`: every Task retries transient
 *   errors (2 s, backoff 2, 3 retries) and sends any other error to MarkFailed (error at `$.error`) →
 *   Failed; Verify also retries NotYetPrimaryError (2 s, backoff 2, 5 retries). Execution logs (level ALL,
 *   with execution data) go to a KMS-encrypted log group; X-Ray tracing is on. Their role may invoke the
 *   runbook-steps function (unqualified ARN) and read SSM Automation executions, nothing else.
 * - runbook-steps: reads and writes the table (with transactions), publishes to the alerts topic, and
 *   invokes only the configured hooks: Lambda functions, SSM Automation documents, a database secret,
 *   optionally from inside a VPC.
 */
export class Runbooks extends Construct {
  /** The primary-failover runbook (`<stack>-primary-failover`). */
  public readonly failover: StateMachine;
  /** The replica-recovery runbook (`<stack>-replica-recovery`). */
  public readonly recovery: StateMachine;
  /** The primary-switchover runbook (`<stack>-primary-switchover`), started by an operator. */
  public readonly switchover: StateMachine;
  /** The function every runbook Task invokes with `{ action, state }`. */
  public readonly stepsFunction: SentinelFunction;
  /** Execution logs of both state machines. */
  public readonly executionLogs: LogGroup;

  constructor(scope: Construct, id: string, props: RunbooksProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if (stack.stackName.length > MAX_STACK_NAME_LENGTH) {
      throw new Error(
        `${this.node.path}: the state machine names <stack>-primary-failover, <stack>-replica-recovery and <stack>-primary-switchover must fit in ` +
          `80 characters, so the stack name may have at most ${MAX_STACK_NAME_LENGTH}; got ${stack.stackName.length}`,
      );
    }
    const logKey = props.logKey ?? createLogsKey(this, 'LogKey');
    const logRetention = props.logRetention ?? RetentionDays.ONE_YEAR;
    const tableOptions = props.tableKey === undefined ? {} : { key: props.tableKey };

    // runbook-steps
    this.stepsFunction = new SentinelFunction(this, 'Steps', {
      entry: functionEntry('runbook-steps'),
      serviceName: 'runbook-steps',
      description:
        'replica-sentinel: one step of a recovery runbook (re-verify, lock, fence, promote, verify...)',
      logKey,
      // A hook (built-in, Lambda or webhook) runs within the step; SSM Automation hooks are awaited by the
      // state machine instead.
      timeout: Duration.minutes(2),
      ...(props.network === undefined ? {} : { vpc: this.placement(props.network) }),
    })
      .bindTable(props.table, 'RW', { ...tableOptions, conditionChecks: true })
      .bindTopic(props.alertsTopic, props.alertsTopicKey === undefined ? {} : { key: props.alertsTopicKey })
      .bindInvokeFunctions(props.hookFunctionArns ?? [])
      .bindAutomationDocuments(props.hookSsmDocuments ?? [])
      .bindAutomationRoles(props.hookSsmRoleArns ?? []);
    if (props.databaseSecretArn !== undefined) {
      this.stepsFunction.bindSecret(
        'DATABASE_SECRET_ARN',
        Secret.fromSecretAttributes(this, 'DatabaseSecret', {
          secretCompleteArn: props.databaseSecretArn,
          ...(props.databaseSecretKeyArn === undefined
            ? {}
            : { encryptionKey: Key.fromKeyArn(this, 'DatabaseSecretKey', props.databaseSecretKeyArn) }),
        }),
        'the database secret',
      );
    }

    // state machines
    this.executionLogs = new LogGroup(this, 'ExecutionLogs', {
      encryptionKey: logKey,
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.failover = this.stateMachine(
      'PrimaryFailover',
      'primary-failover',
      this.definitionFrom('FailoverStates', FAILOVER_FLOW),
    );
    this.recovery = this.stateMachine(
      'ReplicaRecovery',
      'replica-recovery',
      this.definitionFrom('RecoveryStates', RECOVERY_FLOW),
    );
    this.switchover = this.stateMachine(
      'PrimarySwitchover',
      'primary-switchover',
      this.definitionFrom('SwitchoverStates', SWITCHOVER_FLOW),
    );
  }

  private placement(network: RunbookNetwork) {
    return importVpcPlacement(this, network, 'runbook-steps');
  }

  private stateMachine(id: string, runbook: string, definition: IChainable): StateMachine {
    const stateMachine = new StateMachine(this, id, {
      stateMachineName: `${Stack.of(this).stackName}-${runbook}`,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(definition),
      comment: `replica-sentinel ${runbook} runbook (flow: functions/core/runbook.ts)`,
      logs: { destination: this.executionLogs, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    Validations.of(stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only what Step Functions needs for logging and tracing uses "*": the CloudWatch Logs log-delivery actions ' +
        '(logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, ' +
        'DescribeResourcePolicies, DescribeLogGroups), which have no resource-level permissions, and the X-Ray actions ' +
        '(PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets), which have none either.',
    });
    Validations.of(stateMachine.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${Stack.of(this).region}:<AWS::AccountId>:automation-execution/*]`,
      reason:
        "ssm:GetAutomationExecution (read only) on this account and region's automation executions: the SSM wait loop " +
        'polls the execution a hook step started, whose id SSM generates at run time, so it cannot be named in advance.',
    });
    return stateMachine;
  }

  /**
   * The states of `flow` (functions/core/runbook-flows.ts), built in their own scope: a Task per task state
   * (a `…Outcome` Choice after it when it branches on `$.next`), the approval task, Waits, Choices, the SSM
   * wait loop and Done. Nothing here decides a route: the table does.
   */
  private definitionFrom(scopeId: string, flow: Flow<string>): IChainable {
    const runbookFlow = new RunbookFlow(this, scopeId, this.stepsFunction.fn);
    const states = new Map<string, IChainable>();
    const entries = Object.entries(flow.states) as [string, FlowState<string>][];
    const target = (name: string): IChainable => {
      const state = states.get(name);
      if (state === undefined) throw new Error(`${scopeId}: no state ${name} (yet) for a route`);
      return state;
    };
    // 1. States that need no other state to exist: Tasks, Waits, Done.
    for (const [name, spec] of entries) {
      if (spec.type === 'task') {
        const task = runbookFlow.task(name, spec.action);
        if (spec.retryNotYetPrimary)
          task.addRetry({
            errors: ['NotYetPrimaryError'],
            interval: Duration.seconds(2),
            backoffRate: 2,
            maxAttempts: 5,
          });
        states.set(name, task);
      } else if (spec.type === 'wait')
        states.set(name, new Wait(runbookFlow, name, { time: WaitTime.secondsPath(spec.secondsPath) }));
      else if (spec.type === 'succeed') states.set(name, runbookFlow.done);
    }
    // 2. Those that name other states when they are made: the approval task (its expiry), the SSM loop.
    for (const [name, spec] of entries) {
      if (spec.type === 'approval') states.set(name, runbookFlow.approvalTask(target(spec.expired)));
      else if (spec.type === 'ssm')
        states.set(
          name,
          runbookFlow.ssmLoop(Object.fromEntries(spec.resume.map((resume) => [resume, target(resume)]))),
        );
    }
    // 3. Choices on a field the steps set (their targets exist now).
    for (const [name, spec] of entries) {
      if (spec.type === 'choice')
        states.set(
          name,
          runbookFlow.outcome(
            name,
            Object.fromEntries(Object.entries(spec.on).map(([value, to]) => [value, target(to)])),
            { field: spec.field },
          ),
        );
    }
    // 4. The routes.
    for (const [name, spec] of entries) {
      const state = states.get(name);
      if (spec.type === 'task') {
        const task = state as TaskStateBase;
        if ('goto' in spec) task.next(target(spec.goto));
        else
          task.next(
            runbookFlow.outcome(
              `${name}Outcome`,
              Object.fromEntries(
                Object.entries(spec.on as Record<string, string>).map(([value, to]) => [value, target(to)]),
              ),
              { routes: name },
            ),
          );
      } else if (spec.type === 'approval') (state as TaskStateBase).next(target(spec.goto));
      else if (spec.type === 'wait') (state as Wait).next(target(spec.goto));
    }
    return target(flow.start);
  }
}
