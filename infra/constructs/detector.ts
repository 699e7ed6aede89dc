import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { FilterCriteria, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  type IStateMachine,
  JsonPath,
  LogLevel,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { SqsSendMessage, type SqsSendMessageProps } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { TABLE, TRANSITION_FILTER_PATTERN } from '../../functions/adapters/table-definition';
import { SWEEP_WINDOW_SECONDS } from '../../functions/core/sweep-window';
import { functionEntry } from '../paths';
import { SQS_PRODUCER_KEY_ACTIONS } from './function-bindings/messaging';
import { createLogsKey } from './logs-key';
import { SentinelFunction } from './sentinel-function';
import { SqsFailureDestination } from './sqs-failure-destination';
import { acknowledgeLoggingWildcard } from './state-machine-logging-nag';
import { UnqualifiedLambdaInvoke } from './unqualified-lambda-invoke';

/** Default of {@link DetectorProps.sweepIntervalSeconds}; the sweep handler's own default too. */
export const DEFAULT_SWEEP_INTERVAL_SECONDS = 10;

/** Memory of the sweep function (MB). */
export const SWEEP_MEMORY_MB = 256;

/** Props of {@link Detector}. */
export interface DetectorProps {
  /** The node-state table (StateStore.table), with its stream on. */
  readonly table: ITableV2;
  /**
   * The table's KMS key.
   *
   * @default - `table.encryptionKey`
   */
  readonly tableKey?: IKey;
  /** The alerts topic (Notifications.topic) on-transition publishes to. */
  readonly alertsTopic: ITopic;
  /**
   * The runbooks on-transition starts (Runbooks.failover and Runbooks.recovery): it gets their ARNs as
   * `FAILOVER_STATE_MACHINE_ARN` and `RECOVERY_STATE_MACHINE_ARN` and may start executions of these two only.
   */
  readonly runbooks: { readonly failover: IStateMachine; readonly recovery: IStateMachine };
  /**
   * The alerts topic's KMS key.
   *
   * @default - `alertsTopic.masterKey`
   */
  readonly alertsTopicKey?: IKey;
  /**
   * Seconds between two silence sweeps. The schedule fires once a minute (EventBridge Scheduler's
   * finest rate) and starts the sweep state machine, which invokes the sweep function every
   * `sweepIntervalSeconds` for that minute. An integer from 1 to 60.
   *
   * @default 10
   */
  readonly sweepIntervalSeconds?: number;
  /**
   * Customer-managed key for the two queues.
   *
   * @default - a new key with rotation on
   */
  readonly key?: IKey;
  /**
   * Key for the functions' and the sweep state machine's log groups; needs the CloudWatch Logs key policy
   * of `createLogsKey()`.
   *
   * @default - one new key from `createLogsKey()`, shared by both functions
   */
  readonly logKey?: IKey;
  /**
   * Retention of the functions' and the sweep state machine's log groups.
   *
   * @default RetentionDays.ONE_MONTH (SentinelFunction's default)
   */
  readonly logRetention?: RetentionDays;
}

/**
 * `SqsSendMessage` granting the producer key actions by name (`kms:GenerateDataKey`, `kms:Decrypt`) instead of
 * `kms:GenerateDataKey*` (cdk-nag IAM5), as every other producer of the app's queues.
 */
class DeadLetterSend extends SqsSendMessage {
  protected override readonly taskPolicies: PolicyStatement[];

  constructor(scope: Construct, id: string, props: SqsSendMessageProps & { readonly key: IKey }) {
    super(scope, id, props);
    this.taskPolicies = [
      new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.queue.queueArn] }),
      new PolicyStatement({ actions: [...SQS_PRODUCER_KEY_ACTIONS], resources: [props.key.keyArn] }),
    ];
  }
}

