/**
 * The `Runbooks` construct: the runbook-steps function and the three runbook state machines (primary
 * failover, replica recovery, primary switchover) with their execution logs.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import {
  DefinitionBody,
  type IChainable,
  LogLevel,
  StateMachine,
  StateMachineType,
} from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { FAILOVER_FLOW, RECOVERY_FLOW, SWITCHOVER_FLOW } from '../../functions/core/runbook-flows';
import { functionEntry } from '../paths';
import { createLogsKey } from './logs-key';
import { definitionFrom } from './runbooks/flow-definition';
import { SentinelFunction } from './sentinel-function';
import { acknowledgeLoggingWildcard } from './state-machine-logging-nag';
import { importVpcPlacement, type NetworkIds } from './vpc-placement';

/** Longest stack name for which `<stack>-replica-recovery` is a valid state machine name (80 characters). */
export const MAX_STACK_NAME_LENGTH = 80 - '-primary-switchover'.length;

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
    const tableOptions = { key: props.tableKey };

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
      .bindTopic(props.alertsTopic, { key: props.alertsTopicKey })
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
      definitionFrom(this, 'FailoverStates', this.stepsFunction.fn, FAILOVER_FLOW),
    );
    this.recovery = this.stateMachine(
      'ReplicaRecovery',
      'replica-recovery',
      definitionFrom(this, 'RecoveryStates', this.stepsFunction.fn, RECOVERY_FLOW),
    );
    this.switchover = this.stateMachine(
      'PrimarySwitchover',
      'primary-switchover',
      definitionFrom(this, 'SwitchoverStates', this.stepsFunction.fn, SWITCHOVER_FLOW),
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
    acknowledgeLoggingWildcard(stateMachine.role);
    Validations.of(stateMachine.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${Stack.of(this).region}:<AWS::AccountId>:automation-execution/*]`,
      reason:
        "ssm:GetAutomationExecution (read only) on this account and region's automation executions: the SSM wait loop " +
        'polls the execution a hook step started, whose id SSM generates at run time, so it cannot be named in advance.',
    });
    return stateMachine;
  }
}
