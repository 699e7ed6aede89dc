import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Ingest } from './constructs/ingest';
import { StateStore } from './constructs/state-store';

/** Props of {@link ReplicaSentinelStack}. */
export type ReplicaSentinelStackProps = StackProps;

/**
 * replica-sentinel in one stack. It only wires the constructs (STYLE.md §9); each owns its concern.
 * The stateful StateStore (table and key retained, deletion protection on) is passed to the stateless
 * parts as a typed prop, so a function change never touches the table.
 */
export class ReplicaSentinelStack extends Stack {
  /** The node-state table and its key. */
  public readonly stateStore: StateStore;
  /** Streams, ingest functions and their queues. */
  public readonly ingest: Ingest;

  constructor(scope: Construct, id: string, props: ReplicaSentinelStackProps = {}) {
    super(scope, id, props);

    this.stateStore = new StateStore(this, 'StateStore');
    this.ingest = new Ingest(this, 'Ingest', { table: this.stateStore.table });

    new CfnOutput(this, 'TableName', {
      description: 'Node-state table (TABLE_NAME of the functions)',
      value: this.stateStore.table.tableName,
    });
    new CfnOutput(this, 'HeartbeatStreamArn', {
      description: 'Kinesis stream probes put heartbeats on (partition key = nodeId)',
      value: this.ingest.heartbeatStream.streamArn,
    });
    new CfnOutput(this, 'ChangeStreamArn', {
      description: 'Kinesis stream for change-stream positions (our envelope or Debezium)',
      value: this.ingest.changeStream.streamArn,
    });
    new CfnOutput(this, 'QuarantineQueueUrl', {
      description: 'Records that failed validation, with raw data and reason',
      value: this.ingest.quarantineQueue.queueUrl,
    });
    new CfnOutput(this, 'FailureQueueUrl', {
      description: 'On-failure destination of the Kinesis event source mappings',
      value: this.ingest.failureQueue.queueUrl,
    });
  }
}