/**
 * Detection beyond ingest (docs/DESIGN.md §1, §4): the sweep finds silent nodes and dead primaries, and
 * on-transition turns status changes into incidents and alerts.
 *
 * - sweep: an EventBridge Scheduler schedule starts the sweep state machine (Step Functions EXPRESS) once a
 *   minute with `{ windowStart: <scheduled time> }`. The execution invokes the sweep function (one sweep
 *   per invocation: functions/sweep/handler.ts) once per slot of the minute, every `sweepIntervalSeconds`
 *   (functions/core/sweep-window.ts), and waits between slots in a Wait state: no Lambda is held for the
 *   minute (docs/SIZING.md). A failed invocation is retried twice within the slot (1 s, then 2 s); a sweep
 *   that still fails is recorded in the sweep dead-letter queue (its input and error) and ends the
 *   execution as failed: the next minute's execution sweeps the same overdue nodes (every write is
 *   conditional). A failed schedule delivery (Scheduler could not start the execution within the minute)
 *   goes to the same queue. Execution logs: level ERROR (with execution data) to a KMS-encrypted log group;
 *   X-Ray tracing on; the execution times out after 4 minutes (Express allows 5).
 * - on-transition: reads the table stream from the start (TRIM_HORIZON), filtered by
 *   `TRANSITION_FILTER_PATTERN` to writes that changed a node's status, in order (parallelization
 *   factor 1), with partial batch responses; a batch that keeps failing is bisected and retried 10 times
 *   within a day, then its stream coordinates go to the failure queue. It starts the incident's runbook
 *   (`states:StartExecution` on the two runbook state machines only).
 */
export class Detector extends Construct {
  /** Marks silent nodes and dead primaries: one sweep per invocation, invoked by {@link sweepStateMachine}. */
  public readonly sweepFunction: SentinelFunction;
  /** The EXPRESS state machine that invokes the sweep every `sweepIntervalSeconds` for one minute. */
  public readonly sweepStateMachine: StateMachine;
  /** Its execution logs (level ERROR). */
  public readonly sweepLogs: LogGroup;
  /** Opens and updates incidents on status changes and publishes alerts. */
  public readonly onTransitionFunction: SentinelFunction;
  /** The once-a-minute EventBridge Scheduler schedule that starts {@link sweepStateMachine}. */
  public readonly schedule: Schedule;
  /** The role the schedule starts the sweep machine with (states:StartExecution on that machine only). */
  public readonly scheduleRole: Role;
  /** On-failure destination of on-transition's table-stream mapping (stream coordinates of failed batches). */
  public readonly failureQueue: Queue;
  /** Sweeps that did not happen: failed schedule deliveries and sweeps that failed after their retries. For humans and alarms. */
  public readonly sweepDeadLetterQueue: Queue;
  /** The key of both queues. */
  public readonly key: IKey;

