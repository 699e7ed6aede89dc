import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { FilterCriteria, type IFunction, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke, type ScheduleTargetBaseProps } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { TABLE, TRANSITION_FILTER_PATTERN } from '../../functions/adapters/table-definition';
import { functionEntry } from '../paths';
import { createLogsKey, SentinelFunction, SQS_PRODUCER_KEY_ACTIONS } from './sentinel-function';
import { SqsAsyncFailureDestination, SqsFailureDestination } from './sqs-failure-destination';

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
   * finest rate); each invocation sweeps every `sweepIntervalSeconds` for one minute. An integer from 1
   * to 60.
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
   * Key for the functions' log groups; needs the CloudWatch Logs key policy of `createLogsKey()`.
   *
   * @default - one new key from `createLogsKey()`, shared by both functions
   */
  readonly logKey?: IKey;
  /**
   * Retention of the functions' log groups.
   *
   * @default RetentionDays.ONE_MONTH (SentinelFunction's default)
   */
  readonly logRetention?: RetentionDays;
}

/**
 * `LambdaInvoke` with a narrower grant: `func.grantInvoke()` allows `lambda:InvokeFunction` on the
 * function and on `<function>:*` (every version and alias; cdk-nag IAM5). The schedule invokes the
 * unqualified function ARN, so that is the only resource this grants.
 */
class UnqualifiedLambdaInvoke extends LambdaInvoke {
  private readonly target: IFunction;

  constructor(func: IFunction, props: ScheduleTargetBaseProps) {
    super(func, props);
    this.target = func;
  }

  protected override addTargetActionToRole(role: IRole): void {
    role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.target.functionArn] }),
    );
  }
}

/**
 * Detection beyond ingest (docs/DESIGN.md §1, §4): the sweep finds silent nodes and dead primaries, and
 * on-transition turns status changes into incidents and alerts.
 *
 * - sweep: an EventBridge Scheduler schedule invokes it once a minute (asynchronously); each invocation
 *   sweeps every `sweepIntervalSeconds` for a 60-second window, reading only overdue nodes from the
 *   `sweep` GSI, and returns (timeout 90 s). A missed sweep is not retried, the next one comes within a
 *   minute; it is recorded in the sweep dead-letter queue (the schedule's DLQ when Scheduler could not
 *   invoke the function, the function's on-failure destination when the invocation failed).
 * - on-transition: reads the table stream from the start (TRIM_HORIZON), filtered by
 *   `TRANSITION_FILTER_PATTERN` to writes that changed a node's status, in order (parallelization
 *   factor 1), with partial batch responses; a batch that keeps failing is bisected and retried 10 times
 *   within a day, then its stream coordinates go to the failure queue. It starts the incident's runbook
 *   (`states:StartExecution` on the two runbook state machines only).
 */
export class Detector extends Construct {
  /** Marks silent nodes and dead primaries (runs once a minute, sweeps every `sweepIntervalSeconds`). */
  public readonly sweepFunction: SentinelFunction;
  /** Opens and updates incidents on status changes and publishes alerts. */
  public readonly onTransitionFunction: SentinelFunction;
  /** The once-a-minute EventBridge Scheduler schedule that invokes {@link sweepFunction}. */
  public readonly schedule: Schedule;
  /** The role the schedule invokes the sweep with (lambda:InvokeFunction on that function only). */
  public readonly scheduleRole: Role;
  /** On-failure destination of on-transition's table-stream mapping (stream coordinates of failed batches). */
  public readonly failureQueue: Queue;
  /** Sweeps that did not happen: failed schedule deliveries and failed sweep invocations. For humans and alarms. */
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
    const tableOptions = props.tableKey === undefined ? {} : { key: props.tableKey };

    this.key =
      props.key ??
      new Key(this, 'Key', {
        enableKeyRotation: true,
        description: 'replica-sentinel: encrypts the detector queues',
      });
    const logKey = props.logKey ?? createLogsKey(this, 'LogKey');
    const common = {
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
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
        "This queue IS a dead-letter queue: the schedule target's DeadLetterConfig and the on-failure destination " +
        "of the sweep function's asynchronous invocations. SQS3 only recognises queues named in another queue's RedrivePolicy.",
    });

    // sweep
    this.sweepFunction = new SentinelFunction(this, 'Sweep', {
      ...common,
      entry: functionEntry('sweep'),
      serviceName: 'sweep',
      description:
        'replica-sentinel: marks silent nodes and dead primaries (sweeps overdue nodes every few seconds)',
      // One invocation covers a 60-second window and returns; the margin lets the last sweep finish.
      timeout: Duration.seconds(90),
      // It stays the whole minute, mostly waiting between sweeps, and holds only the overdue nodes and the
      // census counters: 256 MB halves its fixed cost against the default 512 (docs/SIZING.md).
      memorySize: SWEEP_MEMORY_MB,
      environment: { SWEEP_INTERVAL_SECONDS: String(sweepIntervalSeconds) },
    }).bindTable(props.table, 'RW', { ...tableOptions, indexes: [TABLE.sweepIndex.name] });
    // A failed sweep is not retried: the next invocation comes within a minute and sweeps the same
    // overdue nodes (every write is conditional), while a retry would only overlap with it.
    this.sweepFunction.fn.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
      onFailure: new SqsAsyncFailureDestination(this.sweepDeadLetterQueue),
    });

    const stack = Stack.of(this);
    this.scheduleRole = new Role(this, 'ScheduleRole', {
      description: 'replica-sentinel: EventBridge Scheduler invokes the sweep function',
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
      description: `replica-sentinel: invokes the sweep once a minute (it sweeps every ${sweepIntervalSeconds} s)`,
      schedule: ScheduleExpression.rate(Duration.minutes(1)),
      target: new UnqualifiedLambdaInvoke(this.sweepFunction.fn, {
        role: this.scheduleRole,
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
      .bindTopic(props.alertsTopic, props.alertsTopicKey === undefined ? {} : { key: props.alertsTopicKey })
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
