import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, type KinesisEventSourceProps } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { functionEntry } from '../paths';
import { createLogsKey } from './logs-key';
import { SentinelFunction } from './sentinel-function';
import { SqsFailureDestination } from './sqs-failure-destination';

/** Props of {@link Ingest}. */
export interface IngestProps {
  /** The node-state table (StateStore.table); both functions read and write it. */
  readonly table: ITableV2;
  /**
   * The table's KMS key.
   *
   * @default - `table.encryptionKey`
   */
  readonly tableKey?: IKey;
  /**
   * Customer-managed key for the two streams and the two queues (they all hold raw ingest records).
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
  /**
   * How long the streams keep records: the window in which a failed batch can be replayed from the
   * shard position recorded in the failure queue.
   *
   * @default Duration.hours(24)
   */
  readonly streamRetention?: Duration;
  /**
   * Deploy the `change-events` stream and the ingest-change-stream function (with their alarms): only
   * when change streams (our envelope or Debezium) send source positions.
   *
   * @default false
   */
  readonly changeStreams?: boolean;
  /**
   * Capacity of the streams: `{ shards: N }` provisioned shards (each takes 1,000 heartbeats/s, $0.015 an
   * hour), or `'on-demand'` (Kinesis adds shards by itself; $0.04 an hour per stream plus $0.12 per GB).
   * docs/SIZING.md states the crossover.
   *
   * @default { shards: 1 }
   */
  readonly streamCapacity?: StreamCapacity;
}

/** Provisioned shards, or on-demand (see {@link IngestProps.streamCapacity}). */
export type StreamCapacity = { readonly shards: number } | 'on-demand';

/**
 * Ingest (docs/DESIGN.md §1): probes put heartbeats on the `heartbeats` Kinesis stream and change-stream
 * positions on `change-events`; one function per stream folds them into the node-state table.
 *
 * - Streams: one provisioned shard by default (or on-demand, `streamCapacity`), KMS with a customer-managed
 *   key. Partition key = nodeId keeps a node's records in order, so each shard is read with
 *   parallelization factor 1. The change-events stream and its function exist only with `changeStreams`.
 * - Records that fail validation are not retried: the handler sends the raw data and the reason to the
 *   quarantine queue and reports success for them.
 * - Batches that keep failing are bisected, retried up to 5 times within an hour, and then their shard
 *   positions go to the failure queue (the event source mappings' on-failure destination); the rest of the
 *   shard goes on (partial batch responses, docs/DESIGN.md §8).
 */
export class Ingest extends Construct {
  /** Heartbeats (wire format docs/DESIGN.md §3a), one JSON object per record, partition key nodeId. */
  public readonly heartbeatStream: Stream;
  /** Change events (source heads) from CDC / Debezium; only with `changeStreams`. */
  public readonly changeStream?: Stream;
  /** Records that failed validation, with the raw data and the reason. Terminal: for humans. */
  public readonly quarantineQueue: Queue;
  /** On-failure destination of both event source mappings (shard and sequence range of a failed batch). */
  public readonly failureQueue: Queue;
  /** Folds heartbeats into node items. */
  public readonly heartbeatFunction: SentinelFunction;
  /** Folds change events into source-head items; only with `changeStreams`. */
  public readonly changeStreamFunction?: SentinelFunction;
  /** The key of the streams and queues. */
  public readonly key: IKey;

  constructor(scope: Construct, id: string, props: IngestProps) {
    super(scope, id);

    this.key =
      props.key ??
      new Key(this, 'Key', {
        enableKeyRotation: true,
        description: 'replica-sentinel: encrypts ingest streams and queues',
      });
    const logKey = props.logKey ?? createLogsKey(this, 'LogKey');

    const capacity = props.streamCapacity ?? { shards: 1 };
    if (capacity !== 'on-demand' && !(Number.isInteger(capacity.shards) && capacity.shards >= 1))
      throw new Error(`Ingest: streamCapacity.shards must be a positive integer, got ${capacity.shards}`);
    // No fixed names: CloudFormation generates them, so a create that rolled back (or a stack deleted and
    // created again) never fails on a stream left behind with the same name. The streams hold only records
    // in transit (a day at most), so they are deleted with the stack.
    const stream = (streamId: string): Stream => {
      const s = new Stream(this, streamId, {
        removalPolicy: RemovalPolicy.DESTROY,
        ...(capacity === 'on-demand'
          ? { streamMode: StreamMode.ON_DEMAND }
          : { streamMode: StreamMode.PROVISIONED, shardCount: capacity.shards }),
        encryption: StreamEncryption.KMS,
        encryptionKey: this.key,
        retentionPeriod: props.streamRetention ?? Duration.hours(24),
      });
      Validations.of(s).acknowledge({
        id: 'AwsSolutions-KDS3',
        reason:
          'A customer-managed key on purpose: heartbeats describe the topology and replication positions of production ' +
          'databases, so reading the stream also takes kms:Decrypt on this key (granted only to the ingest functions), ' +
          'and every use is in CloudTrail. The cost KDS3 warns about stays small: Kinesis reuses a data key per ' +
          'producer and consumer for up to 5 minutes.',
      });
      return s;
    };
    this.heartbeatStream = stream('Heartbeats');
    if (props.changeStreams === true) this.changeStream = stream('ChangeEvents');

    this.quarantineQueue = new Queue(this, 'Quarantine', {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
    });
    Validations.of(this.quarantineQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'The quarantine queue is itself a dead-letter sink: the ingest functions put records that failed validation ' +
        'here (raw data and reason) for a human to inspect; nothing consumes it automatically, so a DLQ behind it ' +
        'would never receive anything. Messages are kept 14 days, the SQS maximum.',
    });

    this.failureQueue = new Queue(this, 'Failures', {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
    });
    Validations.of(this.failureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue IS the dead-letter destination: the on-failure destination (DestinationConfig.OnFailure) of both ' +
        "Kinesis event source mappings. SQS3 only recognises queues named in another queue's RedrivePolicy.",
    });

    const common = {
      logRetention: props.logRetention,
      logKey,
    };
    this.heartbeatFunction = new SentinelFunction(this, 'Heartbeat', {
      ...common,
      entry: functionEntry('ingest-heartbeat'),
      serviceName: 'ingest-heartbeat',
      description: 'replica-sentinel: folds heartbeats from Kinesis into the node-state table',
    })
      .bindTable(props.table, 'RW', { key: props.tableKey })
      .bindQuarantine(this.quarantineQueue);

    if (this.changeStream !== undefined) {
      this.changeStreamFunction = new SentinelFunction(this, 'ChangeStream', {
        ...common,
        entry: functionEntry('ingest-change-stream'),
        serviceName: 'ingest-change-stream',
        description: 'replica-sentinel: folds change-stream positions from Kinesis into the node-state table',
      })
        .bindTable(props.table, 'RW', { key: props.tableKey })
        .bindQuarantine(this.quarantineQueue);
    }

    const eventSourceProps: KinesisEventSourceProps = {
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: 500,
      maxBatchingWindow: Duration.seconds(1),
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: 5,
      maxRecordAge: Duration.hours(1),
      parallelizationFactor: 1,
      onFailure: new SqsFailureDestination(this.failureQueue),
    };
    this.heartbeatFunction.fn.addEventSource(new KinesisEventSource(this.heartbeatStream, eventSourceProps));
    if (this.changeStream !== undefined)
      this.changeStreamFunction?.fn.addEventSource(
        new KinesisEventSource(this.changeStream, eventSourceProps),
      );
  }
}