  constructor(scope: Construct, id: string, props: DetectorProps) {
    super(scope, id);
    const sweepIntervalSeconds = props.sweepIntervalSeconds ?? DEFAULT_SWEEP_INTERVAL_SECONDS;
    if (!Number.isInteger(sweepIntervalSeconds) || sweepIntervalSeconds < 1 || sweepIntervalSeconds > 60) {
      throw new Error(
        `${this.node.path}: sweepIntervalSeconds must be an integer from 1 to 60, got ${sweepIntervalSeconds}`,
      );
    }
    if (props.table.tableStreamArn === undefined) {
      throw new Error(`${this.node.path}: the table needs its stream (NEW_AND_OLD_IMAGES) for on-transition`);
    }
    const tableOptions = { key: props.tableKey };

    this.key =
      props.key ??
      new Key(this, 'Key', {
        enableKeyRotation: true,
        description: 'replica-sentinel: encrypts the detector queues',
      });
    const logKey = props.logKey ?? createLogsKey(this, 'LogKey');
    const common = {
      logRetention: props.logRetention,
      logKey,
    };

    this.failureQueue = this.queue('Failures', {
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue IS the dead-letter destination: the on-failure destination (DestinationConfig.OnFailure) of ' +
        "on-transition's table-stream event source mapping. SQS3 only recognises queues named in another queue's RedrivePolicy.",
    });
    this.sweepDeadLetterQueue = this.queue('SweepDeadLetters', {
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue IS a dead-letter queue: the schedule target's DeadLetterConfig and where the sweep state machine " +
        "records a sweep that failed after its retries. SQS3 only recognises queues named in another queue's RedrivePolicy.",
    });

    // sweep
    this.sweepFunction = new SentinelFunction(this, 'Sweep', {
      ...common,
      entry: functionEntry('sweep'),
      serviceName: 'sweep',
      description: 'replica-sentinel: marks silent nodes and dead primaries (one sweep of the overdue nodes)',
      // One sweep per invocation: well under a second in AWS up to 100,000 nodes (docs/SIZING.md "Limit").
      timeout: Duration.seconds(60),
      // It holds only the candidates, the overdue nodes and the census counters (docs/SIZING.md).
      memorySize: SWEEP_MEMORY_MB,
      environment: { SWEEP_INTERVAL_SECONDS: String(sweepIntervalSeconds) },
    }).bindTable(props.table, 'RW', { ...tableOptions, indexes: [TABLE.sweepIndex.name] });
    this.sweepLogs = new LogGroup(this, 'SweepLogs', {
      encryptionKey: logKey,
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
    });
    this.sweepStateMachine = this.sweepMachine(this.sweepFunction, this.sweepDeadLetterQueue, this.sweepLogs);

    const stack = Stack.of(this);
    this.scheduleRole = new Role(this, 'ScheduleRole', {
      description: 'replica-sentinel: EventBridge Scheduler starts the sweep state machine',
      // Only schedules of this account's default group may assume it (confused-deputy protection).
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': stack.formatArn({
              service: 'scheduler',
              resource: 'schedule-group',
              resourceName: 'default',
              arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
            }),
          },
        },
      }),
    });
    // The target adds sqs:SendMessage on the DLQ; sending to a KMS queue also takes the producer actions.
    this.key.grant(this.scheduleRole, ...SQS_PRODUCER_KEY_ACTIONS);
    this.schedule = new Schedule(this, 'SweepSchedule', {
      description: `replica-sentinel: starts the sweep state machine once a minute (it sweeps every ${sweepIntervalSeconds} s)`,
      schedule: ScheduleExpression.rate(Duration.minutes(1)),
      // states:StartExecution on this machine only (grantStartExecution names its ARN).
      target: new StepFunctionsStartExecution(this.sweepStateMachine, {
        role: this.scheduleRole,
        // The window is anchored on the scheduled time: a late start sweeps at once and keeps the grid.
        input: ScheduleTargetInput.fromObject({ windowStart: ContextAttribute.scheduledTime }),
        deadLetterQueue: this.sweepDeadLetterQueue,
        // Delivery retries (throttling, service errors) only make sense within the minute.
        retryAttempts: 2,
        maxEventAge: Duration.minutes(1),
      }),
    });

    // on-transition
    this.onTransitionFunction = new SentinelFunction(this, 'OnTransition', {
      ...common,
      entry: functionEntry('on-transition'),
      serviceName: 'on-transition',
      description:
        'replica-sentinel: opens and updates incidents on node status changes and publishes alerts',
    })
      // GetItem, PutItem, UpdateItem; TransactWriteItems is authorized per item by PutItem (it uses no
      // ConditionCheck item, so no dynamodb:ConditionCheckItem).
      .bindTable(props.table, 'RW', tableOptions)
      .bindTopic(props.alertsTopic, { key: props.alertsTopicKey })
      .bindStateMachines({
        FAILOVER_STATE_MACHINE_ARN: props.runbooks.failover,
        RECOVERY_STATE_MACHINE_ARN: props.runbooks.recovery,
      });
    // DynamoEventSource also grants the stream read actions (ListStreams, DescribeStream, GetRecords,
    // GetShardIterator on this table's stream only) and kms:Decrypt / kms:DescribeKey on the table key.
    this.onTransitionFunction.fn.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: 10,
        maxRecordAge: Duration.days(1),
        // Records of one node must be handled in order.
        parallelizationFactor: 1,
        onFailure: new SqsFailureDestination(this.failureQueue),
        filters: [FilterCriteria.filter(TRANSITION_FILTER_PATTERN)],
      }),
    );
  }

  /**
   * Sweep → (done? end : wait until the next slot → Sweep). The function decides the slots
   * (functions/core/sweep-window.ts); the machine only routes and waits.
   */
  private sweepMachine(sweep: SentinelFunction, deadLetters: IQueue, logs: LogGroup): StateMachine {
    // UnqualifiedLambdaInvoke: its own retry of Lambda service errors (6 attempts from 2 s, doubling: longer
    // than the window) is off; the machine retries within the window instead.
    const invoke = new UnqualifiedLambdaInvoke(this, 'SweepOnce', {
      lambdaFunction: sweep.fn,
      comment:
        'One sweep; answers the next slot ({ windowStart, index, at, done }), which replaces the state',
      // The state is the payload as it is, and the function's answer the next state.
      payloadResponseOnly: true,
    });
    // Any failure is worth a retry within the slot: a sweep is idempotent (every write is conditional).
    invoke.addRetry({
      errors: ['States.ALL'],
      maxAttempts: 2,
      interval: Duration.seconds(1),
      backoffRate: 2,
    });
    const recordFailure = new DeadLetterSend(this, 'RecordFailedSweep', {
      queue: deadLetters,
      key: this.key,
      comment: 'The sweep failed after its retries: the rest of this minute is left to the next execution',
      messageBody: TaskInput.fromObject({
        reason: 'sweep failed after its retries; the next execution (within a minute) sweeps the same nodes',
        execution: JsonPath.stringAt('$$.Execution.Id'),
        // The slot that failed ({ windowStart, index }) and its error ({ Error, Cause }).
        sweep: JsonPath.objectAt('$'),
      }),
      resultPath: JsonPath.DISCARD,
    });
    invoke.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    recordFailure.next(
      new Fail(this, 'SweepFailed', {
        error: 'SweepFailed',
        cause: 'A sweep failed after its retries (recorded in the sweep dead-letter queue).',
      }),
    );
    const wait = new Wait(this, 'WaitForNextSlot', { time: WaitTime.timestampPath('$.at') });
    const definition = invoke.next(
      new Choice(this, 'WindowDone')
        .when(Condition.booleanEquals('$.done', true), new Succeed(this, 'Done'))
        .otherwise(wait.next(invoke)),
    );
    const machine = new StateMachine(this, 'SweepMachine', {
      stateMachineType: StateMachineType.EXPRESS,
      definitionBody: DefinitionBody.fromChainable(definition),
      comment: `replica-sentinel: sweeps every slot of a ${SWEEP_WINDOW_SECONDS}-second window (functions/core/sweep-window.ts)`,
      // Express bills the execution's duration (and 64 MB); the window ends within the minute.
      timeout: Duration.minutes(4),
      // ERROR: a failed execution with its input and error. ALL would log every state of every
      // execution (about 50 events a minute at 10 s); what the sweep did is in its own logs and metrics.
      logs: { destination: logs, level: LogLevel.ERROR, includeExecutionData: true },
      tracingEnabled: true,
    });
    Validations.of(machine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason:
        'The sweep machine runs every minute: it logs ERROR (a failed execution with its input and error), not ALL ' +
        '(every state of every execution, about 50 events a minute, for a fixed cost this machine exists to cut). ' +
        "Each sweep's own result is in the sweep function's logs and metrics (SweepRuns, OverdueNodes).",
    });
    acknowledgeLoggingWildcard(machine.role);
    return machine;
  }

  private queue(id: string, acknowledgement: { id: string; reason: string }): Queue {
    const queue = new Queue(this, id, {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
    });
    Validations.of(queue).acknowledge(acknowledgement);
    return queue;
  }
}
